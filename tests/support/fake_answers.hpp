#pragma once
// The deterministic "brain" of the test fake LLM: it answers explaining and scoring prompts from
// their text alone, the way a perfect but literal-minded model would.
//
//   fake_llm_server server(io.get_executor(), autointerp::testing::fake_brain);
//
// - Explaining prompts (anything that is not a scoring prompt): names the text most often between
//   << and >> as the quoted token, `[EXPLANATION]: the token "<text>"`.
// - Scoring prompts (the last user message of `score::build_scoring_request`, which starts with
//   "Explanation: " and holds "Example 1: " blocks): takes the explanation's quoted token (from its
//   first to its last double quote) and answers a JSON list with, per example, 1 when the example's
//   text contains the token (detection) or when it has highlights and every highlighted span
//   equals the token (fuzz; the heading names "marked tokens"), both compared without surrounding
//   whitespace. With `"logprobs": true` in the request it also sends one logprob per character of
//   the answer.
//
// - Simulation prompts (`score::build_simulation_request`: "Explanation: ..." then a line
//   `Tokens: [...]`): predicts 10 on each token equal to the explanation's quoted token (both
//   without surrounding whitespace) and 0 elsewhere, as a JSON array; with logprobs, one logprob per
//   number and per punctuation mark.
// - Intruder prompts (`score::build_intruder_request`: "Examples to compare (n):"): takes the text
//   most often highlighted across the examples and names the first example whose highlights do not
//   include it, `[RESPONSE]: k`.
//
// It parses the prompt formats of scoring_prompt.hpp, simulation_prompt.hpp and intruder_prompt.hpp
// by hand, on purpose: when a format changes, score_test's checks that the fake answers a built
// prompt correctly fail until both agree.

#include <autointerp/llm/token_usage.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fake_llm_server.hpp"

namespace autointerp::testing {

/// The text most often between << and >> in `prompt` (a token ending in '>' keeps it).
inline std::string most_highlighted(std::string const& prompt) {
  std::map<std::string, int> counts;
  for (std::size_t at = prompt.find("<<"); at != std::string::npos; at = prompt.find("<<", at)) {
    std::size_t end = prompt.find(">>", at + 2);
    if (end == std::string::npos) break;
    while (end + 2 < prompt.size() && prompt[end + 2] == '>') ++end;  // a token that ends in '>' itself
    ++counts[prompt.substr(at + 2, end - at - 2)];
    at = end + 2;
  }
  std::string best;
  int n = 0;
  for (auto const& [text, c] : counts)
    if (c > n) best = text, n = c;
  return best;
}

/// The explaining answer for `prompt`: reasoning, then `**[EXPLANATION]:** the token "<most highlighted>"`.
inline std::string explaining_answer(std::string const& prompt) {
  return "The excerpts share one marked token.\n\n**[EXPLANATION]:** the token \"" + most_highlighted(prompt) + "\"";
}

/// A handler answering every request with `explaining_answer` of its last user message.
inline fake_reply name_the_token(fake_request const& r) { return fake_reply::completion(explaining_answer(r.prompt())); }

namespace fake_answers_detail {

inline std::string_view trimmed(std::string_view s) {
  auto t = s;
  while (!t.empty() && (t.front() == ' ' || t.front() == '\n' || t.front() == '\t' || t.front() == '\r')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\n' || t.back() == '\t' || t.back() == '\r')) t.remove_suffix(1);
  return t.empty() ? s : t;
}

inline std::vector<std::string> spans_of(std::string const& text) {
  std::vector<std::string> spans;
  for (std::size_t at = text.find("<<"); at != std::string::npos; at = text.find("<<", at)) {
    std::size_t end = text.find(">>", at + 2);
    if (end == std::string::npos) break;
    while (end + 2 < text.size() && text[end + 2] == '>') ++end;
    spans.push_back(text.substr(at + 2, end - at - 2));
    at = end + 2;
  }
  return spans;
}

inline std::string example_marker(std::size_t k) { return "\n\nExample " + std::to_string(k) + ": "; }

}  // namespace fake_answers_detail

/// The explanation's quoted token (from its first to its last double quote), empty without one.
inline std::string quoted_token(std::string const& explanation) {
  std::size_t const first = explanation.find('"'), last = explanation.rfind('"');
  if (first == std::string::npos || last <= first) return {};
  return explanation.substr(first + 1, last - first - 1);
}

/// Whether `prompt` (a last user message) is a scoring prompt.
inline bool is_scoring_prompt(std::string const& prompt) {
  return prompt.rfind("Explanation: ", 0) == 0 && prompt.find(fake_answers_detail::example_marker(1)) != std::string::npos;
}

/// The per-example predictions the fake makes for a scoring prompt (empty for any other text).
inline std::vector<bool> scoring_predictions(std::string const& prompt) {
  using namespace fake_answers_detail;
  std::vector<bool> out;
  if (!is_scoring_prompt(prompt)) return out;
  std::size_t const heading = prompt.find("\n\nTexts ");
  if (heading == std::string::npos) return out;
  std::string const explanation = prompt.substr(13, heading - 13);
  std::size_t const heading_end = prompt.find(':', heading);
  bool const fuzz = prompt.substr(heading, heading_end - heading).find("marked") != std::string::npos;
  std::string const token = quoted_token(explanation);
  std::string_view const key = trimmed(token);
  std::size_t at = prompt.find(example_marker(1), heading);
  for (std::size_t k = 1; at != std::string::npos; ++k) {
    std::size_t const start = at + example_marker(k).size();
    std::size_t const next = prompt.find(example_marker(k + 1), start);
    std::string const text = prompt.substr(start, next == std::string::npos ? std::string::npos : next - start);
    bool yes = false;
    if (!token.empty()) {
      if (fuzz) {
        auto const spans = spans_of(text);
        yes = !spans.empty();
        for (auto const& s : spans) yes = yes && trimmed(s) == key;
      } else {
        yes = text.find(key) != std::string::npos;
      }
    }
    out.push_back(yes);
    at = next;
  }
  return out;
}

/// The fake's answer to a scoring prompt: `scoring_predictions` as a JSON list after a short
/// sentence, e.g. "Here is my judgement.\n[1,0,1]".
inline std::string answer_scoring(std::string const& prompt) {
  std::string list = "[";
  for (bool p : scoring_predictions(prompt)) {
    if (list.size() > 1) list += ',';
    list += p ? '1' : '0';
  }
  return "Here is my judgement.\n" + list + "]";
}

/// Whether `prompt` (a last user message) is a simulation prompt.
inline bool is_simulation_prompt(std::string const& prompt) {
  return prompt.rfind("Explanation: ", 0) == 0 && prompt.find("\n\nTokens: [") != std::string::npos;
}

/// The levels the fake predicts for a simulation prompt: 10 where a token equals the quoted token
/// (both trimmed), else 0; empty for any other text.
inline std::vector<int> simulation_levels(std::string const& prompt) {
  using namespace fake_answers_detail;
  std::vector<int> out;
  if (!is_simulation_prompt(prompt)) return out;
  std::size_t const at = prompt.rfind("\n\nTokens: ");
  std::string const key = quoted_token(prompt.substr(13, at - 13));
  boost::system::error_code ec;
  auto const tokens = boost::json::parse(prompt.substr(at + 10), ec);
  if (ec || !tokens.is_array()) return out;
  for (auto const& t : tokens.as_array()) {
    std::string const text = t.is_string() ? std::string(t.as_string()) : std::string();
    out.push_back(!key.empty() && trimmed(text) == trimmed(key) ? 10 : 0);
  }
  return out;
}

/// Whether `prompt` (a last user message) is an intruder prompt.
inline bool is_intruder_prompt(std::string const& prompt) { return prompt.rfind("Examples to compare (", 0) == 0; }

/// The 1-based example the fake names as the intruder: the first whose highlighted spans do not
/// include the prompt's most highlighted text (1 when every example has it); 0 for other texts.
inline std::size_t intruder_choice(std::string const& prompt) {
  using namespace fake_answers_detail;
  if (!is_intruder_prompt(prompt)) return 0;
  std::string const key = most_highlighted(prompt);
  std::size_t at = prompt.find(example_marker(1));
  for (std::size_t k = 1; at != std::string::npos; ++k) {
    std::size_t const start = at + example_marker(k).size();
    std::size_t const next = prompt.find(example_marker(k + 1), start);
    bool found = false;
    for (auto const& span : spans_of(prompt.substr(start, next == std::string::npos ? std::string::npos : next - start)))
      found = found || span == key;
    if (!found) return k;
    at = next;
  }
  return 1;
}

/// The handler that answers every kind: scoring prompts with `answer_scoring` (plus per-character
/// logprobs when asked for), simulation prompts with `simulation_levels` (logprobs per number),
/// intruder prompts with `intruder_choice`, embeddings requests with `fake_embedding` of each input,
/// every other prompt with the explaining answer.
inline fake_reply fake_brain(fake_request const& r) {
  if (r.is_embeddings()) return fake_reply::embeddings(r);  // the hashed bag of words of fake_embeddings.hpp
  auto const prompt = r.prompt();
  auto const* o = r.json.if_object();
  auto const* lp = o ? o->if_contains("logprobs") : nullptr;
  bool const logprobs = lp && lp->is_bool() && lp->get_bool();
  if (is_simulation_prompt(prompt)) {
    completion_fields f;
    std::string text = "Predicted levels:\n";
    if (logprobs) f.logprobs.emplace_back(text, 0.0);
    std::string list = "[";
    auto const levels = simulation_levels(prompt);
    for (std::size_t i = 0; i < levels.size(); ++i) {
      std::string const punct = i ? "," : "[";
      if (logprobs) f.logprobs.emplace_back(punct, 0.0), f.logprobs.emplace_back(std::to_string(levels[i]), -0.01);
      if (i) list += ',';
      list += std::to_string(levels[i]);
    }
    if (logprobs && levels.empty()) f.logprobs.emplace_back("[", 0.0);
    if (logprobs) f.logprobs.emplace_back("]", 0.0);
    return fake_reply::completion(text + list + "]", f);
  }
  if (is_intruder_prompt(prompt))
    return fake_reply::completion("One example stands apart.\n[RESPONSE]: " + std::to_string(intruder_choice(prompt)));
  if (!is_scoring_prompt(prompt)) return name_the_token(r);
  auto const text = answer_scoring(prompt);
  completion_fields f;
  if (logprobs)
    for (char c : text) f.logprobs.emplace_back(std::string(1, c), c == '0' || c == '1' ? -0.05 : 0.0);
  return fake_reply::completion(text, f);
}

/// `fake_brain` with usage a test can check a job's accounts against: prompt tokens at about four
/// bytes a token of every message's content (plus 3 a message and 3, as OpenAI counts), completion
/// tokens at four bytes a token of the answer, cached
/// tokens for the bytes a prompt shares from its start with the previous one (a provider's prefix
/// cache), and, when `cost_per_call` is set, a fixed `usage.cost`. It counts each distinct prompt's
/// answers and sums what it reported. Thread-safe (the server may run on its own thread).
class fake_meter {
 public:
  explicit fake_meter(std::optional<double> cost_per_call = std::nullopt) : cost_(cost_per_call) {}

  fake_reply operator()(fake_request const& r) {
    auto reply = fake_brain(r);
    if (r.is_embeddings()) return reply;
    std::string prompt;
    std::uint64_t messages = 0;
    if (auto const* o = r.json.if_object(); o && o->contains("messages") && o->at("messages").is_array())
      for (auto const& m : o->at("messages").get_array())
        if (auto const* mo = m.if_object(); mo && mo->contains("content") && mo->at("content").is_string()) {
          prompt += std::string(mo->at("content").get_string()) + "\n";
          ++messages;
        }
    boost::system::error_code ec;
    auto body = boost::json::parse(reply.body, ec);
    if (ec || !body.is_object()) return reply;
    auto& o = body.get_object();
    std::string answer;
    if (auto const* c = o.if_contains("choices"); c && c->is_array() && !c->get_array().empty()) {
      auto const* content = c->get_array()[0].at("message").get_object().if_contains("content");
      if (content && content->is_string()) answer = std::string(content->get_string());
    }
    std::lock_guard lock(m_);
    auto const shared = static_cast<std::size_t>(
        std::mismatch(prompt.begin(), prompt.begin() + static_cast<std::ptrdiff_t>(std::min(prompt.size(), previous_.size())),
                      previous_.begin()).first - prompt.begin());
    // As OpenAI counts chat prompts: the text's tokens plus 3 a message and 3 to prime the answer.
    std::uint64_t const p = (prompt.size() + 3) / 4 + 3 * messages + 3, c = (answer.size() + 3) / 4,
                        cached = std::min<std::uint64_t>(shared / 4, p);
    boost::json::object usage{{"prompt_tokens", p}, {"completion_tokens", c}, {"total_tokens", p + c},
                              {"prompt_tokens_details", boost::json::object{{"cached_tokens", cached}}}};
    if (cost_) usage["cost"] = *cost_;
    o["usage"] = std::move(usage);
    reply.body = boost::json::serialize(body);
    previous_ = prompt;
    ++answered_[prompt];
    reported_ += llm::token_usage{p, c, cached, cost_.value_or(0)};
    ++calls_;
    return reply;
  }

  /// How often each distinct prompt (every message's content) was answered.
  std::map<std::string, int> answered() const {
    std::lock_guard lock(m_);
    return answered_;
  }
  std::size_t calls() const {
    std::lock_guard lock(m_);
    return calls_;
  }
  /// What it reported, summed over every call.
  llm::token_usage reported() const {
    std::lock_guard lock(m_);
    return reported_;
  }

 private:
  std::optional<double> cost_;
  mutable std::mutex m_;
  std::string previous_;
  std::map<std::string, int> answered_;
  std::size_t calls_ = 0;
  llm::token_usage reported_;
};

}  // namespace autointerp::testing
