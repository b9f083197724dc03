#pragma once
// What calls cost: tokens as the provider reported them, and money when it said.

#include <cstdint>

namespace autointerp::llm {

/// Tokens one or more LLM calls used, as the provider reported them (0 when it did not).
struct token_usage {
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  double cost = 0;  ///< in the provider's currency (OpenRouter reports USD); 0 when unknown

  token_usage& operator+=(token_usage const& o) noexcept {
    prompt_tokens += o.prompt_tokens;
    completion_tokens += o.completion_tokens;
    cost += o.cost;
    return *this;
  }
};

}  // namespace autointerp::llm
