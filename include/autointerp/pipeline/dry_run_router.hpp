#pragma once
// The dry run of a whole job: a chat router that answers every call without sending it, so the
// job's real stages build their real prompts (the explanation, then every scoring batch) and their
// cost can be estimated before anything is paid. The explanation is a placeholder of a chosen
// length; scoring answers are the shortest ones that parse (no re-asks), so the estimate counts
// each prompt once.

#include <autointerp/error.hpp>
#include <autointerp/llm/chat_request.hpp>
#include <autointerp/llm/chat_response.hpp>
#include <autointerp/llm/chat_router.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace autointerp::pipeline {

/// About four bytes a token, as the estimates of the client and the budget count.
inline std::uint64_t estimate_text_tokens(std::string_view text) noexcept { return (text.size() + 3) / 4; }

/// A placeholder explanation of `chars` characters (the dry run cannot know the real one).
inline std::string placeholder_explanation(std::size_t chars) {
  static constexpr std::string_view filler = "placeholder explanation of the latent ";
  std::string s;
  s.reserve(chars);
  while (s.size() < chars) s.append(filler.substr(0, std::min(filler.size(), chars - s.size())));
  return s;
}

/// The answer a dry run gives to a prompt of `stage`: the explain stage's placeholder line,
/// detection and fuzzing a list of 0 per `Example k:`, simulation a 0 per token of the last
/// `Tokens: [...]`, intruder `[RESPONSE]: 1`. Pure.
inline std::string dry_run_answer(std::string_view stage, std::string_view prompt, std::string const& explanation) {
  if (stage == "explain") return "[EXPLANATION]: " + explanation;
  if (stage == "intruder") return "[RESPONSE]: 1";
  if (stage == "simulation") {
    auto at = prompt.rfind("Tokens: [");
    std::size_t n = 0;
    if (at != std::string_view::npos) {
      auto rest = prompt.substr(at + 8);
      auto end = rest.find('\n');
      boost::system::error_code ec;
      auto v = boost::json::parse(rest.substr(0, end), ec);
      if (!ec && v.is_array()) n = v.get_array().size();
    }
    std::string a = "[";
    for (std::size_t i = 0; i < n; ++i) a += i ? ",0" : "0";
    return a + "]";
  }
  std::size_t examples = 0;
  while (prompt.find("Example " + std::to_string(examples + 1) + ":") != std::string_view::npos) ++examples;
  std::string a = "[";
  for (std::size_t i = 0; i < examples; ++i) a += i ? ", 0" : "0";
  return a + "]";
}

/// What the dry run saw of one stage (its tokens are in the job's run.jsonl, as for a real run).
struct dry_run_stage {
  std::size_t calls = 0;
  std::uint64_t prompt_bytes = 0;
  std::uint64_t prefix_bytes = 0;  ///< bytes each prompt shares, from its start, with the stage's previous one
};

/// Answers every chat call at once with `dry_run_answer` and its estimated usage (the client prices
/// it with its price table, and the job records it as for a real call). Use it from the client's
/// executor only (not thread-safe).
class dry_run_router final : public llm::chat_router {
 public:
  explicit dry_run_router(std::size_t explanation_chars) : explanation_(placeholder_explanation(explanation_chars)) {}

  boost::asio::awaitable<result<llm::chat_response>> route(llm::chat_request request) override {
    std::string const stage = request.tag ? request.tag->stage : "explain";
    std::string prompt;  // what a provider's prefix cache sees: every message, in order
    for (auto const& m : request.messages) prompt += m.role + "\n" + m.content + "\n";
    std::string user = request.messages.empty() ? std::string() : request.messages.back().content;
    llm::chat_response r;
    r.text = dry_run_answer(stage, user, explanation_);
    r.finish_reason = "stop";
    r.model = request.model;
    r.attempts = 0;
    r.usage.prompt_tokens = llm::estimate_prompt_tokens(request);
    r.usage.completion_tokens = estimate_text_tokens(r.text);
    r.usage.total_tokens = r.usage.prompt_tokens + r.usage.completion_tokens;
    auto& s = stages_[stage];
    ++s.calls;
    s.prompt_bytes += prompt.size();
    auto& previous = previous_[stage];
    auto const shared = std::mismatch(prompt.begin(), prompt.begin() + static_cast<std::ptrdiff_t>(std::min(prompt.size(), previous.size())),
                                      previous.begin()).first - prompt.begin();
    s.prefix_bytes += static_cast<std::uint64_t>(shared);
    previous = std::move(prompt);
    co_return r;
  }

  std::map<std::string, dry_run_stage> const& stages() const noexcept { return stages_; }
  std::string const& explanation() const noexcept { return explanation_; }

  /// Of all prompt bytes, the share that repeats the start of the stage's previous prompt (system
  /// prompt, few-shot examples, a scorer's explanation): what a provider's prefix cache can serve.
  double cacheable_prefix_share() const noexcept {
    std::uint64_t bytes = 0, prefix = 0;
    for (auto const& [name, s] : stages_) {
      bytes += s.prompt_bytes;
      prefix += s.prefix_bytes;
    }
    return bytes ? static_cast<double>(prefix) / static_cast<double>(bytes) : 0;
  }

 private:
  std::string explanation_;
  std::map<std::string, dry_run_stage> stages_;
  std::map<std::string, std::string> previous_;
};

/// A job's estimate: per stage, the calls, tokens and cost (at the price table; 0 without one).
struct job_estimate {
  struct stage {
    std::size_t calls = 0;
    std::uint64_t prompt_tokens = 0, completion_tokens = 0;
    double cost_usd = 0;
  };
  std::size_t latents = 0;
  std::map<std::string, stage> by_stage;
  double cacheable_prefix_share = 0;

  stage total() const noexcept {
    stage t;
    for (auto const& [name, s] : by_stage) {
      t.calls += s.calls;
      t.prompt_tokens += s.prompt_tokens;
      t.completion_tokens += s.completion_tokens;
      t.cost_usd += s.cost_usd;
    }
    return t;
  }

  /// `{"latents", "calls", "prompt_tokens", "completion_tokens", "cost_usd", "cacheable_prefix_share",
  /// "by_stage": {"explain": {"calls", "prompt_tokens", "completion_tokens", "cost_usd"}, ...}}`.
  boost::json::object to_json() const {
    auto t = total();
    boost::json::object stages;
    for (auto const& [name, s] : by_stage)
      stages[name] = boost::json::object{{"calls", s.calls}, {"prompt_tokens", s.prompt_tokens},
                                         {"completion_tokens", s.completion_tokens}, {"cost_usd", s.cost_usd}};
    return {{"latents", latents},
            {"calls", t.calls},
            {"prompt_tokens", t.prompt_tokens},
            {"completion_tokens", t.completion_tokens},
            {"cost_usd", t.cost_usd},
            {"cacheable_prefix_share", cacheable_prefix_share},
            {"by_stage", std::move(stages)}};
  }
};

}  // namespace autointerp::pipeline
