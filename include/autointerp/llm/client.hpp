#pragma once
// The LLM client: `co_await client.async_chat(request)` (and `async_embed`) against an
// OpenAI-compatible server, over a keep-alive HTTP/1.1 connection pool (Beast, TLS verified), with
// retries and rate budgets.

#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/llm/api_request.hpp>
#include <autointerp/llm/chat_request.hpp>
#include <autointerp/llm/chat_response.hpp>
#include <autointerp/llm/client_options.hpp>
#include <autointerp/llm/embedding.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace autointerp::llm {

/// Counters of a client, for tests, benchmarks and progress displays.
struct client_stats {
  std::uint64_t connections_opened = 0;  ///< TCP connections made (keep-alive reuse keeps this low)
  std::uint64_t stale_reconnects = 0;    ///< reused connections the server had closed (not counted as failures)
  std::uint64_t attempts = 0;            ///< requests written, retries included
  std::uint64_t retries = 0;
  std::size_t idle_connections = 0;
  std::size_t open_connections = 0;
  std::size_t in_flight = 0;
  double rate_factor = 1;                ///< fraction of the configured rate budgets in force (< 1 after 429s)
  double retry_budget = 0;               ///< retries left in the shared budget
};

namespace detail {
struct client_impl;
AUTOINTERP_DECL std::shared_ptr<client_impl> make_client_impl(boost::asio::any_io_executor ex, client_options opts);
/// A call's result and the attempts it made (also when it failed).
template <class Response>
struct call_outcome {
  result<Response> response;
  std::uint32_t attempts = 0;
};
/// The calls, each through the client's one attempt loop (pool, retries, budgets, diagnostics).
AUTOINTERP_DECL boost::asio::awaitable<call_outcome<chat_response>> run_call(std::shared_ptr<client_impl> impl,
                                                                             chat_request req);
AUTOINTERP_DECL boost::asio::awaitable<call_outcome<embedding_response>> run_call(std::shared_ptr<client_impl> impl,
                                                                                  embedding_request req);
AUTOINTERP_DECL boost::asio::awaitable<call_outcome<api_response>> run_call(std::shared_ptr<client_impl> impl,
                                                                            api_request req);

/// Starts `run_call(impl, req)` on `ex` and completes `handler` with `(error_code, Response)`; a
/// failed call delivers an empty response but for its `attempts`.
struct call_initiation {
  template <class Handler, class Request>
  void operator()(Handler handler, diagnostics* diag, std::shared_ptr<client_impl> impl,
                  boost::asio::any_io_executor ex, Request req) const {
    using outcome = typename decltype(run_call(impl, req))::value_type;
    using response_type = std::decay_t<decltype(*std::declval<outcome&>().response)>;
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    auto hex = boost::asio::get_associated_executor(handler, ex);
    boost::asio::co_spawn(
        ex, run_call(std::move(impl), std::move(req)),
        boost::asio::bind_executor(
            hex, boost::asio::bind_cancellation_slot(slot, [h = std::move(handler), diag](std::exception_ptr e,
                                                                                          outcome o) mutable {
              if (e) {
                try {
                  std::rethrow_exception(e);
                } catch (...) {
                  o.response = internal_error("the LLM client");
                }
              }
              if (o.response) {
                if (diag) diag->clear();
                std::move(h)(boost::system::error_code{}, std::move(*o.response));
                return;
              }
              if (diag) diag->assign(o.response.error());
              response_type partial;  // what a failed call still tells: the attempts it made
              partial.attempts = o.attempts;
              std::move(h)(o.response.error().code, std::move(partial));
            })));
  }
};
AUTOINTERP_DECL client_stats get_stats(client_impl const& impl);
AUTOINTERP_DECL void close_idle(client_impl& impl);
AUTOINTERP_DECL error const* config_error(client_impl const& impl);
}  // namespace detail

/// A chat-completions and embeddings client for one endpoint, shared by many coroutines.
///
/// Thread-safety: not thread-safe. Use it from one thread, or from a strand passed as the
/// executor; every operation runs on that executor. The client may be destroyed while calls are
/// in flight: they keep the shared state alive and finish normally.
///
/// Retries follow `client_options::retry`: connection errors, timeouts, 408, 409, 429, 5xx and
/// OpenRouter 200 bodies with a retryable error are retried; 400, 401, 403, 404, 422 are not; after a
/// 402 the client fails every further call at once with `errc::payment_required` (the job must stop).
class client {
 public:
  using executor_type = boost::asio::any_io_executor;

  /// Never fails: a bad base URL, proxy URL or CA file is reported by every call (and by
  /// `config_error()`), so a CLI can check it up front.
  client(executor_type ex, client_options opts)
      : ex_(ex), impl_(detail::make_client_impl(std::move(ex), std::move(opts))) {}
  client(client const&) = delete;
  client& operator=(client const&) = delete;

  executor_type get_executor() const noexcept { return ex_; }

  /// The configuration problem every call will report, or null.
  error const* config_error() const noexcept { return detail::config_error(*impl_); }

  /// Sends `request`.
  ///
  /// - Handler signature: `void(error_code, chat_response)`. On failure the response is empty but
  ///   for `attempts` (the attempts made), and `diag` (when given) holds our message naming the
  ///   endpoint, the status and the fix, with the server's own words in `diagnostics::remote`.
  /// - Completion executor: the handler's associated executor; without one, the client's.
  /// - Lifetimes: `request` is copied; the client may be destroyed while the call runs; `diag` must
  ///   live until completion.
  /// - Cancellation: per-operation `terminal` and `partial` (both abort the call: the connection in
  ///   use is closed and the call completes with `errc::cancelled`); `total` is not supported
  ///   because a request already written may have been processed. Waits for rate budgets,
  ///   connections and backoff are cancelled likewise. Host name lookup is bounded by
  ///   `timeouts.resolve` only.
  /// - Errors (`errc`): bad_url, tls_failed (certificate rejected: set SSL_CERT_FILE or `ca_file`),
  ///   resolve_failed, connect_failed, proxy_failed, timeout, connection_closed (after retries),
  ///   bad_request, unauthorized, payment_required, forbidden, not_found, rate_limited,
  ///   server_error, provider_error, bad_response, response_too_large, retry_budget_exhausted,
  ///   cancelled, internal.
  /// - Thread-safety: start it on the client's executor (see the class).
  template <class CompletionToken = boost::asio::deferred_t>
    requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
  auto async_chat(chat_request const& request, CompletionToken&& token = {}) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, chat_response)>(
        detail::call_initiation{}, token, static_cast<diagnostics*>(nullptr), impl_, ex_, request);
  }
  /// `async_chat` keeping the error's text in `diag`.
  template <class CompletionToken = boost::asio::deferred_t>
  auto async_chat(chat_request const& request, diagnostics& diag, CompletionToken&& token = {}) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, chat_response)>(
        detail::call_initiation{}, token, &diag, impl_, ex_, request);
  }

  /// Embeds the texts of `request.input` in one `POST {base}/embeddings`.
  ///
  /// The same client as `async_chat`: its connection pool, retry policy and retry budget, rate
  /// budgets (charged `estimate_input_tokens(request)` up front, settled with the reported usage),
  /// its stop after a 402, timeouts and diagnostics, and the same retried and not retried failures.
  ///
  /// - Handler signature: `void(error_code, embedding_response)`, one vector per input in input
  ///   order. On failure the response is empty but for `attempts`, and `diag` (when given) holds
  ///   our message naming the endpoint, the status and the fix, with the server's own words in
  ///   `diagnostics::remote`. An empty `input` completes with no vectors and sends nothing.
  /// - Completion executor: the handler's associated executor; without one, the client's.
  /// - Lifetimes: `request` is copied; the client may be destroyed while the call runs; `diag` must
  ///   live until completion.
  /// - Cancellation: as `async_chat` (`terminal` and `partial` abort the call, `total` is not
  ///   supported).
  /// - Errors (`errc`): those of `async_chat`; `bad_response` (not retried) also when the answer
  ///   is not one finite vector per input, all of one length (`dimensions` long when set).
  /// - Thread-safety: start it on the client's executor (see the class).
  template <class CompletionToken = boost::asio::deferred_t>
    requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
  auto async_embed(embedding_request const& request, CompletionToken&& token = {}) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, embedding_response)>(
        detail::call_initiation{}, token, static_cast<diagnostics*>(nullptr), impl_, ex_, request);
  }
  /// `async_embed` keeping the error's text in `diag`.
  template <class CompletionToken = boost::asio::deferred_t>
  auto async_embed(embedding_request const& request, diagnostics& diag, CompletionToken&& token = {}) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, embedding_response)>(
        detail::call_initiation{}, token, &diag, impl_, ex_, request);
  }

  /// Sends one plain API call (`api_request`: the Files and Batch APIs), a body from memory and
  /// optionally a file streamed from disk, the answer kept in memory or streamed to a file.
  ///
  /// The same client as `async_chat`: its pool, TLS, proxy, retry policy and budget (the same
  /// statuses are retried; a retried upload sends the file again, a retried download writes it
  /// afresh), rate budgets (one request, no tokens), the stop after a 402, and diagnostics naming
  /// the host, the status and the fix. The spending budget and the chat router do not apply.
  ///
  /// - Handler signature: `void(error_code, api_response)`. On failure the response is empty but
  ///   for `attempts`, and `diag` (when given) holds the text.
  /// - Completion executor, lifetimes, cancellation, thread-safety: as `async_chat` (`request` is
  ///   copied). A cancelled or failed download leaves no file at `download_to`.
  /// - Errors (`errc`): those of `async_chat`; `unreadable_file` when `body_file` cannot be read,
  ///   `write_failed` when `download_to` cannot be written (neither retried).
  template <class CompletionToken = boost::asio::deferred_t>
    requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
  auto async_send(api_request const& request, CompletionToken&& token = {}) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, api_response)>(
        detail::call_initiation{}, token, static_cast<diagnostics*>(nullptr), impl_, ex_, request);
  }
  /// `async_send` keeping the error's text in `diag`.
  template <class CompletionToken = boost::asio::deferred_t>
  auto async_send(api_request const& request, diagnostics& diag, CompletionToken&& token = {}) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, api_response)>(
        detail::call_initiation{}, token, &diag, impl_, ex_, request);
  }

  /// Counters and pool state. Call on the client's executor.
  client_stats stats() const { return detail::get_stats(*impl_); }

  /// Closes the idle pooled connections (calls in flight keep theirs). Call on the client's executor.
  void close_idle_connections() { detail::close_idle(*impl_); }

 private:
  executor_type ex_;
  std::shared_ptr<detail::client_impl> impl_;
};

}  // namespace autointerp::llm

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#include <autointerp/llm/impl/client.ipp>
#endif
