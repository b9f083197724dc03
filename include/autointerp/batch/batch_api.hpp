#pragma once
// The OpenAI Files and Batch API calls a batch round needs, through an `llm::client` (its pool,
// TLS, proxy, retries and diagnostics): upload an input file, create a batch, get it, cancel it,
// and download a result file to disk. The objects they answer are parsed here too.
//
//   auto file = co_await batch::async_upload_file(client, "OUT/batch/explain-00000.jsonl");
//   auto b = co_await batch::async_create_batch(client, file.id);
//   ... poll batch::async_get_batch(client, b.id) on a batch::poll_schedule ...
//   co_await batch::async_download_file(client, b.output_file_id, "OUT/batch/explain-00000.out.jsonl");

#include <autointerp/batch/batch_status.hpp>
#include <autointerp/config.hpp>
#include <autointerp/detail/async_op.hpp>
#include <autointerp/error.hpp>
#include <autointerp/llm/client.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace autointerp::batch {

/// A file the Files API holds.
struct file_object {
  std::string id;  ///< "file-..."
  std::uint64_t bytes = 0;
  std::string filename;
  std::string purpose;  ///< "batch" for input files, "batch_output" for results
};

/// How many of a batch's requests have run.
struct request_counts {
  std::uint64_t total = 0;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
};

/// A batch as the Batch API describes it.
struct batch_object {
  std::string id;  ///< "batch_..."
  batch_status status = batch_status::validating;
  std::string input_file_id;
  std::string output_file_id;  ///< empty until the batch has results
  std::string error_file_id;   ///< empty when no request failed (or not yet known)
  std::string endpoint;
  std::string completion_window;
  request_counts counts;
  std::string errors;  ///< why validation failed (status `failed`), on one line; empty otherwise
  std::int64_t created_at = 0;  ///< Unix seconds
  std::int64_t expires_at = 0;
  std::map<std::string, std::string> metadata;  ///< as given to `async_create_batch` (string values)
};

/// A page of `async_list_batches`, newest batch first.
struct batch_page {
  std::vector<batch_object> batches;
  bool has_more = false;
  std::string last_id;  ///< pass as `after` for the next page
};

/// What `async_create_batch` sends besides the input file.
struct batch_options {
  std::string endpoint = "/v1/chat/completions";
  std::string completion_window = "24h";  ///< the only window the API offers
  std::map<std::string, std::string> metadata;  ///< up to 16 pairs, shown in the dashboard; empty = none
};

/// Uploads and downloads may take long for a 200 MB file: their timeout for writing the request
/// and reading the whole answer (the client's `timeouts.request` still applies to the other calls).
inline constexpr std::chrono::milliseconds file_transfer_timeout{std::chrono::hours(1)};

/// Reads a batch object. `where` names the answer in errors. Errors: `errc::bad_response` when it
/// has no string `id` or a status we do not know.
AUTOINTERP_DECL result<batch_object> parse_batch_object(boost::json::value const& v, std::string_view where = "the Batch API");

/// Reads a file object. Errors: `errc::bad_response` when it has no string `id`.
AUTOINTERP_DECL result<file_object> parse_file_object(boost::json::value const& v, std::string_view where = "the Files API");

/// The multipart/form-data pieces of an upload: `content_type` (naming the boundary), the `prefix`
/// sent before the file's bytes (the `purpose` field, then the `file` field's header naming
/// `filename`) and the `suffix` after them.
struct upload_form {
  std::string content_type;
  std::string prefix;
  std::string suffix;
};
AUTOINTERP_DECL upload_form make_upload_form(std::string_view filename, std::string_view purpose, std::string_view boundary);

namespace detail {
AUTOINTERP_DECL boost::asio::awaitable<result<file_object>> upload_file(llm::client& c, std::filesystem::path file);
AUTOINTERP_DECL boost::asio::awaitable<result<batch_object>> create_batch(llm::client& c, std::string input_file_id,
                                                                          batch_options options);
AUTOINTERP_DECL boost::asio::awaitable<result<batch_object>> get_batch(llm::client& c, std::string batch_id);
AUTOINTERP_DECL boost::asio::awaitable<result<batch_object>> cancel_batch(llm::client& c, std::string batch_id);
AUTOINTERP_DECL boost::asio::awaitable<result<batch_page>> list_batches(llm::client& c, std::string after, std::uint32_t limit);
AUTOINTERP_DECL boost::asio::awaitable<result<std::uint64_t>> download_file(llm::client& c, std::string file_id,
                                                                            std::filesystem::path to);

template <class Token>
inline constexpr bool not_diagnostics = !std::is_same_v<std::decay_t<Token>, diagnostics>;

struct upload_call {
  llm::client* c;
  std::filesystem::path file;
  auto operator()() const { return upload_file(*c, file); }
};
struct create_call {
  llm::client* c;
  std::string input_file_id;
  batch_options options;
  auto operator()() const { return create_batch(*c, input_file_id, options); }
};
struct get_call {
  llm::client* c;
  std::string batch_id;
  auto operator()() const { return get_batch(*c, batch_id); }
};
struct cancel_call {
  llm::client* c;
  std::string batch_id;
  auto operator()() const { return cancel_batch(*c, batch_id); }
};
struct list_call {
  llm::client* c;
  std::string after;
  std::uint32_t limit;
  auto operator()() const { return list_batches(*c, after, limit); }
};
struct download_call {
  llm::client* c;
  std::string file_id;
  std::filesystem::path to;
  auto operator()() const { return download_file(*c, file_id, to); }
};
}  // namespace detail

// Every operation below:
// - completes with `void(error_code, T)`; on failure `diag` (when given) holds our message naming
//   the call, the file or batch, the host and the fix, with the server's words in `remote`;
// - runs on the client's executor and completes on the handler's associated executor (else the
//   client's); the client must outlive it;
// - is retried by the client as a chat call is (connection errors, timeouts, 408, 409, 429, 5xx),
//   except a creation: once its request was written, a lost connection or timeout is not retried
//   (the batch may exist), and its error says to look before submitting again;
// - supports `terminal` and `partial` cancellation (the call is aborted, `errc::cancelled`).

/// Uploads `file` (a JSONL input file) with purpose `batch`: `POST /files` as multipart/form-data,
/// the file streamed from disk in bounded chunks. Completes with the file object (its `id` goes to
/// `async_create_batch`). Errors: the client's; `errc::unreadable_file`; `errc::bad_response`.
template <class CompletionToken = boost::asio::deferred_t>
  requires detail::not_diagnostics<CompletionToken>
auto async_upload_file(llm::client& c, std::filesystem::path const& file, CompletionToken&& token = {}) {
  return autointerp::detail::async_coro(c.get_executor(), nullptr, detail::upload_call{&c, file}, "batch::async_upload_file",
                                        std::forward<CompletionToken>(token));
}
template <class CompletionToken = boost::asio::deferred_t>
auto async_upload_file(llm::client& c, std::filesystem::path const& file, diagnostics& diag, CompletionToken&& token = {}) {
  return autointerp::detail::async_coro(c.get_executor(), &diag, detail::upload_call{&c, file}, "batch::async_upload_file",
                                        std::forward<CompletionToken>(token));
}

/// Creates a batch over an uploaded input file: `POST /batches` with `input_file_id`, `endpoint`
/// and `completion_window` (from `options`). Completes with the batch object (status `validating`
/// as a rule). Record it in batches.jsonl at once. Errors: the client's; `errc::bad_response`.
template <class CompletionToken = boost::asio::deferred_t>
  requires detail::not_diagnostics<CompletionToken>
auto async_create_batch(llm::client& c, std::string const& input_file_id, CompletionToken&& token = {}) {
  return autointerp::detail::async_coro(c.get_executor(), nullptr, detail::create_call{&c, input_file_id, {}},
                                        "batch::async_create_batch", std::forward<CompletionToken>(token));
}
template <class CompletionToken = boost::asio::deferred_t>
auto async_create_batch(llm::client& c, std::string const& input_file_id, batch_options const& options, diagnostics& diag,
                        CompletionToken&& token = {}) {
  return autointerp::detail::async_coro(c.get_executor(), &diag, detail::create_call{&c, input_file_id, options},
                                        "batch::async_create_batch", std::forward<CompletionToken>(token));
}

/// Gets a batch: `GET /batches/{id}`: its status, result file ids and request counts.
/// Errors: the client's (`errc::not_found` for an unknown id); `errc::bad_response`.
template <class CompletionToken = boost::asio::deferred_t>
  requires detail::not_diagnostics<CompletionToken>
auto async_get_batch(llm::client& c, std::string const& batch_id, CompletionToken&& token = {}) {
  return autointerp::detail::async_coro(c.get_executor(), nullptr, detail::get_call{&c, batch_id}, "batch::async_get_batch",
                                        std::forward<CompletionToken>(token));
}
template <class CompletionToken = boost::asio::deferred_t>
auto async_get_batch(llm::client& c, std::string const& batch_id, diagnostics& diag, CompletionToken&& token = {}) {
  return autointerp::detail::async_coro(c.get_executor(), &diag, detail::get_call{&c, batch_id}, "batch::async_get_batch",
                                        std::forward<CompletionToken>(token));
}

/// Cancels a batch: `POST /batches/{id}/cancel`. Completes with the batch object (status
/// `cancelling`, later `cancelled`; requests that ran are in its output file). Errors: as
/// `async_get_batch`.
template <class CompletionToken = boost::asio::deferred_t>
  requires detail::not_diagnostics<CompletionToken>
auto async_cancel_batch(llm::client& c, std::string const& batch_id, CompletionToken&& token = {}) {
  return autointerp::detail::async_coro(c.get_executor(), nullptr, detail::cancel_call{&c, batch_id},
                                        "batch::async_cancel_batch", std::forward<CompletionToken>(token));
}
template <class CompletionToken = boost::asio::deferred_t>
auto async_cancel_batch(llm::client& c, std::string const& batch_id, diagnostics& diag, CompletionToken&& token = {}) {
  return autointerp::detail::async_coro(c.get_executor(), &diag, detail::cancel_call{&c, batch_id},
                                        "batch::async_cancel_batch", std::forward<CompletionToken>(token));
}

/// Lists the account's batches, newest first: `GET /batches?limit=N[&after=ID]` (`limit` 1..100,
/// `after` empty for the first page). After a crash between a creation and its batches.jsonl line,
/// a driver finds the batch here by the `metadata` it gave it. Errors: as `async_get_batch`.
template <class CompletionToken = boost::asio::deferred_t>
  requires detail::not_diagnostics<CompletionToken>
auto async_list_batches(llm::client& c, std::string const& after, std::uint32_t limit, CompletionToken&& token = {}) {
  return autointerp::detail::async_coro(c.get_executor(), nullptr, detail::list_call{&c, after, limit},
                                        "batch::async_list_batches", std::forward<CompletionToken>(token));
}
template <class CompletionToken = boost::asio::deferred_t>
auto async_list_batches(llm::client& c, std::string const& after, std::uint32_t limit, diagnostics& diag,
                        CompletionToken&& token = {}) {
  return autointerp::detail::async_coro(c.get_executor(), &diag, detail::list_call{&c, after, limit},
                                        "batch::async_list_batches", std::forward<CompletionToken>(token));
}

/// Downloads a file's content (`GET /files/{id}/content`) to `to`, streamed to disk (through a
/// temporary beside it and a rename: `to` is whole or untouched); the client's
/// `max_response_bytes` does not limit it. Completes with the bytes written.
/// Errors: the client's; `errc::write_failed`.
template <class CompletionToken = boost::asio::deferred_t>
  requires detail::not_diagnostics<CompletionToken>
auto async_download_file(llm::client& c, std::string const& file_id, std::filesystem::path const& to,
                         CompletionToken&& token = {}) {
  return autointerp::detail::async_coro(c.get_executor(), nullptr, detail::download_call{&c, file_id, to},
                                        "batch::async_download_file", std::forward<CompletionToken>(token));
}
template <class CompletionToken = boost::asio::deferred_t>
auto async_download_file(llm::client& c, std::string const& file_id, std::filesystem::path const& to, diagnostics& diag,
                         CompletionToken&& token = {}) {
  return autointerp::detail::async_coro(c.get_executor(), &diag, detail::download_call{&c, file_id, to},
                                        "batch::async_download_file", std::forward<CompletionToken>(token));
}

}  // namespace autointerp::batch

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#include <autointerp/batch/impl/batch_api.ipp>
#endif
