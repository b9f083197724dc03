#pragma once
// Errors: an error code for programs to branch on, plus one line for people to read.
//
// Every fallible operation of the SDK reports `autointerp::error`: `code` says what kind of failure
// it is (compare with `autointerp::errc` values), `message` is one line in our words naming the file,
// latent, setting or endpoint and what to do, and `remote` holds text a server sent, kept apart from
// ours. Synchronous functions return `result<T>`; asynchronous ones complete with
// `void(error_code, T)` and leave the text in a `diagnostics` (see `with_diagnostics.hpp`).

#include <autointerp/config.hpp>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>
#include <boost/assert/source_location.hpp>

#include <exception>
#include <new>
#include <optional>
#include <string>
#include <string_view>
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
  budget_exhausted,     ///< a call would pass the job's --max-cost / --max-prompt-tokens budget; stops the job
  deferred,             ///< the call's answer will come from a batch (OpenAI Batch API): the stage waits for a later pass
  // Explanation
  unparsed_answer,      ///< the LLM answered, but no explanation could be found in the text
  too_few_examples,     ///< the latent has fewer activating windows than min_examples
  // Scoring
  bad_score_file,       ///< a score file is not a JSON list of samples in delphi's shape
  // Anything else
  internal,             ///< an unexpected exception inside the SDK (a bug, or memory exhausted): report it
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
        case errc::budget_exhausted: return "budget reached";
        case errc::deferred: return "deferred to a batch";
        case errc::unparsed_answer: return "answer not parsed";
        case errc::too_few_examples: return "too few examples";
        case errc::bad_score_file: return "bad score file";
        case errc::internal: return "internal error";
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

/// The text that goes with a failed asynchronous operation, apart from its `error_code`: our one line
/// (`message`: what failed, where, what to do) and what a server or library said (`remote`). Async
/// operations complete with `void(error_code, T)` as Asio's own do; pass a `diagnostics&` before the
/// completion token to keep the text, or use `with_diagnostics(token)` to get it in the exception.
/// Cleared by an operation that succeeds.
struct diagnostics {
  std::string message;  ///< our words; empty when the operation succeeded
  std::string remote;   ///< a server's or library's words, verbatim; empty when none

  void clear() noexcept {
    message.clear();
    remote.clear();
  }
  void assign(error const& e) {
    message = e.message;
    remote = e.remote;
  }
  /// `message`, then the server's text in parentheses when there is some (as `error::what`).
  std::string what() const { return remote.empty() ? message : message + " (server said: " + remote + ")"; }
  /// The `error` made of a code and these diagnostics (the category's text when `message` is empty).
  error to_error(boost::system::error_code const& ec) const {
    return error{ec, message.empty() ? ec.message() : message, remote};
  }
};

/// `errc::internal` for an exception that escaped where none was expected, naming `where` (for
/// example "the LLM client"); `std::bad_alloc` says memory ran out. Use inside a catch block:
/// `catch (...) { return internal_error("records::load_record"); }`.
inline error internal_error(std::string_view where) {
  try {
    throw;
  } catch (std::bad_alloc const&) {
    return make_error(errc::internal, "out of memory in " + std::string(where) +
                                          "; lower run_options::max_concurrent or open_options::memory_budget, or use a larger machine");
  } catch (std::exception const& e) {
    return make_error(errc::internal, "unexpected failure in " + std::string(where) + ": " + e.what() +
                                          "; this is a bug in autointerp, please report it");
  } catch (...) {
    return make_error(errc::internal, "unexpected failure in " + std::string(where) +
                                          "; this is a bug in autointerp, please report it");
  }
}

/// Errors after which no new work should start, because every later call would fail the same way:
/// a rejected or missing API key (401), no credit left (402), and an output that cannot be written
/// (disk full, folder gone: going on would pay for answers that are then lost), and a spending
/// budget that is reached. 403 is not fatal: providers send it for a single flagged prompt.
inline bool is_fatal(boost::system::error_code const& ec) noexcept {
  return ec == make_error_code(errc::unauthorized) || ec == make_error_code(errc::payment_required) ||
         ec == make_error_code(errc::budget_exhausted) ||
         ec == make_error_code(errc::missing_api_key) || ec == make_error_code(errc::write_failed);
}
inline bool is_fatal(error const& e) noexcept { return is_fatal(e.code); }

/// Areas of the SDK, as error conditions: `if (ec == autointerp::condition::llm)` tests whether a
/// failure came from the LLM side, whatever its exact `errc`.
enum class condition {
  cache = 1,  ///< reading a latent cache: files, shards, headers, tokens, config.json
  records,    ///< building records: options, too few examples
  tokenizer,  ///< finding, loading or using tokenizer.json
  llm,        ///< talking to the LLM: URL, key, network, HTTP status, response
  output,     ///< writing results, or reading them back (score files)
  cancelled,  ///< the operation was cancelled (ours, or Asio's operation_aborted)
};

/// The area an `errc` belongs to (`internal` belongs to none).
constexpr std::optional<condition> area_of(errc e) noexcept {
  switch (e) {
    case errc::file_not_found: case errc::unreadable_file: case errc::config_missing: case errc::bad_config:
    case errc::unknown_module: case errc::no_shards: case errc::latent_out_of_range: case errc::bad_latent_spec:
    case errc::bad_header: case errc::bad_offsets: case errc::bad_dtype: case errc::bad_shape:
    case errc::corrupt_zstd: case errc::checksum_mismatch: case errc::unsupported_version:
    case errc::tokens_missing: case errc::memory_budget:
      return condition::cache;
    case errc::bad_option: case errc::too_few_examples: return condition::records;
    case errc::tokenizer_not_found: case errc::bad_tokenizer: case errc::unsupported_tokenizer:
    case errc::token_out_of_range:
      return condition::tokenizer;
    case errc::bad_url: case errc::missing_api_key: case errc::resolve_failed: case errc::connect_failed:
    case errc::tls_failed: case errc::proxy_failed: case errc::timeout: case errc::connection_closed:
    case errc::bad_request: case errc::unauthorized: case errc::payment_required: case errc::forbidden:
    case errc::not_found: case errc::rate_limited: case errc::server_error: case errc::provider_error:
    case errc::bad_response: case errc::response_too_large: case errc::retry_budget_exhausted:
    case errc::unparsed_answer: case errc::budget_exhausted: case errc::deferred:
      return condition::llm;
    case errc::write_failed: case errc::bad_score_file: return condition::output;
    case errc::cancelled: return condition::cancelled;
    case errc::internal: return std::nullopt;
  }
  return std::nullopt;
}

/// The category of `condition`.
inline boost::system::error_category const& condition_category() noexcept {
  struct condition_category_impl final : boost::system::error_category {
    constexpr condition_category_impl() noexcept : boost::system::error_category(0x6175746f636f6e64ULL) {}
    char const* name() const noexcept override { return "autointerp.condition"; }
    std::string message(int ev) const override {
      switch (static_cast<condition>(ev)) {
        case condition::cache: return "latent cache error";
        case condition::records: return "record building error";
        case condition::tokenizer: return "tokenizer error";
        case condition::llm: return "LLM error";
        case condition::output: return "output error";
        case condition::cancelled: return "cancelled";
      }
      return "unknown autointerp condition";
    }
    bool equivalent(boost::system::error_code const& code, int cond) const noexcept override {
      if (code.category() == category()) {
        auto a = area_of(static_cast<errc>(code.value()));
        return a && static_cast<int>(*a) == cond;
      }
      return static_cast<condition>(cond) == condition::cancelled && code == boost::system::errc::operation_canceled;
    }
  };
  static constexpr condition_category_impl instance;
  return instance;
}

inline boost::system::error_condition make_error_condition(condition c) noexcept {
  return {static_cast<int>(c), condition_category()};
}

}  // namespace autointerp

template <>
struct boost::system::is_error_code_enum<autointerp::errc> : std::true_type {};
template <>
struct boost::system::is_error_condition_enum<autointerp::condition> : std::true_type {};
