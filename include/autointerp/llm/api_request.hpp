#pragma once
// A plain HTTP call to the endpoint's API other than a chat or an embeddings request (the OpenAI
// Files and Batch APIs): sent through the same client, so it shares the connection pool, TLS,
// proxy, retries, rate budgets and diagnostics of every other call.

#include <autointerp/llm/chat_response.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace autointerp::llm {

/// The HTTP methods an API call may use.
enum class api_method { get, post };

/// What to send: `METHOD {base path}{path}`, with a body held in memory and optionally a file
/// streamed from disk after it, and where a successful answer goes.
struct api_request {
  api_method method = api_method::get;
  /// Below the base URL's path: "/files" with base URL "https://api.openai.com/v1" is /v1/files.
  std::string path;
  /// The Content-Type header; empty sends none (a GET without a body).
  std::string content_type = "application/json";
  /// The body, or with `body_file` the part sent before the file.
  std::string body;
  /// When set, this file's bytes are sent after `body`, read from disk in bounded chunks (never
  /// whole in memory), then `body_suffix`. Each attempt reads the file again from its start.
  std::filesystem::path body_file;
  std::string body_suffix;  ///< sent after `body_file`
  /// When set, a 200 answer's body is streamed to this file (through a temporary beside it and a
  /// rename, so the file is whole or absent) instead of being kept: `max_response_bytes` does not
  /// apply to it. Error answers are still read into memory, under that limit.
  std::filesystem::path download_to;
  /// A 200 answer kept in memory must be a JSON object (else a retryable `bad_response`, as a
  /// garbled chat answer is); its error body, if any, is classified as a chat answer's is.
  bool expect_json = true;
  /// False for a call the server must not get twice (a batch creation): a connection error or
  /// timeout once the whole request was written is then not retried, since the server may have
  /// acted on it. Statuses (429, 5xx) are still retried: the server answered.
  bool retry_after_sent = true;
  /// Names the call in messages: "file upload", "batch creation", ...
  std::string noun = "API";
  /// This call's timeout for writing the request and reading the whole answer (large uploads and
  /// downloads need more than a chat); 0 = the client's `timeouts.request`.
  std::chrono::milliseconds timeout{0};
};

/// A successful API call.
struct api_response {
  std::string body;          ///< the 200 body; empty when it went to `download_to`
  boost::json::value json;   ///< `body` parsed (when `expect_json`), else null
  std::uint64_t body_bytes = 0;  ///< bytes of the body, also of a download
  llm::usage usage;          ///< always zero: API calls report no tokens (kept for the client's accounting)
  std::uint32_t attempts = 0;
  std::chrono::milliseconds latency{0};
};

}  // namespace autointerp::llm
