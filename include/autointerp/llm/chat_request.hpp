#pragma once
// What to ask the model: an OpenAI-compatible chat completion request.

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace autointerp::llm {

/// One message of the conversation. `role` is "system", "user" or "assistant".
struct chat_message {
  std::string role;
  std::string content;
};

/// A chat completion request. Only `model` and `messages` are required; unset options are not sent,
/// so the server's defaults apply.
struct chat_request {
  std::string model;
  std::vector<chat_message> messages;
  std::optional<std::uint32_t> max_tokens;  ///< also what the token budget charges up front
  std::optional<double> temperature;
  std::optional<double> top_p;
  bool logprobs = false;          ///< ask for per-token log probabilities of the answer
  std::uint32_t top_logprobs = 0; ///< alternatives per token (0..20) when `logprobs` is set
  /// Extra top-level fields merged into the body as is (for example OpenRouter's "provider"
  /// routing or "reasoning" settings). A key here overrides the field we would have written.
  boost::json::object extra;
};

/// A rough prompt size in tokens (about four bytes of text per token plus per-message overhead),
/// used to charge the tokens-per-minute budget before the server reports the real count.
inline std::uint64_t estimate_prompt_tokens(chat_request const& r) noexcept {
  std::uint64_t bytes = 0;
  for (auto const& m : r.messages) bytes += m.content.size() + m.role.size();
  return bytes / 4 + 4 * r.messages.size() + 3;
}

}  // namespace autointerp::llm
