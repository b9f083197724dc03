#pragma once
// A prompt for one latent: the chat messages an explainer sends, independent of any LLM client.

#include <cstddef>
#include <string>
#include <vector>

namespace autointerp::explain {

/// One chat message; `role` is "system", "user" or "assistant" (OpenAI's names).
struct message {
  std::string role;
  std::string content;
  friend bool operator==(message const&, message const&) = default;
};

/// The messages for one latent, in order: system prompt, worked examples, then the latent's own.
struct prompt {
  std::vector<message> messages;

  /// Characters over all messages (the basis of `estimate_tokens`).
  std::size_t characters() const noexcept {
    std::size_t n = 0;
    for (auto const& m : messages) n += m.content.size();
    return n;
  }
};

/// A rough prompt-token count for cost estimates: about four characters per token of English, plus
/// a few tokens of framing per message (what OpenAI's chat format adds). Not a tokenizer: expect
/// +-20% against the provider's count.
inline std::size_t estimate_tokens(prompt const& p) noexcept {
  return (p.characters() + 3) / 4 + 4 * p.messages.size() + 3;
}

}  // namespace autointerp::explain
