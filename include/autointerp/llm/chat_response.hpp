#pragma once
// What the model answered, and what it cost.

#include <autointerp/llm/token_usage.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace autointerp::llm {

/// Token counts as the server reported them, and the cost: the server's `usage.cost` (OpenRouter,
/// USD) when it sent one, else the client's price table applied to the counts, else unset.
struct usage {
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  std::uint64_t total_tokens = 0;
  std::uint64_t cached_tokens = 0;  ///< `usage.prompt_tokens_details.cached_tokens`: prompt tokens read from the provider's cache
  std::optional<double> cost;
  bool cost_from_server = false;    ///< `cost` is the server's own figure, not our price table's
};

/// What a call's `usage` adds to a job's accounts (cost 0 when unknown).
inline token_usage accounted(usage const& u) noexcept {
  return {u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.cost.value_or(0)};
}

/// One alternative token at a position of the answer.
struct top_logprob {
  std::string token;
  double logprob = 0;
};

/// The log probability of one token of the answer, with the most likely alternatives.
struct token_logprob {
  std::string token;
  double logprob = 0;
  std::vector<top_logprob> top;
};

/// A successful chat completion.
struct chat_response {
  std::string text;           ///< the first choice's message content
  std::string finish_reason;  ///< "stop", "length", ... as the server said (may be empty)
  llm::usage usage;
  std::string model;          ///< the model that answered (OpenRouter may route to another one)
  std::string id;             ///< the server's id for this completion, for support requests
  std::uint32_t attempts = 0; ///< attempts made, 1 when the first one succeeded
  std::chrono::milliseconds latency{0};  ///< from the call to its completion, waits included
  std::vector<token_logprob> logprobs;   ///< filled when the request asked for logprobs
};

}  // namespace autointerp::llm
