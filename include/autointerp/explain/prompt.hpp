#pragma once
// A prompt for one latent: the chat messages an explainer sends, and the request made from them.

#include <autointerp/llm/chat_request.hpp>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::explain {

/// One chat message ("system", "user" or "assistant"): the LLM client's own type.
using message = llm::chat_message;

/// The messages for one latent, in order: system prompt, worked examples, then the latent's own.
struct prompt {
  std::vector<message> messages;

  /// Characters over all messages.
  std::size_t characters() const noexcept {
    std::size_t n = 0;
    for (auto const& m : messages) n += m.content.size();
    return n;
  }
};

/// The chat request for `p` and `model`; other fields (max_tokens, temperature) are left unset so
/// the caller or the server decides.
inline llm::chat_request to_request(prompt p, std::string model) {
  llm::chat_request r;
  r.model = std::move(model);
  r.messages = std::move(p.messages);
  return r;
}

/// A rough prompt-token count for cost estimates (the LLM client's estimate: about four bytes of
/// text per token plus per-message framing). Not a tokenizer: expect +-20% against the provider.
inline std::size_t estimate_tokens(prompt const& p) {
  llm::chat_request r;
  r.messages = p.messages;
  return static_cast<std::size_t>(llm::estimate_prompt_tokens(r));
}

}  // namespace autointerp::explain
