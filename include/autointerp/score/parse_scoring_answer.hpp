#pragma once
// Reading a scorer's answer: the list of 0/1 predictions and, with logprobs, a probability for each.

#include <autointerp/llm/chat_response.hpp>
#include <autointerp/score/score_sample.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace autointerp::score {

/// What `parse_scoring_answer` found.
struct scoring_answer {
  bool parsed = false;                ///< false: no acceptable list; the caller asks again, then stores nulls
  std::vector<bool> predictions;      ///< one per example when parsed; empty otherwise
  std::vector<std::optional<double>> probabilities;  ///< one per prediction; nullopt where unknown
};

namespace detail {

inline bool answer_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
inline bool word_char(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.';
}

// A flat list of 0/1/booleans starting at text[open] == '[': its values, the offset of each value
// and the position just past ']'; nullopt when the text there is not such a list.
struct found_list {
  std::vector<bool> values;
  std::vector<std::size_t> offsets;
  std::size_t begin = 0, end = 0;
};

inline std::optional<found_list> list_at(std::string_view text, std::size_t open) {
  found_list l;
  l.begin = open;
  std::size_t p = open + 1;
  auto skip = [&] {
    while (p < text.size() && answer_space(text[p])) ++p;
  };
  skip();
  if (p < text.size() && text[p] == ']') {
    l.end = p + 1;
    return l;
  }
  for (;;) {
    skip();
    if (p >= text.size()) return std::nullopt;
    std::size_t const at = p;
    bool value = false;
    if (text[p] == '0' || text[p] == '1') {
      value = text[p] == '1';
      ++p;
    } else {
      std::size_t len = 0;
      for (std::string_view w : {"true", "True", "false", "False"})
        if (text.substr(p, w.size()) == w) {
          value = w[0] == 't' || w[0] == 'T';
          len = w.size();
          break;
        }
      if (len == 0) return std::nullopt;
      p += len;
    }
    if (p < text.size() && word_char(text[p])) return std::nullopt;  // 10, 1.0, trueish
    l.values.push_back(value);
    l.offsets.push_back(at);
    skip();
    if (p >= text.size()) return std::nullopt;
    if (text[p] == ']') {
      l.end = p + 1;
      return l;
    }
    if (text[p] != ',') return std::nullopt;
    ++p;
  }
}

// The last list of exactly n values. Linear: an attempt from one '[' stops at the next '['.
inline std::optional<found_list> last_list(std::string_view text, std::size_t n) {
  for (std::size_t i = text.size(); i-- > 0;) {
    if (text[i] != '[') continue;
    auto l = list_at(text, i);
    if (l && l->values.size() == n) return l;
  }
  return std::nullopt;
}

inline std::string_view digit_core(std::string_view t) noexcept {
  auto strip = [](char c) { return answer_space(c) || c == '[' || c == ']' || c == ',' || c == '"' || c == '\''; };
  while (!t.empty() && strip(t.front())) t.remove_prefix(1);
  while (!t.empty() && strip(t.back())) t.remove_suffix(1);
  return t;
}

/// Where a value of an answer sits among the answer's logprob tokens.
struct token_position {
  std::size_t token = 0;   ///< index into the logprobs
  std::size_t offset = 0;  ///< the value's first byte within that token's text
};

// For each offset into `text` (values of the list text[begin, end)), the logprob token covering
// it. The tokens are aligned with `text` by their concatenation, or, when that differs from `text`,
// by finding the list's text in it; nullopt where that fails.
inline std::vector<std::optional<token_position>> tokens_at(std::string_view text, std::size_t begin, std::size_t end,
                                                            std::span<std::size_t const> offsets,
                                                            std::span<llm::token_logprob const> logprobs) {
  std::vector<std::optional<token_position>> out(offsets.size());
  if (logprobs.empty()) return out;
  std::string joined;
  std::vector<std::size_t> starts;
  starts.reserve(logprobs.size());
  for (auto const& t : logprobs) {
    starts.push_back(joined.size());
    joined += t.token;
  }
  std::ptrdiff_t shift = 0;  // offset in `joined` minus offset in `text`
  if (joined != text) {
    auto const at = joined.rfind(text.substr(begin, end - begin));
    if (at == std::string::npos) return out;
    shift = static_cast<std::ptrdiff_t>(at) - static_cast<std::ptrdiff_t>(begin);
  }
  for (std::size_t k = 0; k < offsets.size(); ++k) {
    auto const o = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(offsets[k]) + shift);
    // The token whose text covers offset o: the last one starting at or before it.
    auto it = std::upper_bound(starts.begin(), starts.end(), o);
    if (it == starts.begin()) continue;
    auto const j = static_cast<std::size_t>(it - starts.begin()) - 1;
    if (o >= starts[j] + logprobs[j].token.size()) continue;  // offset inside an empty token run
    out[k] = token_position{j, o - starts[j]};
  }
  return out;
}

}  // namespace detail

/// The predictions in `text`: the LAST JSON-style list in it with exactly `n` entries, each `0`,
/// `1`, `true` or `false` (also Python's `True`/`False`, since models trained on delphi's prompts
/// write Python lists), with any whitespace between them. Prose, markdown and code fences around it
/// are ignored. Lists of another length, nested lists, strings ("1"), other numbers (`2`, `1.0`)
/// and trailing commas do not count. Nullopt when no list qualifies. Linear in the text's size;
/// never throws on any input. Pure.
inline std::optional<std::vector<bool>> parse_predictions(std::string_view text, std::size_t n) {
  auto l = detail::last_list(text, n);
  if (!l) return std::nullopt;
  return std::move(l->values);
}

/// P("1") / (P("0") + P("1")) at one answer position, from its top alternatives (the chosen token
/// itself counts when the provider did not list it among them). A token counts as "1" or "0" once
/// spaces, brackets, commas and quotes around it are removed (" 1", "[1", "1,"; also true/false);
/// alternatives of the same kind add up. Nullopt when neither appears or a value is not finite.
inline std::optional<double> binary_probability(llm::token_logprob const& t) {
  double p0 = 0, p1 = 0;
  auto add = [&](std::string_view token, double logprob) {
    auto core = detail::digit_core(token);
    if (core == "1" || core == "true" || core == "True") p1 += std::exp(logprob);
    else if (core == "0" || core == "false" || core == "False") p0 += std::exp(logprob);
  };
  bool listed = false;
  for (auto const& alt : t.top) {
    add(alt.token, alt.logprob);
    if (alt.token == t.token) listed = true;
  }
  if (!listed) add(t.token, t.logprob);
  double const sum = p0 + p1;
  if (!(sum > 0) || !std::isfinite(sum) || !std::isfinite(p1)) return std::nullopt;
  return p1 / sum;
}

/// The answer to a prompt of `n` examples: the predictions of `parse_predictions`, and, when the
/// response carries per-token `logprobs`, for each prediction the `binary_probability` of the token
/// holding its digit. The tokens are aligned with `text` by their concatenation (or, when that
/// differs from `text`, by finding the chosen list in it); a position that cannot be aligned gets
/// nullopt, as does every one without logprobs. Pure; never throws.
inline scoring_answer parse_scoring_answer(std::string_view text, std::size_t n,
                                           std::span<llm::token_logprob const> logprobs = {}) {
  scoring_answer a;
  auto l = detail::last_list(text, n);
  if (!l) return a;
  a.parsed = true;
  a.predictions = l->values;
  a.probabilities.assign(n, std::nullopt);
  if (logprobs.empty()) return a;

  auto const at = detail::tokens_at(text, l->begin, l->end, l->offsets, logprobs);
  for (std::size_t k = 0; k < n; ++k)
    if (at[k]) a.probabilities[k] = binary_probability(logprobs[at[k]->token]);
  return a;
}

/// Writes `answer` into `batch`: each sample's prediction and probability when the answer parsed
/// with one prediction per sample; otherwise every prediction and probability of the batch becomes
/// null (the batch failed). Thread-safe for distinct batches.
inline void apply_answer(std::span<score_sample> batch, scoring_answer const& answer) {
  bool const ok = answer.parsed && answer.predictions.size() == batch.size();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i].prediction = ok ? std::optional<bool>(answer.predictions[i]) : std::nullopt;
    batch[i].probability = ok && i < answer.probabilities.size() ? answer.probabilities[i] : std::nullopt;
  }
}

}  // namespace autointerp::score
