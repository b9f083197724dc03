#pragma once
// A scorer that needs no LLM: it predicts from the strings an explanation quotes.

#include <autointerp/score/fuzz_highlight.hpp>
#include <autointerp/score/parse_scoring_answer.hpp>
#include <autointerp/score/score_sample.hpp>
#include <autointerp/score/scoring_options.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace autointerp::score {

namespace detail {

inline bool ascii_alnum(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// A byte of a multi-byte UTF-8 character counts as a letter, so "café’s" keeps its apostrophe.
inline bool wordish(char c) noexcept { return ascii_alnum(c) || static_cast<unsigned char>(c) >= 0x80; }

constexpr std::string_view left_double = "\xE2\x80\x9C", right_double = "\xE2\x80\x9D";
constexpr std::string_view left_single = "\xE2\x80\x98", right_single = "\xE2\x80\x99";

// A straight double-quoted string from s[at] == '"', with \" \\ \n \t unescaped (the statistical
// explainer escapes that way). Sets `next` past the closing quote; nullopt when it never closes.
inline std::optional<std::string> double_quoted(std::string_view s, std::size_t at, std::size_t& next) {
  std::string out;
  for (std::size_t i = at + 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      char e = s[i + 1];
      if (e == '"' || e == '\\') out += e, ++i;
      else if (e == 'n') out += '\n', ++i;
      else if (e == 't') out += '\t', ++i;
      else out += c;
      continue;
    }
    if (c == '"') {
      next = i + 1;
      return out;
    }
    out += c;
  }
  return std::nullopt;
}

// Text up to `close` from `from`; for single quotes the closing mark must not be followed by a
// letter or digit, so apostrophes inside words ("it's") do not close it.
inline std::optional<std::string> up_to(std::string_view s, std::size_t from, std::string_view close, bool word_boundary,
                                        std::size_t& next) {
  for (std::size_t i = s.find(close, from); i != std::string_view::npos; i = s.find(close, i + 1)) {
    std::size_t const after = i + close.size();
    if (word_boundary && after < s.size() && wordish(s[after])) continue;
    if (word_boundary && s.substr(from, i - from).find('\n') != std::string_view::npos) return std::nullopt;
    next = after;
    return std::string(s.substr(from, i - from));
  }
  return std::nullopt;
}

inline std::string_view keyword_key(std::string_view k) noexcept {
  auto t = k;
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t' || t.front() == '\n' || t.front() == '\r')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\n' || t.back() == '\r')) t.remove_suffix(1);
  return t.empty() ? k : t;  // a whitespace token ("\n") is its own key
}

}  // namespace detail

/// The strings `explanation` quotes, in order of appearance, without duplicates or empty ones:
/// text between straight double quotes (with `\"`, `\\`, `\n`, `\t` unescaped), curly double quotes
/// “…”, backticks, and single quotes '…' or ‘…’. A single quote opens only at the start or after a
/// character that is not a letter or digit, and closes only before one, so apostrophes ("the
/// feature's") are not taken for quotes; single-quoted text never spans lines. A quote that never
/// closes is ignored. Pure.
inline std::vector<std::string> quoted_strings(std::string_view explanation) {
  using namespace detail;
  std::vector<std::string> out;
  auto keep = [&](std::optional<std::string> s) {
    if (s && !s->empty() && std::find(out.begin(), out.end(), *s) == out.end()) out.push_back(std::move(*s));
  };
  auto const& s = explanation;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t next = i + 1;
    bool const opens_single = i == 0 || !wordish(s[i - 1]);
    if (s[i] == '"') {
      auto q = double_quoted(s, i, next);
      if (!q) next = i + 1;
      keep(std::move(q));
    } else if (s[i] == '`') {
      auto q = up_to(s, i + 1, "`", false, next);
      if (!q) next = i + 1;
      keep(std::move(q));
    } else if (s.substr(i, 3) == left_double) {
      auto q = up_to(s, i + 3, right_double, false, next);
      if (!q) next = i + 3;
      keep(std::move(q));
    } else if (s[i] == '\'' && opens_single) {
      auto q = up_to(s, i + 1, "'", true, next);
      if (!q) next = i + 1;
      keep(std::move(q));
    } else if (s.substr(i, 3) == left_single && opens_single) {
      auto q = up_to(s, i + 3, right_single, true, next);
      if (!q) next = i + 3;
      keep(std::move(q));
    }
    i = next;
  }
  return out;
}

/// The keyword baseline's answer for `batch`, always parsed, probabilities null. Keywords are
/// compared with surrounding whitespace removed (unless that leaves nothing), case-sensitively:
/// - detection predicts 1 when the sample's text contains one of `keywords`;
/// - fuzz predicts 1 when the sample has at least one highlighted span and every span (the text of
///   a run of consecutive highlighted tokens), trimmed the same way, equals one of `keywords`.
/// With no keywords every prediction is 0. Pure.
inline scoring_answer keyword_answer(scorer_kind kind, std::span<std::string const> keywords,
                                     std::span<score_sample const> batch) {
  std::vector<std::string_view> keys;
  for (auto const& k : keywords) keys.push_back(detail::keyword_key(k));
  scoring_answer a;
  a.parsed = true;
  a.probabilities.assign(batch.size(), std::nullopt);
  for (auto const& s : batch) {
    bool yes = false;
    if (kind == scorer_kind::detection) {
      auto const text = s.text();
      yes = std::any_of(keys.begin(), keys.end(), [&](std::string_view k) { return text.find(k) != std::string::npos; });
    } else {
      auto const spans = highlighted_spans(s.str_tokens, s.highlighted);
      yes = !spans.empty() && std::all_of(spans.begin(), spans.end(), [&](std::string const& span) {
              return std::find(keys.begin(), keys.end(), detail::keyword_key(span)) != keys.end();
            });
    }
    a.predictions.push_back(yes);
  }
  return a;
}

/// `keyword_answer` with the keywords `quoted_strings(explanation)`.
inline scoring_answer keyword_answer(scorer_kind kind, std::string_view explanation, std::span<score_sample const> batch) {
  auto const keywords = quoted_strings(explanation);
  return keyword_answer(kind, std::span<std::string const>(keywords), batch);
}

}  // namespace autointerp::score
