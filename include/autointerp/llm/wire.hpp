#pragma once
// The wire format: chat and embeddings requests as JSON, responses and error bodies parsed, HTTP
// statuses turned into errors that say what to do, and into retry decisions.

#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/llm/chat_request.hpp>
#include <autointerp/llm/chat_response.hpp>
#include <autointerp/llm/embedding.hpp>
#include <autointerp/llm/retry_policy.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace autointerp::llm {

/// What diagnostics name: the endpoint, how to fix a key, and what to scrub from server text.
struct wire_context {
  std::string_view provider;  ///< preset name, e.g. "openrouter"
  std::string_view host;      ///< host[:port], e.g. "openrouter.ai"
  std::string_view base_url;
  std::string_view key_env;   ///< e.g. "OPENROUTER_API_KEY"; empty for keys given in code
  std::string_view api_key;   ///< scrubbed from any server text we keep; never printed
  std::string_view model;
};

/// A failed attempt: the error to report and how retrying should treat it.
struct attempt_failure {
  autointerp::error error;
  failure_kind kind = failure_kind::fatal;
  unsigned status = 0;  ///< HTTP status, or the code inside a 200 error body; 0 for transport errors
  std::optional<std::chrono::milliseconds> server_delay;  ///< retry-after-ms / Retry-After
};

/// The outcome of parsing a response: a `Response` or a classified failure.
template <class Response>
using parse_result = boost::system::result<Response, attempt_failure>;
using parse_outcome = parse_result<chat_response>;

/// The JSON body of a chat completion request (stream off).
AUTOINTERP_DECL std::string serialize_request(chat_request const& r);

/// The JSON body of an embeddings request: model, input (always a list), `encoding_format`
/// "float", and `dimensions` when set.
AUTOINTERP_DECL std::string serialize_request(embedding_request const& r);

/// Parses a 200 body. OpenRouter's 200 bodies with an `error` are failures classified by their
/// code (retryable unless 400/401/402/403/404/422); invalid JSON is a retryable `bad_response`;
/// `content: null` is a fatal `bad_response` that names the finish reason. Never throws.
AUTOINTERP_DECL parse_outcome parse_chat_response(std::string_view body, wire_context const& ctx);

/// `parse_chat_response` of an answer already parsed as JSON (a Batch API output line's
/// `response.body`): the same checks and the same `chat_response`.
AUTOINTERP_DECL parse_outcome parse_chat_answer(boost::json::value const& answer, wire_context const& ctx);

/// Parses a 200 embeddings body for `request`: `data[i].embedding` (a list of numbers, or base64
/// of little-endian float32), put in input order by `data[i].index`, usage and model. Errors in a
/// 200 body and invalid JSON are treated as by `parse_chat_response`. A body that is JSON but not
/// one finite vector per input, all of one length (`dimensions` long when that was asked), is a
/// fatal `bad_response` naming the host and what was wrong: the same input would get the same
/// answer. Never throws.
AUTOINTERP_DECL parse_result<embedding_response> parse_embedding_response(std::string_view body,
                                                                         embedding_request const& request,
                                                                         wire_context const& ctx);

/// Classifies a non-200 status. `body` is the response body (its error message becomes
/// `error::remote`); `server_delay` comes from the response's delay headers.
AUTOINTERP_DECL attempt_failure classify_status(unsigned status, std::string_view body, wire_context const& ctx,
                                                std::optional<std::chrono::milliseconds> server_delay = {});

/// The server's own words from an error body: `error.message` (plus OpenRouter's provider name and
/// raw message when present) or the body itself, on one line, at most 400 bytes, without the key.
AUTOINTERP_DECL std::string remote_text(std::string_view body, std::string_view api_key);

/// `text` on one line, at most `max` bytes (cut on a UTF-8 boundary), every occurrence of `secret`
/// (when 4 bytes or longer) replaced by "[redacted]".
AUTOINTERP_DECL std::string one_line(std::string_view text, std::string_view secret, std::size_t max = 400);

}  // namespace autointerp::llm

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#include <autointerp/llm/impl/wire.ipp>
#endif
