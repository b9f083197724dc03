#pragma once
// Out-of-line parts of autointerp/llm/client.hpp: the Beast I/O (pool, connect, proxy, TLS,
// request/response) and the one attempt loop, shared by chat and embeddings calls, that drives the
// pure state machines.

#include <autointerp/llm/client.hpp>
#include <autointerp/llm/wire.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <list>
#include <random>
#include <vector>

namespace autointerp::llm::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using boost::system::error_code;

inline constexpr auto nothrow_awaitable = asio::as_tuple(asio::use_awaitable);

inline std::string base64(std::string_view in) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += alphabet[(v >> 18) & 63], out += alphabet[(v >> 12) & 63], out += alphabet[(v >> 6) & 63], out += alphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += alphabet[(v >> 18) & 63], out += alphabet[(v >> 12) & 63], out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += alphabet[(v >> 18) & 63], out += alphabet[(v >> 12) & 63], out += alphabet[(v >> 6) & 63], out += '=';
  }
  return out;
}

inline std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

/// Coroutines waiting for something to be released (an in-flight slot, a pooled connection).
class wait_queue {
 public:
  /// Waits until `notify_one` picks this waiter; false when the wait was cancelled.
  asio::awaitable<bool> wait(asio::any_io_executor ex) {
    entry e{asio::steady_timer(ex, asio::steady_timer::time_point::max()), false};
    auto it = queue_.insert(queue_.end(), &e);
    struct unlink {
      std::list<entry*>& q;
      std::list<entry*>::iterator it;
      entry& e;
      ~unlink() {
        if (!e.notified) q.erase(it);
      }
    } guard{queue_, it, e};
    (void)co_await e.timer.async_wait(nothrow_awaitable);
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {
      if (e.notified) notify_one();  // pass the wake-up on rather than lose it
      co_return false;
    }
    co_return e.notified;
  }
  void notify_one() {
    if (queue_.empty()) return;
    entry* e = queue_.front();
    queue_.pop_front();
    e->notified = true;
    e->timer.cancel();
  }

 private:
  struct entry {
    asio::steady_timer timer;
    bool notified;
  };
  std::list<entry*> queue_;
};

struct connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  asio::steady_timer deadline;  ///< the request timeout: one timer per attempt, not one per read and write
  bool timed_out = false;
  bool armed = false;              ///< the deadline belongs to the attempt in progress
  std::uint64_t generation = 0;    ///< which attempt armed it (a late expiry must not hit the next one)
  steady::time_point idle_since{};
  std::uint64_t requests = 0;
  explicit connection(asio::any_io_executor ex) : deadline(std::move(ex)) {
    buffer.reserve(16 * 1024);  // most answers arrive in one read
  }
  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};
using connection_ptr = std::shared_ptr<connection>;

struct client_impl {
  asio::any_io_executor ex;
  client_options opt;
  std::optional<error> config_error;
  std::optional<error> stopped;  ///< latched after a 402
  url_parts target;
  std::optional<url_parts> proxy;
  std::string proxy_authorization;
  std::string host_header;
  std::string authorization;
  /// Each call's header block up to "Content-Length: " (they hold the key: never printed).
  std::string chat_head;        ///< POST {base path}/chat/completions
  std::string embeddings_head;  ///< POST {base path}/embeddings
  /// An API call's header block is `METHOD path HTTP/1.1`, `head_start`, its Content-Type, then
  /// `head_end` (up to "Content-Length: "); the chat and embeddings blocks are made the same way.
  std::string head_start;
  std::string head_end;
  std::optional<asio::ssl::context> ssl;
  std::optional<tcp::resolver::results_type> resolved;
  steady::time_point resolved_at{};
  std::vector<connection_ptr> idle;
  std::size_t open = 0;
  wait_queue pool_waiters;
  rate_limiter limiter;
  wait_queue limiter_waiters;
  retry_budget budget;
  std::mt19937_64 rng;
  client_stats counters;

  client_impl(asio::any_io_executor e, client_options o)
      : ex(std::move(e)), opt(std::move(o)), limiter(opt.limits, steady::now()), budget(opt.retry),
        rng(opt.seed ? opt.seed : std::random_device{}()) {}

  wire_context context(std::string_view model) const {
    return {opt.endpoint.name, host_header, opt.endpoint.base_url, opt.endpoint.key_env, opt.endpoint.api_key, model};
  }
  std::string where() const {
    return proxy ? host_header + " (through proxy " + proxy->authority() + ")" : host_header;
  }
};

AUTOINTERP_DECL std::shared_ptr<client_impl> make_client_impl(asio::any_io_executor ex, client_options opts) {
  auto s = std::make_shared<client_impl>(std::move(ex), std::move(opts));
  auto& o = s->opt;
  auto target = parse_url(o.endpoint.base_url, o.endpoint.name + " base URL");
  if (!target) {
    s->config_error = target.error();
    return s;
  }
  s->target = *target;
  s->host_header = s->target.authority();
  if (!o.endpoint.api_key.empty()) s->authorization = "Bearer " + o.endpoint.api_key;
  auto has_crlf = [](std::string_view v) { return v.find_first_of("\r\n") != std::string_view::npos; };
  if (has_crlf(o.endpoint.api_key) || has_crlf(o.user_agent)) {
    s->config_error = make_error(errc::bad_option, "the API key or user agent for " + s->host_header +
                                                       " contains a line break; check the key's environment variable");
    return s;
  }
  // The header blocks are the same for every request: build them once (cheaper than Beast's fields).
  s->head_start = "Host: " + s->host_header + "\r\nUser-Agent: " + o.user_agent + "\r\n";
  std::string head = "Accept: application/json\r\n";
  if (!s->authorization.empty()) head += "Authorization: " + s->authorization + "\r\n";
  for (auto const& [name, value] : o.endpoint.headers) {
    if (name.empty() || has_crlf(name) || has_crlf(value) || name.find(':') != std::string::npos) {
      s->config_error = make_error(errc::bad_option, "the extra header '" + one_line(name, o.endpoint.api_key, 60) +
                                                         "' for " + s->host_header + " is not a valid HTTP header");
      return s;
    }
    head += name + ": " + value + "\r\n";
  }
  head += "Connection: keep-alive\r\nContent-Length: ";
  s->head_end = std::move(head);
  std::string const json_head = s->head_start + "Content-Type: application/json\r\n" + s->head_end;
  s->chat_head = "POST " + s->target.path + "/chat/completions HTTP/1.1\r\n" + json_head;
  s->embeddings_head = "POST " + s->target.path + "/embeddings HTTP/1.1\r\n" + json_head;
  proxy_settings ps = o.proxy ? *o.proxy : proxy_from_environment(s->target.tls);
  auto proxy = select_proxy(s->target, ps);
  if (!proxy) {
    s->config_error = proxy.error();
    return s;
  }
  s->proxy = *proxy;
  if (s->proxy) {
    auto cred = proxy_credentials(ps.url);
    if (!cred.empty()) s->proxy_authorization = "Basic " + base64(cred);
  }
  if (s->target.tls) {
    s->ssl.emplace(asio::ssl::context::tls_client);
    s->ssl->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    error_code ec;
    if (o.default_ca_paths) s->ssl->set_default_verify_paths(ec);  // honours SSL_CERT_FILE / SSL_CERT_DIR
    if (!o.ca_file.empty()) {
      s->ssl->load_verify_file(o.ca_file, ec);
      if (ec) {
        s->config_error = make_error(errc::tls_failed, "cannot load the CA file '" + o.ca_file +
                                                           "'; point ca_file at a readable PEM certificate file",
                                     ec.message());
        return s;
      }
    }
    s->ssl->set_verify_mode(asio::ssl::verify_peer);
  }
  return s;
}

AUTOINTERP_DECL error const* config_error(client_impl const& s) {
  return s.config_error ? &*s.config_error : nullptr;
}

AUTOINTERP_DECL client_stats get_stats(client_impl const& s) {
  client_stats st = s.counters;
  st.idle_connections = s.idle.size();
  st.open_connections = s.open;
  st.in_flight = s.limiter.in_flight();
  st.rate_factor = s.limiter.factor();
  st.retry_budget = s.budget.balance();
  return st;
}

AUTOINTERP_DECL void close_idle(client_impl& s) {
  s.open -= s.idle.size();
  s.idle.clear();
  for (std::size_t i = 0; i < 4; ++i) s.pool_waiters.notify_one();
}

inline bool is_cancelled_now(asio::cancellation_state const& cs) {
  return cs.cancelled() != asio::cancellation_type::none;
}

inline bool closed_by_peer(error_code ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == asio::ssl::error::stream_truncated;
}

/// The outcome of one attempt: a 200 answer to parse, a failure, or cancellation.
struct attempt_outcome {
  std::optional<std::string> body;  ///< the body of a 200 answer (empty when it was downloaded to a file)
  std::optional<std::chrono::milliseconds> server_delay;  ///< its delay headers, for a 200 body that is a failure
  attempt_failure failure;
  bool cancelled = false;
};

inline attempt_failure transport_failure(client_impl const& s, std::string_view phase, error_code ec,
                                         std::chrono::milliseconds limit) {
  attempt_failure f;
  f.kind = failure_kind::retryable;
  if (ec == beast::error::timeout || ec == asio::error::timed_out) {
    f.error = make_error(errc::timeout, phase == "request" ? "no complete answer from " + s.where() + " within " + ms_text(limit) +
                                                                 "; raise timeouts.request or check the server's load"
                                                           : std::string(phase) + " to " + s.where() + " timed out after " +
                                                                 ms_text(limit) + "; check the network or raise timeouts." +
                                                                 std::string(phase == "TLS handshake" ? "tls_handshake" : phase),
                         ec.message());
  } else if (ec == http::error::body_limit || ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    f.kind = failure_kind::fatal;
    f.error = make_error(errc::response_too_large, "the answer from " + s.where() + " is larger than max_response_bytes (" +
                                                       std::to_string(s.opt.max_response_bytes) + "); raise max_response_bytes",
                         ec.message());
  } else if (closed_by_peer(ec)) {
    f.error = make_error(errc::connection_closed, s.where() + " closed the connection during the " + std::string(phase) +
                                                      "; the server or a proxy dropped it",
                         ec.message());
  } else if (ec.category() == make_error_code(http::error::bad_version).category()) {
    f.kind = failure_kind::fatal;
    f.error = make_error(errc::bad_response, s.where() + " did not answer with valid HTTP/1.1; check the base URL's scheme (http vs https) and port",
                         ec.message());
  } else {
    f.error = make_error(errc::connection_closed, "the " + std::string(phase) + " with " + s.where() + " failed; check the network",
                         ec.message());
  }
  return f;
}

/// Opens a connection: resolve (cached), TCP connect, CONNECT through the proxy, TLS handshake.
inline asio::awaitable<connection_ptr> open_connection(client_impl& s, attempt_failure& fail) {
  auto const& hop = s.proxy ? *s.proxy : s.target;
  auto now = steady::now();
  if (!s.resolved || now - s.resolved_at > std::chrono::seconds(60)) {
    auto resolver = std::make_shared<tcp::resolver>(s.ex);
    auto timed_out = std::make_shared<bool>(false);
    asio::steady_timer timer(s.ex);
    if (s.opt.timeouts.resolve.count() > 0) {
      timer.expires_after(s.opt.timeouts.resolve);
      timer.async_wait([resolver, timed_out](error_code ec) {
        if (!ec) *timed_out = true, resolver->cancel();
      });
    }
    auto [ec, results] = co_await resolver->async_resolve(hop.host, std::to_string(hop.port), nothrow_awaitable);
    timer.cancel();
    if (ec || results.empty()) {
      fail.kind = failure_kind::retryable;
      fail.error = *timed_out ? make_error(errc::timeout, "looking up " + hop.host + " timed out after " +
                                                              ms_text(s.opt.timeouts.resolve) + "; check DNS or raise timeouts.resolve")
                              : make_error(errc::resolve_failed, "cannot look up " + hop.host +
                                                                     "; check the host name in the " +
                                                                     std::string(s.proxy ? "proxy URL" : "base URL") + " and DNS",
                                           ec ? ec.message() : std::string("no addresses"));
      co_return nullptr;
    }
    s.resolved = results;
    s.resolved_at = now;
  }
  auto stream = std::make_unique<beast::tcp_stream>(s.ex);
  if (s.opt.timeouts.connect.count() > 0) stream->expires_after(s.opt.timeouts.connect);
  auto [cec, ep] = co_await stream->async_connect(*s.resolved, nothrow_awaitable);
  (void)ep;
  if (cec) {
    s.resolved.reset();  // look up again next time: the addresses may have changed
    if (cec == beast::error::timeout) {
      fail = transport_failure(s, "connect", cec, s.opt.timeouts.connect);
    } else {
      fail.kind = failure_kind::retryable;
      fail.error = make_error(errc::connect_failed, "cannot connect to " + hop.authority() + (s.proxy ? " (the proxy)" : "") +
                                                        "; check that the server is running and reachable",
                              cec.message());
    }
    co_return nullptr;
  }
  error_code ignored;
  stream->socket().set_option(tcp::no_delay(true), ignored);
  ++s.counters.connections_opened;

  if (s.proxy) {
    http::request<http::empty_body> req{http::verb::connect, s.target.host.find(':') != std::string::npos
                                                                 ? "[" + s.target.host + "]:" + std::to_string(s.target.port)
                                                                 : s.target.host + ":" + std::to_string(s.target.port),
                                        11};
    req.set(http::field::host, req.target());
    if (!s.proxy_authorization.empty()) req.set(http::field::proxy_authorization, s.proxy_authorization);
    beast::flat_buffer buf;
    http::response_parser<http::empty_body> p;
    p.skip(true);  // a CONNECT answer has no body; the tunnel follows
    auto [wec, wn] = co_await http::async_write(*stream, req, nothrow_awaitable);
    (void)wn;
    error_code rec = wec;
    if (!wec) {
      auto [ec2, rn] = co_await http::async_read_header(*stream, buf, p, nothrow_awaitable);
      (void)rn;
      rec = ec2;
    }
    if (rec) {
      fail = transport_failure(s, "proxy CONNECT", rec, s.opt.timeouts.connect);
      if (fail.error == errc::connection_closed || fail.error == errc::bad_response)
        fail.error = make_error(errc::proxy_failed, "the proxy " + s.proxy->authority() + " broke the CONNECT tunnel to " +
                                                        s.host_header + "; check HTTPS_PROXY",
                                rec.message()),
        fail.kind = failure_kind::retryable;
      co_return nullptr;
    }
    unsigned status = p.get().result_int();
    if (status != 200) {
      fail.status = status;
      fail.kind = status >= 500 ? failure_kind::retryable : failure_kind::fatal;
      std::string fix = status == 407 ? "put credentials in the proxy URL: http://user:password@host:port"
                                      : "check HTTPS_PROXY and NO_PROXY";
      fail.error = make_error(errc::proxy_failed, "the proxy " + s.proxy->authority() + " answered " + std::to_string(status) +
                                                      " to CONNECT " + s.host_header + "; " + fix,
                              std::string(p.get().reason()));
      co_return nullptr;
    }
  }
  stream->expires_never();

  auto c = std::make_shared<connection>(s.ex);
  if (!s.target.tls) {
    c->plain = std::move(stream);
    co_return c;
  }
  c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), *s.ssl);
  error_code addr_ec;
  (void)asio::ip::make_address(s.target.host, addr_ec);
  if (addr_ec && !SSL_set_tlsext_host_name(c->tls->native_handle(), s.target.host.c_str())) {  // SNI, names only
    fail.kind = failure_kind::fatal;
    fail.error = make_error(errc::tls_failed, "cannot set the TLS server name for " + s.target.host);
    co_return nullptr;
  }
  c->tls->set_verify_mode(asio::ssl::verify_peer);
  c->tls->set_verify_callback(asio::ssl::host_name_verification(s.target.host));
  if (s.opt.timeouts.tls_handshake.count() > 0) c->lowest().expires_after(s.opt.timeouts.tls_handshake);
  auto [hec] = co_await c->tls->async_handshake(asio::ssl::stream_base::client, nothrow_awaitable);
  c->lowest().expires_never();
  if (hec) {
    if (hec.category() == asio::error::get_ssl_category()) {
      long vr = SSL_get_verify_result(c->tls->native_handle());
      std::string why = vr != X509_V_OK ? X509_verify_cert_error_string(vr) : hec.message();
      fail.kind = failure_kind::fatal;
      fail.error = make_error(errc::tls_failed, "TLS with " + s.where() +
                                                    " failed (certificate not trusted or wrong host); if the server uses a private CA, "
                                                    "set SSL_CERT_FILE or the ca_file option",
                              why);
    } else {
      fail = transport_failure(s, "TLS handshake", hec, s.opt.timeouts.tls_handshake);
      if (fail.error == errc::connection_closed) fail.error.code = make_error_code(errc::tls_failed);
    }
    co_return nullptr;
  }
  co_return c;
}

/// A connection from the pool, or a new one when the pool has room; waits otherwise.
inline asio::awaitable<connection_ptr> acquire_connection(client_impl& s, attempt_failure& fail, bool& cancelled) {
  for (;;) {
    auto now = steady::now();
    while (!s.idle.empty()) {
      auto c = std::move(s.idle.back());
      s.idle.pop_back();
      if (s.opt.idle_timeout.count() <= 0 || now - c->idle_since < s.opt.idle_timeout) co_return c;
      --s.open;  // idle too long: the server has probably closed it
    }
    if (s.opt.max_connections == 0 || s.open < s.opt.max_connections) {
      ++s.open;
      auto c = co_await open_connection(s, fail);
      if (!c) {
        --s.open;
        s.pool_waiters.notify_one();
        cancelled = is_cancelled_now(co_await asio::this_coro::cancellation_state);
      }
      co_return c;
    }
    if (!co_await s.pool_waiters.wait(s.ex)) {
      cancelled = true;
      co_return nullptr;
    }
  }
}

inline void release_connection(client_impl& s, connection_ptr c, bool keep) {
  if (keep && c) {
    c->idle_since = steady::now();
    ++c->requests;
    s.idle.push_back(std::move(c));
  } else {
    --s.open;
  }
  s.pool_waiters.notify_one();
}

/// A read's error, except a TLS stream truncated at the end of a body that runs to the end of the
/// connection: the server skipped TLS close_notify, common and harmless here, since HTTP itself
/// delimits nothing else.
template <class Parser>
error_code read_error(error_code rec, Parser& p) {
  if (rec == asio::ssl::error::stream_truncated && p.is_header_done() && !p.content_length() && !p.chunked()) {
    error_code eof_ec;
    p.put_eof(eof_ec);
    return eof_ec;
  }
  return rec;
}

/// Writes a request's header block and body. Over TLS a body larger than one TLS record (16 KB)
/// is written after the header, not in the same write: written together, the request stalled
/// after the header (seen with a 40 KB prompt, Boost 1.81). The bytes sent are the same.
template <class Stream>
asio::awaitable<error_code> write_request(Stream& stream, std::array<asio::const_buffer, 2> req) {
  if (!std::is_same_v<Stream, beast::tcp_stream> && req[1].size() > 16 * 1024) {
    auto [hec, hn] = co_await asio::async_write(stream, req[0], nothrow_awaitable);
    (void)hn;
    if (hec) co_return hec;
    auto [bec, bn] = co_await asio::async_write(stream, req[1], nothrow_awaitable);
    (void)bn;
    co_return bec;
  }
  auto [wec, wn] = co_await asio::async_write(stream, req, nothrow_awaitable);
  (void)wn;
  co_return wec;
}

template <class Stream, class Parser>
asio::awaitable<error_code> exchange(Stream& stream, beast::flat_buffer& buffer, std::array<asio::const_buffer, 2> req, Parser& p) {
  auto wec = co_await write_request(stream, req);
  if (wec) co_return wec;
  auto [rec, rn] = co_await http::async_read(stream, buffer, p, nothrow_awaitable);
  (void)rn;
  co_return read_error(rec, p);
}

/// What an API call adds to an attempt: a file streamed after the body, a download target, a
/// timeout of its own. Views into the request, which the caller keeps alive.
struct transfer {
  std::filesystem::path const* body_file = nullptr;  ///< null: no file
  std::string_view body_suffix;
  std::filesystem::path const* download_to = nullptr;  ///< null: the answer stays in memory
  std::chrono::milliseconds timeout{0};                ///< 0: the client's timeouts.request
  bool retry_after_sent = true;                        ///< see api_request::retry_after_sent
};

/// What an exchange with a transfer brought back.
struct transfer_result {
  error_code ec;                           ///< transport error
  bool sent = false;                       ///< the whole request was written
  std::optional<attempt_failure> local;    ///< a local file could not be read or written (not retried)
  bool got_some = false;
  unsigned status = 0;
  bool keep = false;
  std::optional<std::chrono::milliseconds> delay;
  std::string body;
};

inline attempt_failure local_file_failure(errc code, std::string message, std::string why) {
  attempt_failure f;
  f.kind = failure_kind::fatal;
  f.error = make_error(code, std::move(message), std::move(why));
  return f;
}

template <class Response>
void take_header(transfer_result& r, Response const& res) {
  r.status = res.result_int();
  r.delay = parse_retry_after(res["retry-after-ms"], res[http::field::retry_after], std::chrono::system_clock::now());
}

/// Writes `head` and the body (streaming `x.body_file` from disk in 64 KiB chunks), reads the
/// header, then the body into memory or, for a 200 with `x.download_to`, into a temporary file
/// renamed into place once the whole body has arrived.
template <class Stream>
asio::awaitable<transfer_result> exchange_transfer(Stream& stream, beast::flat_buffer& buffer, std::string const& head,
                                                   std::string_view body, transfer const& x, std::size_t max_body) {
  transfer_result r;
  std::array<asio::const_buffer, 2> req{asio::buffer(head), asio::buffer(body.data(), body.size())};
  auto wec = co_await write_request(stream, req);
  if (wec) {
    r.ec = wec;
    co_return r;
  }
  if (x.body_file) {
    std::ifstream in(*x.body_file, std::ios::binary);
    std::vector<char> chunk(64 * 1024);
    while (in) {
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      auto n = static_cast<std::size_t>(in.gcount());
      if (n == 0) break;
      auto [fec, fn] = co_await asio::async_write(stream, asio::buffer(chunk.data(), n), nothrow_awaitable);
      (void)fn;
      if (fec) {
        r.ec = fec;
        co_return r;
      }
    }
    if (in.bad() || !in.eof()) {
      r.local = local_file_failure(errc::unreadable_file, "cannot read " + x.body_file->string() + " while sending it; check the file",
                                   std::strerror(errno));
      co_return r;
    }
    auto [sec, sn] = co_await asio::async_write(stream, asio::buffer(x.body_suffix.data(), x.body_suffix.size()), nothrow_awaitable);
    (void)sn;
    if (sec) {
      r.ec = sec;
      co_return r;
    }
  }
  r.sent = true;
  http::response_parser<http::string_body> p;
  // The parser checks Content-Length against its limit when the header completes: a download
  // reads the header without one, and an error answer gets max_body once it is known not to be
  // the download.
  if (x.download_to) p.body_limit(boost::none);
  else p.body_limit(max_body);
  p.header_limit(64 * 1024);
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, p, nothrow_awaitable);
  (void)hn;
  r.got_some = p.got_some();
  if (hec) {
    r.ec = hec;
    co_return r;
  }
  if (x.download_to && p.get().result_int() != 200) {
    if (p.content_length() && *p.content_length() > max_body) {
      r.ec = http::error::body_limit;
      co_return r;
    }
    p.body_limit(max_body);
  }
  if (p.get().result_int() == 200 && x.download_to) {
    http::response_parser<http::file_body> fp(std::move(p));
    fp.body_limit(boost::none);  // a download is as large as the file: max_response_bytes is for answers held in memory
    auto part = *x.download_to;
    part += ".part." + std::to_string(::getpid());
    error_code oec;
    fp.get().body().open(part.c_str(), beast::file_mode::write, oec);
    if (oec) {
      r.local = local_file_failure(errc::write_failed, "cannot create " + part.string() + " for the download; check that the folder is writable",
                                   oec.message());
      co_return r;
    }
    auto [rec, rn] = co_await http::async_read(stream, buffer, fp, nothrow_awaitable);
    (void)rn;
    r.ec = read_error(rec, fp);
    error_code cec;
    fp.get().body().file().close(cec);
    std::error_code fsec;
    if (!r.ec && cec)
      r.local = local_file_failure(errc::write_failed, "cannot write " + part.string() + "; check free disk space", cec.message());
    if (!r.ec && !r.local) {
      std::filesystem::rename(part, *x.download_to, fsec);
      if (fsec)
        r.local = local_file_failure(errc::write_failed, "cannot rename the download into " + x.download_to->string(), fsec.message());
    }
    if (r.ec || r.local) std::filesystem::remove(part, fsec);
    take_header(r, fp.get());
    r.keep = fp.get().keep_alive() && fp.is_done();
    co_return r;
  }
  auto [rec, rn] = co_await http::async_read(stream, buffer, p, nothrow_awaitable);
  (void)rn;
  r.ec = read_error(rec, p);
  take_header(r, p.get());
  r.keep = p.get().keep_alive() && p.is_done();
  r.body = std::move(p.get().body());
  co_return r;
}

/// Sends `head` (a request's header block up to "Content-Length: ") and `body` once, on a pooled
/// connection; a non-200 status is classified here, a 200 body is left to the caller to parse.
inline asio::awaitable<attempt_outcome> attempt(client_impl& s, std::string const& head_prefix, std::string const& body,
                                                wire_context const& ctx, transfer const* x = nullptr) {
  auto const timeout = x && x->timeout.count() > 0 ? x->timeout : s.opt.timeouts.request;
  attempt_outcome out;
  std::uint64_t length = body.size();
  if (x && x->body_file) {  // measured per attempt: what this attempt will stream
    std::error_code fec;
    auto size = std::filesystem::file_size(*x->body_file, fec);
    if (fec) {
      out.failure = local_file_failure(errc::unreadable_file, "cannot read " + x->body_file->string() + " to send it; check the path",
                                       fec.message());
      co_return out;
    }
    length += size + x->body_suffix.size();
  }
  bool reconnected = false;
  for (;;) {
    bool cancelled = false;
    auto c = co_await acquire_connection(s, out.failure, cancelled);
    if (cancelled) {
      out.cancelled = true;
      co_return out;
    }
    if (!c) co_return out;
    bool reused = c->requests > 0;
    ++s.counters.attempts;

    std::string head = head_prefix;
    head += std::to_string(length);
    head += "\r\n\r\n";
    std::array<asio::const_buffer, 2> req{asio::buffer(head), asio::buffer(body)};

    http::response_parser<http::string_body> p;
    p.body_limit(s.opt.max_response_bytes);
    p.header_limit(64 * 1024);
    if (timeout.count() > 0) {
      c->armed = true;
      c->timed_out = false;
      c->deadline.expires_after(timeout);
      c->deadline.async_wait([w = std::weak_ptr<connection>(c), gen = ++c->generation](error_code ec) {
        if (ec) return;
        if (auto conn = w.lock(); conn && conn->armed && conn->generation == gen) {
          conn->timed_out = true;
          conn->lowest().close();  // fails the pending read or write
        }
      });
    }
    error_code ec;
    std::optional<transfer_result> tr;
    // One co_await per statement: g++ 12 miscompiles co_await inside a conditional expression here.
    if (!x && c->tls) {
      ec = co_await exchange(*c->tls, c->buffer, req, p);
    } else if (!x) {
      ec = co_await exchange(*c->plain, c->buffer, req, p);
    } else if (c->tls) {
      tr = co_await exchange_transfer(*c->tls, c->buffer, head, body, *x, s.opt.max_response_bytes);
      ec = tr->ec;
    } else {
      tr = co_await exchange_transfer(*c->plain, c->buffer, head, body, *x, s.opt.max_response_bytes);
      ec = tr->ec;
    }
    if (c->armed) {
      c->armed = false;
      c->deadline.cancel();
    }
    if (c->timed_out) ec = beast::error::timeout;
    if (tr && tr->local && !ec) {
      release_connection(s, std::move(c), false);  // the request or the answer was left half done
      out.failure = std::move(*tr->local);
      co_return out;
    }
    if (ec) {
      bool got_some = tr ? tr->got_some : p.got_some();
      release_connection(s, std::move(c), false);
      if (is_cancelled_now(co_await asio::this_coro::cancellation_state)) {
        out.cancelled = true;
        co_return out;
      }
      if (reused && !got_some && closed_by_peer(ec) && !reconnected) {
        // The server closed the idle connection before it saw our request: reconnect, for free.
        // Its idle siblings are probably closed too (a server's keep-alive timeout, a restart).
        reconnected = true;
        ++s.counters.stale_reconnects;
        s.open -= s.idle.size();
        s.idle.clear();
        --s.counters.attempts;
        continue;
      }
      out.failure = transport_failure(s, "request", ec, timeout);
      if (tr && tr->sent && !x->retry_after_sent) {
        out.failure.kind = failure_kind::fatal;  // the server may have acted on it: not twice
        out.failure.error.message += "; not retried, because the server may have acted on the request";
      }
      co_return out;
    }
    unsigned status = 0;
    bool keep = false;
    std::optional<std::chrono::milliseconds> delay;
    std::string text;
    if (tr) {
      status = tr->status;
      keep = tr->keep;
      delay = tr->delay;
      text = std::move(tr->body);
    } else {
      auto& res = p.get();
      status = res.result_int();
      keep = res.keep_alive() && p.is_done();
      delay = parse_retry_after(res["retry-after-ms"], res[http::field::retry_after], std::chrono::system_clock::now());
      text = std::move(res.body());
    }
    release_connection(s, std::move(c), keep);
    if (status == 200) {
      out.body = std::move(text);
      out.server_delay = delay;
    } else {
      out.failure = classify_status(status, text, ctx, delay);
    }
    co_return out;
  }
}

inline asio::awaitable<bool> acquire_permit(client_impl& s, std::uint64_t charge) {
  for (;;) {
    auto d = s.limiter.try_acquire(charge, steady::now());
    if (d.granted) co_return true;
    if (d.wait_for_release) {
      if (!co_await s.limiter_waiters.wait(s.ex)) co_return false;
      continue;
    }
    asio::steady_timer t(s.ex, d.wait);
    (void)co_await t.async_wait(nothrow_awaitable);
    if (is_cancelled_now(co_await asio::this_coro::cancellation_state)) co_return false;
  }
}

/// A call ready for the attempt loop. Views into the request, which the caller keeps alive.
struct prepared_call {
  std::string_view noun;        ///< "chat" or "embeddings", for messages
  std::string const* head = nullptr;  ///< the client's header block for this kind of call
  std::string body;
  wire_context ctx;
  std::uint64_t charge = 0;     ///< tokens charged up front to the rate budget
  transfer const* extra = nullptr;  ///< an API call's file, download and timeout; null for chats and embeddings
};

inline error cancelled_error(client_impl const& s, std::string_view noun) {
  return make_error(errc::cancelled, "the " + std::string(noun) + " request to " + s.host_header + " was cancelled");
}

/// What fails every call before it starts: a bad configuration, or a 402 seen earlier.
inline error const* refusal(client_impl const& s) {
  if (s.config_error) return &*s.config_error;
  if (s.stopped) return &*s.stopped;
  return nullptr;
}

// The attempt loop of every call: rate budgets, the pool, retries and their budget, the 402 stop,
// cancellation. `parse` reads a 200 body into a `Response` (which has `usage`, `attempts` and
// `latency`); `attempts` follows the attempts made, so a failure can say how many there were.
template <class Response, class Parse>
asio::awaitable<result<Response>> run_attempts(std::shared_ptr<client_impl> self, prepared_call const& call, Parse parse,
                                              std::uint32_t& attempts) {
  // Partial cancellation aborts the call as terminal does (see async_chat), but Beast's composed
  // reads and writes only act on terminal: every accepted type is passed on to them as terminal.
  co_await asio::this_coro::reset_cancellation_state(asio::enable_partial_cancellation(), [](asio::cancellation_type t) {
    return t == asio::cancellation_type::none ? t : asio::cancellation_type::terminal;
  });
  co_await asio::this_coro::throw_if_cancelled(false);
  auto start = steady::now();
  client_impl& s = *self;
  if (auto const* e = refusal(s)) co_return *e;
  retry_state rs(s.opt.retry);
  std::uint64_t const charge = call.charge;
  for (;;) {
    if (!co_await acquire_permit(s, charge)) co_return cancelled_error(s, call.noun);
    if (s.stopped) {
      s.limiter.settle(charge, std::nullopt, steady::now());
      s.limiter_waiters.notify_one();
      co_return *s.stopped;
    }
    rs.on_attempt(&s.budget);
    attempts = rs.attempts();
    attempt_outcome out = co_await attempt(s, *call.head, call.body, call.ctx, call.extra);
    std::optional<Response> response;
    if (out.body) {
      parse_result<Response> parsed = parse(*out.body);
      if (parsed) {
        response = std::move(*parsed);
      } else {
        out.failure = parsed.error();
        if (!out.failure.server_delay) out.failure.server_delay = out.server_delay;
      }
    }
    auto now = steady::now();
    if (response) {
      // Without a usage report the up-front charge stands.
      auto used = response->usage.total_tokens ? response->usage.total_tokens : charge;
      s.limiter.settle(charge, used, now);
      s.limiter.on_success(now);
      s.limiter_waiters.notify_one();
      response->attempts = rs.attempts();
      response->latency = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
      co_return std::move(*response);
    }
    s.limiter.settle(charge, std::nullopt, now);
    if (out.failure.status == 429) s.limiter.on_rate_limited(now);
    s.limiter_waiters.notify_one();
    if (out.cancelled) co_return cancelled_error(s, call.noun);
    auto& f = out.failure;
    if (f.kind == failure_kind::stop_job) {
      s.stopped = f.error;
      co_return std::move(f.error);
    }
    double u = static_cast<double>(s.rng() >> 11) * 0x1.0p-53;
    auto d = rs.on_failure(f.kind, f.server_delay, u, &s.budget);
    using act = retry_decision::action;
    if (d.what == act::give_up) co_return std::move(f.error);
    std::string n = std::to_string(rs.attempts());
    if (d.what == act::attempts_exhausted) {
      f.error.message = "gave up after " + n + " attempts: " + f.error.message;
      co_return std::move(f.error);
    }
    if (d.what == act::budget_exhausted) {
      f.error.code = make_error_code(errc::retry_budget_exhausted);
      f.error.message = "gave up after " + n + " attempts because the client's retry budget is spent (too many failures across "
                        "the batch; the outage is not retried further): " + f.error.message;
      co_return std::move(f.error);
    }
    ++s.counters.retries;
    if (s.opt.on_retry) s.opt.on_retry(retry_event{rs.attempts(), d.delay, d.server_delay, f.error});
    if (d.delay.count() > 0) {
      asio::steady_timer t(s.ex, d.delay);
      (void)co_await t.async_wait(nothrow_awaitable);
      if (is_cancelled_now(co_await asio::this_coro::cancellation_state)) co_return cancelled_error(s, call.noun);
    }
  }
}

/// Runs `call` through the loop and pairs the result with the attempts made.
template <class Response, class Parse>
asio::awaitable<call_outcome<Response>> run_prepared(std::shared_ptr<client_impl> self, prepared_call const& call,
                                                     Parse parse) {
  std::uint32_t attempts = 0;
  auto loop = run_attempts<Response>(std::move(self), call, std::move(parse), attempts);  // named: g++ 12 temporaries
  auto r = co_await std::move(loop);
  co_return call_outcome<Response>{std::move(r), attempts};
}

// How each kind of call reads a 200 body (named types: a lambda's type in a coroutine frame has no
// linkage, which g++ rejects under -Werror=subobject-linkage).
struct chat_parser {
  wire_context ctx;
  parse_result<chat_response> operator()(std::string_view body) const { return parse_chat_response(body, ctx); }
};
struct embedding_parser {
  embedding_request const* request;
  wire_context ctx;
  parse_result<embedding_response> operator()(std::string_view body) const {
    return parse_embedding_response(body, *request, ctx);
  }
};

// An API call's 200 body: kept as is, parsed when it must be JSON (a garbled body is retried, an
// error inside a 200 is classified, as for chats).
struct api_parser {
  bool expect_json = true;
  wire_context ctx;
  parse_result<api_response> operator()(std::string_view body) const {
    api_response r;
    if (expect_json) {
      auto v = read_200_body(body, ctx);
      if (!v) return v.error();
      r.json = std::move(*v);
    }
    r.body = std::string(body);
    r.body_bytes = body.size();
    return r;
  }
};

// What a call spends: admitted against the job's budget before it starts, priced (when the
// server sent no cost) and settled after.
struct spending {
  spend_budget* budget = nullptr;
  token_prices const* prices = nullptr;
  std::string stage, group;
  call_estimate estimate;
};

inline result<spending> admit_call(client_impl const& s, std::string_view model, std::optional<call_tag> const& tag,
                                   std::uint64_t prompt_estimate, std::optional<std::uint32_t> max_tokens) {
  spending sp;
  sp.budget = s.opt.budget.get();
  sp.prices = s.opt.prices ? s.opt.prices->find(model) : nullptr;
  if (!sp.budget) return sp;
  if (tag) {
    sp.stage = tag->stage;
    sp.group = tag->group();
  }
  sp.estimate = sp.budget->estimate(sp.stage, prompt_estimate, max_tokens, sp.prices);
  if (auto admitted = sp.budget->admit(sp.group, sp.estimate); !admitted) return admitted.error();
  return sp;
}

inline void settle_call(spending const& sp, usage* u) {
  if (u && !u->cost && sp.prices) u->cost = sp.prices->cost(u->prompt_tokens, u->cached_tokens, u->completion_tokens);
  if (!sp.budget) return;
  sp.budget->settle(sp.stage, sp.estimate, u ? accounted(*u) : token_usage{}, u != nullptr);
}

AUTOINTERP_DECL asio::awaitable<call_outcome<chat_response>> run_call(std::shared_ptr<client_impl> self, chat_request req) {
  auto const prompt_estimate = estimate_prompt_tokens(req);  // one estimate for the budget and the rate limiter
  auto sp = admit_call(*self, req.model, req.tag, prompt_estimate, req.max_tokens);
  if (!sp) co_return call_outcome<chat_response>{sp.error(), 0};
  call_outcome<chat_response> out;
  if (auto router = self->opt.router) {
    auto routed = router->route(std::move(req));  // named: g++ 12 temporaries
    out.response = co_await std::move(routed);
    if (out.response) out.attempts = out.response->attempts;
  } else {
    prepared_call call;
    call.noun = "chat";
    call.head = &self->chat_head;
    call.body = serialize_request(req);
    call.ctx = self->context(req.model);
    call.charge = self->limiter.charge_for(prompt_estimate, req.max_tokens);
    auto run = run_prepared<chat_response>(std::move(self), call, chat_parser{call.ctx});
    out = co_await std::move(run);
  }
  settle_call(*sp, out.response ? &out.response->usage : nullptr);
  co_return out;
}

AUTOINTERP_DECL asio::awaitable<call_outcome<embedding_response>> run_call(std::shared_ptr<client_impl> self,
                                                                           embedding_request req) {
  if (req.input.empty()) {  // nothing to embed: no request, but the client's refusals still apply
    call_outcome<embedding_response> none;
    if (auto const* e = refusal(*self)) none.response = *e;
    co_return none;
  }
  auto const input_estimate = estimate_input_tokens(req);
  auto sp = admit_call(*self, req.model, req.tag, input_estimate, std::uint32_t{0});
  if (!sp) co_return call_outcome<embedding_response>{sp.error(), 0};
  prepared_call call;
  call.noun = "embeddings";
  call.head = &self->embeddings_head;
  call.body = serialize_request(req);
  call.ctx = self->context(req.model);
  call.charge = self->limiter.charge_for(input_estimate, std::uint32_t{0});  // nothing is generated
  auto run = run_prepared<embedding_response>(std::move(self), call, embedding_parser{&req, call.ctx});
  auto out = co_await std::move(run);
  settle_call(*sp, out.response ? &out.response->usage : nullptr);
  co_return out;
}

/// Whether `v` may stand in a request line: no spaces, no control characters.
inline bool is_plain_target(std::string_view v) noexcept {
  for (char ch : v)
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) return false;
  return true;
}

AUTOINTERP_DECL asio::awaitable<call_outcome<api_response>> run_call(std::shared_ptr<client_impl> self, api_request req) {
  if (req.path.empty() || req.path.front() != '/' || !is_plain_target(req.path) ||
      req.content_type.find_first_of("\r\n") != std::string::npos)
    co_return call_outcome<api_response>{
        make_error(errc::bad_option, "the " + req.noun + " request path '" + one_line(req.path, {}, 80) +
                                         "' or its content type is not valid in HTTP; it must start with '/' and hold no spaces"),
        0};
  std::string head = std::string(req.method == api_method::get ? "GET " : "POST ") + self->target.path + req.path +
                     " HTTP/1.1\r\n" + self->head_start;
  if (!req.content_type.empty()) head += "Content-Type: " + req.content_type + "\r\n";
  head += self->head_end;
  transfer x;
  if (!req.body_file.empty()) x.body_file = &req.body_file;
  x.body_suffix = req.body_suffix;
  if (!req.download_to.empty()) x.download_to = &req.download_to;
  x.timeout = req.timeout;
  x.retry_after_sent = req.retry_after_sent;
  prepared_call call;
  call.noun = req.noun;
  call.head = &head;
  call.body = std::move(req.body);
  call.ctx = self->context("");
  call.charge = 0;  // no tokens: only the requests-per-minute and in-flight budgets apply
  call.extra = &x;
  auto run = run_prepared<api_response>(self, call, api_parser{req.expect_json && req.download_to.empty(), call.ctx});
  auto out = co_await std::move(run);
  if (out.response && !req.download_to.empty()) {
    std::error_code ec;
    auto size = std::filesystem::file_size(req.download_to, ec);
    out.response->body_bytes = ec ? 0 : size;
  }
  co_return out;
}

}  // namespace autointerp::llm::detail
