#pragma once
// Errors: an error code for programs to branch on, plus one line for people to read.
//
// Every fallible operation of the SDK reports `autointerp::error`: `code` says what kind of failure
// it is (compare with `autointerp::errc` values), `message` is one line in our words naming the file,
// latent, setting or endpoint and what to do, and `remote` holds text a server sent, kept apart from
// ours. Synchronous functions return `result<T>`; asynchronous ones complete with `result<T>`.

#include <autointerp/config.hpp>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>
#include <boost/assert/source_location.hpp>

#include <string>
#include <type_traits>
#include <utility>

namespace autointerp {

enum class errc {
  // Files and caches
  file_not_found = 1,   ///< a file or folder the operation needs does not exist
  unreadable_file,      ///< exists but could not be opened, mapped or read
  write_failed,         ///< an output file could not be written or renamed into place
  config_missing,       ///< a module folder has no config.json
  bad_config,           ///< config.json is not valid or lacks a needed key
  unknown_module,       ///< the module named is not in the cache
  no_shards,            ///< a module folder holds no shard files
  latent_out_of_range,  ///< a latent index past the module's width
  bad_latent_spec,      ///< a latent selection such as "0-9,17" could not be parsed
  bad_header,           ///< a safetensors or native header is truncated, oversized or not valid
  bad_offsets,          ///< tensor offsets point outside the file or overlap
  bad_dtype,            ///< a tensor has a dtype we do not accept for its role
  bad_shape,            ///< a tensor shape disagrees with the file or with the other tensors
  corrupt_zstd,         ///< a zstd frame could not be decompressed
  checksum_mismatch,    ///< stored and computed checksums differ
  unsupported_version,  ///< a native file written by a newer format version
  tokens_missing,       ///< no token matrix in the shards and none named by the user
  memory_budget,        ///< a single shard is larger than the configured memory budget
  // Options
  bad_option,           ///< an option value is out of range or inconsistent with the data
  // Tokenizer
  tokenizer_not_found,  ///< no tokenizer.json in any of the places looked at
  bad_tokenizer,        ///< tokenizer.json is not valid
  unsupported_tokenizer,///< tokenizer.json uses a component we do not implement
  token_out_of_range,   ///< a token id past the vocabulary
  // LLM calls
  bad_url,              ///< a base URL or proxy URL that cannot be parsed
  missing_api_key,      ///< the provider needs a key and none was given
  resolve_failed,       ///< host name lookup failed
  connect_failed,       ///< TCP connection failed
  tls_failed,           ///< TLS handshake or certificate verification failed
  proxy_failed,         ///< the HTTPS proxy refused or broke the CONNECT tunnel
  timeout,              ///< a phase of a request ran out of time
  connection_closed,    ///< the peer closed or reset the connection mid-request
  bad_request,          ///< HTTP 400 or 422: the request was rejected as malformed
  unauthorized,         ///< HTTP 401: the API key was rejected
  payment_required,     ///< HTTP 402: no credit left; stops the whole job
  forbidden,            ///< HTTP 403
  not_found,            ///< HTTP 404: wrong base URL or model
  rate_limited,         ///< HTTP 429 after all retries
  server_error,         ///< HTTP 5xx, 408 or 409 after all retries
  provider_error,       ///< HTTP 200 whose body carries an error
  bad_response,         ///< a response body that is not the JSON we expect
  response_too_large,   ///< a response body over the configured limit
  retry_budget_exhausted, ///< too many retries across the batch; the outage is not retried further
  cancelled,            ///< the operation was cancelled
  // Explanation
  unparsed_answer,      ///< the LLM answered, but no explanation could be found in the text
  too_few_examples,     ///< the latent has fewer activating windows than min_examples
  // Scoring
  bad_score_file,       ///< a score file is not a JSON list of samples in delphi's shape
};

/// The error category of `errc`.
inline boost::system::error_category const& category() noexcept {
  struct category_impl final : boost::system::error_category {
    constexpr category_impl() noexcept : boost::system::error_category(0x6175746f696e7470ULL) {}
    char const* name() const noexcept override { return "autointerp"; }
    std::string message(int ev) const override {
      switch (static_cast<errc>(ev)) {
        case errc::file_not_found: return "file not found";
        case errc::unreadable_file: return "unreadable file";
        case errc::write_failed: return "write failed";
        case errc::config_missing: return "config.json missing";
        case errc::bad_config: return "bad config.json";
        case errc::unknown_module: return "unknown module";
        case errc::no_shards: return "no shards";
        case errc::latent_out_of_range: return "latent out of range";
        case errc::bad_latent_spec: return "bad latent selection";
        case errc::bad_header: return "bad header";
        case errc::bad_offsets: return "bad tensor offsets";
        case errc::bad_dtype: return "bad dtype";
        case errc::bad_shape: return "bad shape";
        case errc::corrupt_zstd: return "corrupt zstd data";
        case errc::checksum_mismatch: return "checksum mismatch";
        case errc::unsupported_version: return "unsupported format version";
        case errc::tokens_missing: return "tokens missing";
        case errc::memory_budget: return "over the memory budget";
        case errc::bad_option: return "bad option";
        case errc::tokenizer_not_found: return "tokenizer not found";
        case errc::bad_tokenizer: return "bad tokenizer.json";
        case errc::unsupported_tokenizer: return "unsupported tokenizer component";
        case errc::token_out_of_range: return "token id out of range";
        case errc::bad_url: return "bad URL";
        case errc::missing_api_key: return "missing API key";
        case errc::resolve_failed: return "host name lookup failed";
        case errc::connect_failed: return "connection failed";
        case errc::tls_failed: return "TLS failed";
        case errc::proxy_failed: return "proxy failed";
        case errc::timeout: return "timed out";
        case errc::connection_closed: return "connection closed";
        case errc::bad_request: return "request rejected";
        case errc::unauthorized: return "API key rejected";
        case errc::payment_required: return "payment required";
        case errc::forbidden: return "forbidden";
        case errc::not_found: return "not found";
        case errc::rate_limited: return "rate limited";
        case errc::server_error: return "server error";
        case errc::provider_error: return "provider error";
        case errc::bad_response: return "bad response";
        case errc::response_too_large: return "response too large";
        case errc::retry_budget_exhausted: return "retry budget exhausted";
        case errc::cancelled: return "cancelled";
        case errc::unparsed_answer: return "answer not parsed";
        case errc::too_few_examples: return "too few examples";
        case errc::bad_score_file: return "bad score file";
      }
      return "unknown autointerp error";
    }
  };
  static constexpr category_impl instance;
  return instance;
}

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), category()};
}

/// A failure: a code to branch on, one line for people, and what a server said (if anything).
struct error {
  boost::system::error_code code;
  std::string message;  ///< our words: what failed, where, and what to do
  std::string remote;   ///< text from a server or a library, verbatim; empty when none

  /// `message`, followed by the server's text in parentheses when there is some.
  std::string what() const {
    return remote.empty() ? message : message + " (server said: " + remote + ")";
  }
  friend bool operator==(error const& e, errc c) noexcept { return e.code == make_error_code(c); }
};

inline error make_error(errc e, std::string message, std::string remote = {}) {
  return error{make_error_code(e), std::move(message), std::move(remote)};
}

/// The exception thrown by `result<T>::value()` on failure, and at the edges (CLI) that throw.
class exception : public boost::system::system_error {
 public:
  explicit exception(error e) : boost::system::system_error(e.code, e.what()), error_(std::move(e)) {}
  autointerp::error const& get() const noexcept { return error_; }

 private:
  autointerp::error error_;
};

[[noreturn]] inline void throw_exception_from_error(error const& e, boost::source_location const&) {
  throw exception(e);
}

/// A value or an `error`.
template <class T>
using result = boost::system::result<T, error>;

}  // namespace autointerp

template <>
struct boost::system::is_error_code_enum<autointerp::errc> : std::true_type {};
