#pragma once
// The simulation scorer's protocol (OpenAI's method): given only the explanation, the model predicts
// how strongly the feature fires on each token of one example, 0..10.
//
// Layout, stable text first so prompt-prefix caches hit: the system prompt, one worked example as
// an earlier user/assistant turn (the same for every latent), then the user message
//
//   Explanation: <explanation>
//
//   Tokens: ["The", " cat", " sat"]
//
// with the example's tokens as a JSON array of strings (escaped to ASCII). The answer is a JSON
// array of integers 0..10, one per token, read by `parse_simulation_answer`.

#include <autointerp/llm/chat_request.hpp>
#include <autointerp/llm/chat_response.hpp>
#include <autointerp/records/record_json.hpp>
#include <autointerp/score/parse_scoring_answer.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace autointerp::score {

/// Options of the simulation prompt.
struct simulation_prompt_options {
  /// Ask for log probabilities (`logprobs: true`, `top_logprobs` below) and predict the expected
  /// level at each value instead of the written one.
  bool logprobs = false;
  std::uint32_t top_logprobs = 10;  ///< alternatives per position (OpenAI allows up to 20)
  bool worked_example = true;       ///< show our worked example as an earlier turn
};

/// The system prompt of the simulation scorer.
inline std::string simulation_system_prompt() {
  return "You are predicting the behaviour of one feature inside a language model. The feature reacts to "
         "certain tokens in certain contexts; an explanation says what it reacts to. You will get the "
         "explanation and the tokens of one text, as a JSON array of strings in reading order. For every token, "
         "predict how strongly the feature is active on it, as an integer from 0 (not active) to 10 (as "
         "active as it ever gets). Most tokens of most texts are 0.\n\nAnswer with a JSON array holding exactly "
         "one integer per token, in the same order, for instance [0,0,7,0], and nothing else.";
}

/// The tokens as the prompt shows them: `["The", " cat"]`, strings escaped to ASCII.
inline std::string json_token_list(std::span<std::string const> str_tokens) {
  std::string out = "[";
  for (std::size_t i = 0; i < str_tokens.size(); ++i) {
    if (i) out += ", ";
    records::detail::append_json_string(out, str_tokens[i]);
  }
  out += ']';
  return out;
}

/// The last user message: `Explanation: <explanation>`, a blank line, `Tokens: [...]`.
inline std::string simulation_user_message(std::string_view explanation, std::span<std::string const> str_tokens) {
  std::string m = "Explanation: ";
  m += explanation;
  m += "\n\nTokens: ";
  m += json_token_list(str_tokens);
  return m;
}

/// The chat request simulating `str_tokens` under `explanation`: system prompt, the worked example
/// when asked for, then `simulation_user_message`. Pure; max_tokens and temperature are left to
/// the caller.
inline llm::chat_request build_simulation_request(std::string_view explanation, std::span<std::string const> str_tokens,
                                                  simulation_prompt_options const& options = {}, std::string model = {}) {
  llm::chat_request r;
  r.model = std::move(model);
  r.messages.push_back({"system", simulation_system_prompt()});
  if (options.worked_example) {
    std::vector<std::string> const tokens = {"She", " poured", " the", " milk", " into", " a", " bowl", " of",
                                             " cereal", "."};
    r.messages.push_back({"user", simulation_user_message("Dairy products and foods made from milk.", tokens)});
    r.messages.push_back({"assistant", "[0,0,0,10,0,0,0,0,3,0]"});
  }
  r.messages.push_back({"user", simulation_user_message(explanation, str_tokens)});
  if (options.logprobs) {
    r.logprobs = true;
    r.top_logprobs = options.top_logprobs;
  }
  return r;
}

/// What `parse_simulation_answer` found.
struct simulation_answer {
  bool parsed = false;         ///< false: no acceptable array; the caller asks again, then stores null
  std::vector<double> levels;  ///< one per token when parsed: the written level, or the expected one
  std::size_t expected = 0;    ///< how many levels are expected values from logprobs
};

namespace detail {

struct level_list {
  std::vector<int> values;
  std::vector<std::size_t> offsets, lengths;
  std::size_t begin = 0, end = 0;
};

// A flat list of integers 0..10 at text[open] == '['; nullopt otherwise.
inline std::optional<level_list> levels_at(std::string_view text, std::size_t open) {
  level_list l;
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
    std::size_t const at = p;
    int v = 0;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9' && p - at < 3) v = v * 10 + (text[p++] - '0');
    if (p == at || v > 10 || (p < text.size() && word_char(text[p]))) return std::nullopt;  // 11, 1.5, 7a
    l.values.push_back(v);
    l.offsets.push_back(at);
    l.lengths.push_back(p - at);
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

// The expected level at one position: the alternatives that are the numbers 0..10 (spaces,
// brackets, commas and quotes around them removed), renormalised; nullopt when none is.
inline std::optional<double> expected_level(llm::token_logprob const& t) {
  double mass = 0, sum = 0;
  auto add = [&](std::string_view token, double logprob) {
    auto core = digit_core(token);
    if (core.empty() || core.size() > 2) return;
    int v = 0;
    for (char c : core) {
      if (c < '0' || c > '9') return;
      v = v * 10 + (c - '0');
    }
    if (v > 10 || (core.size() == 2 && core[0] == '0')) return;
    double const p = std::exp(logprob);
    mass += p;
    sum += p * v;
  };
  bool listed = false;
  for (auto const& alt : t.top) {
    add(alt.token, alt.logprob);
    if (alt.token == t.token) listed = true;
  }
  if (!listed) add(t.token, t.logprob);
  if (!(mass > 0) || !std::isfinite(mass) || !std::isfinite(sum)) return std::nullopt;
  return sum / mass;
}

}  // namespace detail

/// The levels in `text`: the LAST flat JSON array in it with exactly `n` entries, each an integer
/// 0..10 written in digits; prose and code fences around it are ignored, other arrays (wrong
/// length, 11, 1.5, "3", negative numbers) do not count. Never zeros for an answer that does not
/// parse: `parsed` is false and the caller asks again.
///
/// With `logprobs` (the answer's tokens with their top alternatives), each level is the expected
/// value over the alternatives at its position that are the numbers 0..10, renormalised over those
/// (OpenAI's method). The written value stays where that cannot be done: no alternative is a number
/// 0..10, the answer's tokens cannot be aligned with the text, or the number is split over several
/// tokens ("1" "0"), whose first token's alternatives would not be levels. `expected` counts the
/// levels that came from logprobs. Linear; never throws. Pure.
inline simulation_answer parse_simulation_answer(std::string_view text, std::size_t n,
                                                 std::span<llm::token_logprob const> logprobs = {}) {
  simulation_answer a;
  std::optional<detail::level_list> l;
  for (std::size_t i = text.size(); i-- > 0;) {
    if (text[i] != '[') continue;
    l = detail::levels_at(text, i);
    if (l && l->values.size() == n) break;
    l.reset();
  }
  if (!l) return a;
  a.parsed = true;
  a.levels.assign(l->values.begin(), l->values.end());
  if (logprobs.empty()) return a;
  auto const at = detail::tokens_at(text, l->begin, l->end, l->offsets, logprobs);
  for (std::size_t k = 0; k < n; ++k) {
    if (!at[k]) continue;
    auto const& token = logprobs[at[k]->token];
    if (at[k]->offset + l->lengths[k] > token.token.size()) continue;  // the number runs on into the next token
    if (auto ev = detail::expected_level(token)) {
      a.levels[k] = *ev;
      ++a.expected;
    }
  }
  return a;
}

}  // namespace autointerp::score
