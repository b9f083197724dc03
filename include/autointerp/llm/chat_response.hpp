#pragma once
// What the model answered, and what it cost.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace autointerp::llm {

/// Token counts as the server reported them, plus OpenRouter's `cost` (in credits) when present.
struct usage {
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  std::uint64_t total_tokens = 0;
  std::optional<double> cost;
};

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
