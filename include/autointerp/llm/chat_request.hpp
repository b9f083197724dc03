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

/// Whom a request serves: a prompt of one latent's stage. Never sent; it names the request in
/// accounting (budget groups, per-stage means) and in the OpenAI Batch API (`custom_id`).
struct call_tag {
  std::string module;
  std::uint32_t latent = 0;
  std::string stage;        ///< "explain", "detection", ...
  std::uint32_t prompt = 0; ///< the prompt's index within the stage (a scorer's batch)
  std::uint32_t ask = 0;    ///< 0 for the first ask; N for the N-th re-ask after an unparsable answer

  /// The latent's stage: `module/latent/stage`.
  std::string group() const { return module + "/" + std::to_string(latent) + "/" + stage; }
  /// The request's name: `module/latent/stage/prompt`, and `/rN` for a re-ask.
  std::string custom_id() const {
    std::string id = group() + "/" + std::to_string(prompt);
    if (ask) id += "/r" + std::to_string(ask);
    return id;
  }
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
  /// Whom the request serves (not sent); unset for calls outside a job.
  std::optional<call_tag> tag;
};

/// A rough prompt size in tokens (about four bytes of text per token plus per-message overhead),
/// used to charge the tokens-per-minute budget before the server reports the real count.
inline std::uint64_t estimate_prompt_tokens(chat_request const& r) noexcept {
  std::uint64_t bytes = 0;
  for (auto const& m : r.messages) bytes += m.content.size() + m.role.size();
  return bytes / 4 + 4 * r.messages.size() + 3;
}

}  // namespace autointerp::llm
