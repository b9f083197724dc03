#pragma once

#include <autointerp/explain/highlight.hpp>
#include <autointerp/explain/statistical.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <string_view>
#include <utility>

namespace autointerp::explain {

namespace detail {

inline std::vector<token_share> top_shares(std::map<std::string, std::size_t> const& counts, std::size_t total,
                                           std::size_t keep) {
  std::vector<std::pair<std::string, std::size_t>> v(counts.begin(), counts.end());
  // Ties broken by text so the output never depends on anything but the data.
  std::sort(v.begin(), v.end(), [](auto const& a, auto const& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<token_share> out;
  for (std::size_t i = 0; i < v.size() && i < keep && total > 0; ++i)
    out.push_back({v[i].first, static_cast<double>(v[i].second) / static_cast<double>(total)});
  return out;
}

inline bool all_of_text(std::string_view s, int (*pred)(int)) {
  bool any = false;
  for (char c : s) {
    if (c == ' ') continue;
    if (!pred(static_cast<unsigned char>(c))) return false;
    any = true;
  }
  return any;
}

inline bool is_punct_text(std::string_view s) { return all_of_text(s, [](int c) { return std::ispunct(c); }); }
inline bool is_digit_text(std::string_view s) { return all_of_text(s, [](int c) { return std::isdigit(c); }); }
inline bool is_capitalized(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return !s.empty() && std::isupper(static_cast<unsigned char>(s.front()));
}

// Whether position `i` sits inside an open quote or bracket opened earlier in the window.
inline bool inside_quotes_or_brackets(records::activating_example const& ex, std::size_t i) {
  int quotes = 0, brackets = 0;
  for (std::size_t k = 0; k < i; ++k) {
    for (char c : token_text(ex.tokens, ex.str_tokens, k)) {
      if (c == '"') quotes ^= 1;
      if (c == '(' || c == '[' || c == '{') ++brackets;
      if ((c == ')' || c == ']' || c == '}') && brackets > 0) --brackets;
    }
  }
  return quotes == 1 || brackets > 0;
}

inline std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '"') out += "\\\"";
    else out += c;
  }
  return out + "\"";
}

inline std::string percent(double share) {
  return std::to_string(static_cast<int>(std::lround(share * 100))) + "%";
}

}  // namespace detail

AUTOINTERP_DECL token_statistics compute_token_statistics(records::latent_record const& record, float threshold) {
  token_statistics st;
  std::map<std::string, std::size_t> active, before, after, classes;
  std::size_t runs = 0;
  std::vector<double> positions;
  for (auto const& ex : record.train) {
    std::size_t const m = std::min(ex.tokens.size(), ex.activations.size());
    if (m == 0) continue;
    auto mask = active_mask(std::span<float const>(ex.activations.data(), m), threshold);
    ++st.examples;
    std::size_t best = 0;
    for (std::size_t i = 1; i < m; ++i)
      if (ex.activations[i] > ex.activations[best]) best = i;
    if (m > 1) positions.push_back(static_cast<double>(best) / static_cast<double>(m - 1));
    for (std::size_t i = 0; i < m; ++i) {
      if (!mask[i]) continue;
      auto text = token_text(ex.tokens, ex.str_tokens, i);
      ++active[text];
      ++st.active_tokens;
      if (detail::is_digit_text(text)) ++classes["digits"];
      else if (detail::is_punct_text(text)) ++classes["punctuation"];
      if (detail::is_capitalized(text)) ++classes["capitalized words"];
      bool const line_start = i == 0 ? false : token_text(ex.tokens, ex.str_tokens, i - 1).find('\n') != std::string::npos;
      if (line_start || text.find('\n') != std::string::npos) ++classes["line starts"];
      if (detail::inside_quotes_or_brackets(ex, i)) ++classes["text inside quotes or brackets"];
      bool const run_start = i == 0 || !mask[i - 1];
      bool const run_end = i + 1 >= m || !mask[i + 1];
      if (run_start) {
        ++runs;
        if (i > 0) ++before[token_text(ex.tokens, ex.str_tokens, i - 1)];
      }
      if (run_end && i + 1 < ex.tokens.size()) ++after[token_text(ex.tokens, ex.str_tokens, i + 1)];
    }
  }
  st.dominant = detail::top_shares(active, st.active_tokens, 3);
  st.before = detail::top_shares(before, runs, 1);
  st.after = detail::top_shares(after, runs, 1);
  for (auto const& c : detail::top_shares(classes, st.active_tokens, classes.size()))
    if (c.share >= 0.6) st.classes.push_back(c);
  if (!positions.empty()) {
    std::sort(positions.begin(), positions.end());
    st.median_position = positions[positions.size() / 2];
  }
  return st;
}

AUTOINTERP_DECL std::string statistical_explanation(records::latent_record const& record, float threshold) {
  auto st = compute_token_statistics(record, threshold);
  std::string s = "Statistical baseline (no LLM): ";
  if (st.active_tokens == 0) return s + "no active tokens in the examples, nothing to describe.";
  s += "active on ";
  for (std::size_t i = 0; i < st.dominant.size(); ++i) {
    if (i) s += ", ";
    s += detail::quoted(st.dominant[i].text) + " (" + detail::percent(st.dominant[i].share) + ")";
  }
  s += " of " + std::to_string(st.active_tokens) + " active tokens in " + std::to_string(st.examples) + " examples";
  for (auto const& c : st.classes) s += "; " + detail::percent(c.share) + " are " + c.text;
  if (!st.before.empty() && st.before[0].share >= 0.3)
    s += "; often after " + detail::quoted(st.before[0].text) + " (" + detail::percent(st.before[0].share) + ")";
  if (!st.after.empty() && st.after[0].share >= 0.3)
    s += "; often before " + detail::quoted(st.after[0].text) + " (" + detail::percent(st.after[0].share) + ")";
  if (st.examples >= 3) {
    int const pct = static_cast<int>(std::lround(st.median_position * 100));
    s += "; strongest token at " + std::to_string(pct) + "% of the window (median)";
  }
  s += ".";
  return s;
}

}  // namespace autointerp::explain
