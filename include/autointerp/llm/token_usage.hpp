#pragma once
// What calls cost: tokens as the provider reported them, and money when it said.

#include <cstdint>

namespace autointerp::llm {

/// Tokens one or more LLM calls used, as the provider reported them (0 when it did not).
struct token_usage {
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  std::uint64_t cached_tokens = 0;  ///< of the prompt tokens, those the provider served from its prompt cache
  double cost = 0;  ///< USD: the server's `usage.cost`, else priced by the client's price table; 0 when unknown

  token_usage& operator+=(token_usage const& o) noexcept {
    prompt_tokens += o.prompt_tokens;
    completion_tokens += o.completion_tokens;
    cached_tokens += o.cached_tokens;
    cost += o.cost;
    return *this;
  }
};

}  // namespace autointerp::llm
