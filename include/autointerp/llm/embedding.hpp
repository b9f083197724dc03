#pragma once
// What to embed and what came back: an OpenAI-compatible embeddings call (`POST {base}/embeddings`,
// served by OpenAI, vLLM, Hugging Face TEI, the llama.cpp server and Ollama).

#include <autointerp/llm/chat_request.hpp>
#include <autointerp/llm/chat_response.hpp>  // llm::usage, shared by both kinds of call

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace autointerp::llm {

/// An embeddings request: the texts of `input`, embedded in order, in one HTTP request.
struct embedding_request {
  std::string model;
  std::vector<std::string> input;           ///< texts, embedded in order
  std::optional<std::uint32_t> dimensions;  ///< sent only when set (OpenAI's text-embedding-3 option)
  std::optional<call_tag> tag;              ///< whom the request serves (not sent); see `chat_request::tag`
};

/// A successful embeddings call.
struct embedding_response {
  /// One vector per input, in input order (servers may list them in another order: they are put
  /// back by their "index"). All of one length, every value finite.
  std::vector<std::vector<float>> embeddings;
  llm::usage usage;             ///< prompt_tokens (and total_tokens) as reported; cost when given
  std::string model;            ///< the model that answered, as the server named it
  std::uint32_t attempts = 0;   ///< attempts made, 1 when the first one succeeded
  std::chrono::milliseconds latency{0};  ///< from the call to its completion, waits included
};

/// A rough size of the input in tokens (about four bytes of text per token, plus one per text),
/// used to charge the tokens-per-minute budget before the server reports the real count.
inline std::uint64_t estimate_input_tokens(embedding_request const& r) noexcept {
  std::uint64_t bytes = 0;
  for (auto const& text : r.input) bytes += text.size();
  return bytes / 4 + r.input.size();
}

}  // namespace autointerp::llm
