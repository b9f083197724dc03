#pragma once
// An in-process, scriptable, OpenAI-compatible chat-completions and embeddings server for tests
// and benchmarks.
//
//   asio::io_context io;
//   autointerp::testing::fake_llm_server server(io.get_executor(), [](auto const& req) {
//     return fake_reply::completion("Explanation: " + req.prompt());
//   });                                   // or fake_llm_server(ex, handler, {.tls = true})
//   auto opts = ...; opts.endpoint = autointerp::llm::local(server.base_url());
//   opts.ca_file = server.ca_file();      // for https: trust the certificate made for this server
//
// It listens on 127.0.0.1, port 0 (the OS picks one), on the executor it is given, and calls the
// handler once per request with the parsed request (JSON included) to decide the reply: any
// status, headers and body, a latency, or a failure (reset before/after the headers, truncated
// body, hang until stopped). HTTPS uses a self-signed certificate made with OpenSSL in the process.
// `stop()` (also run by the destructor) closes the listener and every connection, so
// `io.run()` returns once the client's work is done.
//
// Embeddings (`POST .../embeddings`) go to the same handler, so every fault above applies to them
// too; `fake_reply::embeddings(req)` answers one with the vectors of fake_embeddings.hpp, and
// `with_embeddings(handler)` answers every embeddings request so and passes the rest on. Without a
// handler the server answers chats "ok" and embeddings with those vectors. It counts embeddings
// requests and their inputs.
//
// Also here: `connect_proxy`, a tiny HTTP CONNECT proxy that counts the tunnels it opens.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include "fake_embeddings.hpp"

namespace autointerp::testing {

namespace fake_detail {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
inline constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
}  // namespace fake_detail

/// A self-signed certificate (and its key) for 127.0.0.1 and localhost, made with OpenSSL's API.
struct test_certificate {
  std::string cert_pem;
  std::string key_pem;
};

/// Makes a fresh EC P-256 key and a self-signed CA certificate valid for a day, for the names in
/// `san` (OpenSSL's subjectAltName syntax). Throws std::runtime_error if OpenSSL fails (tests only).
inline test_certificate make_test_certificate(std::string const& san = "IP:127.0.0.1,DNS:localhost") {
  std::string const common_name = "autointerp test";
  auto fail = [](char const* what) { throw std::runtime_error(std::string("make_test_certificate: ") + what); };
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) fail("key generation");
  X509* x = X509_new();
  if (!x) fail("X509_new");
  X509_set_version(x, 2);
  static std::atomic<long> serial{1};
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++ + static_cast<long>(::getpid()) * 1000);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<unsigned char const*>(common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  auto add_ext = [&](int nid, char const* value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) fail("extension");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  };
  add_ext(NID_subject_alt_name, san.c_str());
  add_ext(NID_basic_constraints, "critical,CA:TRUE");
  if (!X509_sign(x, key, EVP_sha256())) fail("sign");
  auto to_string = [&](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string s(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return s;
  };
  test_certificate c;
  c.cert_pem = to_string([&](BIO* b) { PEM_write_bio_X509(b, x); });
  c.key_pem = to_string([&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
  X509_free(x);
  EVP_PKEY_free(key);
  return c;
}

/// A request as the fake server received it.
struct fake_request {
  std::string method;
  std::string target;                         ///< e.g. "/v1/chat/completions"
  std::map<std::string, std::string> headers; ///< names in lower case
  std::string body;
  boost::json::value json;                    ///< the body parsed; null when it is not JSON
  std::size_t index = 0;                      ///< 0-based, over the server's lifetime
  std::size_t connection = 0;                 ///< 0-based index of the connection it arrived on
  std::size_t on_connection = 0;              ///< 0-based index of this request on its connection

  std::string header(std::string const& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  /// The "model" field, or "".
  std::string model() const {
    auto const* o = json.if_object();
    auto const* m = o ? o->if_contains("model") : nullptr;
    return m && m->is_string() ? std::string(m->get_string()) : std::string();
  }
  /// The content of the last "user" message, or "".
  std::string prompt() const {
    auto const* o = json.if_object();
    auto const* msgs = o ? o->if_contains("messages") : nullptr;
    if (!msgs || !msgs->is_array()) return {};
    for (auto it = msgs->get_array().rbegin(); it != msgs->get_array().rend(); ++it) {
      auto const* mo = it->if_object();
      if (!mo) continue;
      auto const* role = mo->if_contains("role");
      auto const* content = mo->if_contains("content");
      if (role && role->is_string() && role->get_string() == "user" && content && content->is_string())
        return std::string(content->get_string());
    }
    return {};
  }
  /// Whether this is an embeddings request: POST to a target ending in "/embeddings".
  bool is_embeddings() const {
    std::string_view t(target);
    constexpr std::string_view tail = "/embeddings";
    return method == "POST" && t.size() >= tail.size() && t.substr(t.size() - tail.size()) == tail;
  }
  /// The texts of an embeddings request's "input" (a string or a list of strings); empty when it
  /// has none or holds something else.
  std::vector<std::string> inputs() const {
    auto const* o = json.if_object();
    auto const* in = o ? o->if_contains("input") : nullptr;
    if (!in) return {};
    if (in->is_string()) return {std::string(in->get_string())};
    std::vector<std::string> out;
    if (!in->is_array()) return out;
    for (auto const& v : in->get_array()) {
      if (!v.is_string()) return {};
      out.emplace_back(v.get_string());
    }
    return out;
  }
};

/// Options of `fake_reply::embeddings`.
struct embedding_fields {
  std::string model = "fake/embedding";
  bool reversed = false;  ///< list the vectors last input first (each keeps its "index")
  bool base64 = false;    ///< send base64 of little-endian float32, as for `encoding_format: "base64"`
  std::optional<double> cost;
};

/// Options of `fake_reply::completion`.
struct completion_fields {
  std::string model = "fake/model";
  std::string finish_reason = "stop";
  std::uint64_t prompt_tokens = 10;
  std::uint64_t completion_tokens = 5;
  std::optional<double> cost;              ///< OpenRouter's usage.cost
  bool null_content = false;               ///< "content": null
  std::vector<std::pair<std::string, double>> logprobs;  ///< per-token (token, logprob), each with itself as top alternative
};

/// What the fake server does with one request.
struct fake_reply {
  enum class action {
    respond,               ///< send status, headers and body
    reset_before_headers,  ///< read the request, then reset the connection (RST) without answering
    reset_after_headers,   ///< send the headers (Content-Length: 1000), then reset
    truncated_body,        ///< send the headers and half the body, then close (FIN)
    hang,                  ///< never answer (until the server stops)
    raw_then_close,        ///< write `body` as the raw bytes of the whole answer, then close (no TLS close_notify)
  };
  action what = action::respond;
  unsigned status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};  ///< wait this long before acting (latency)
  bool close = false;                  ///< close the connection after answering (Connection: close)

  /// A 200 chat completion whose first choice says `text`.
  static fake_reply completion(std::string const& text, completion_fields const& f = {}) {
    boost::json::object message{{"role", "assistant"}};
    if (f.null_content) message["content"] = nullptr;
    else message["content"] = text;
    boost::json::object choice{{"index", 0}, {"message", std::move(message)}, {"finish_reason", f.finish_reason}};
    if (!f.logprobs.empty()) {
      boost::json::array content;
      for (auto const& [tok, lp] : f.logprobs)
        content.push_back(boost::json::object{
            {"token", tok}, {"logprob", lp}, {"top_logprobs", boost::json::array{boost::json::object{{"token", tok}, {"logprob", lp}}}}});
      choice["logprobs"] = boost::json::object{{"content", std::move(content)}};
    }
    boost::json::object usage{{"prompt_tokens", f.prompt_tokens},
                              {"completion_tokens", f.completion_tokens},
                              {"total_tokens", f.prompt_tokens + f.completion_tokens}};
    if (f.cost) usage["cost"] = *f.cost;
    boost::json::object o{{"id", "gen-fake"},         {"object", "chat.completion"}, {"model", f.model},
                          {"choices", boost::json::array{std::move(choice)}}, {"usage", std::move(usage)}};
    fake_reply r;
    r.body = boost::json::serialize(o);
    r.headers.emplace_back("Content-Type", "application/json");
    return r;
  }
  /// A 200 embeddings answer for `req`: `fake_embedding` of each input, with its index (base64
  /// when the request or `f` asks for it). A request's `dimensions` d keeps the first d values,
  /// L2-normalised again (as text-embedding-3 shortens); `prompt_tokens` counts the inputs'
  /// words. A request without inputs, or with `dimensions` outside 1..256, gets a 400.
  static fake_reply embeddings(fake_request const& req, embedding_fields const& f = {}) {
    auto inputs = req.inputs();
    if (inputs.empty()) return error(400, "'input' must be a non-empty string or list of strings");
    auto const* o = req.json.if_object();
    std::size_t dims = fake_embedding_dimension;
    bool base64 = f.base64;
    if (auto const* d = o->if_contains("dimensions")) {
      auto n = d->is_int64() ? d->get_int64() : d->is_uint64() ? static_cast<std::int64_t>(d->get_uint64()) : -1;
      if (n < 1 || n > static_cast<std::int64_t>(fake_embedding_dimension)) return error(400, "'dimensions' must be 1..256");
      dims = static_cast<std::size_t>(n);
    }
    if (auto const* e = o->if_contains("encoding_format"); e && e->is_string() && e->get_string() == "base64") base64 = true;
    boost::json::array data;
    std::uint64_t words = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      words += fake_embedding_words(inputs[i]).size();
      auto v = fake_embedding(inputs[i]);
      if (dims < v.size()) {
        v.resize(dims);
        double norm = 0;
        for (float x : v) norm += double(x) * x;
        norm = std::sqrt(norm);
        if (norm > 0)
          for (float& x : v) x = static_cast<float>(x / norm);
      }
      boost::json::value embedding;
      if (base64) {
        std::string bytes;
        for (float x : v) {
          auto u = std::bit_cast<std::uint32_t>(x);
          for (int b = 0; b < 4; ++b) bytes += static_cast<char>((u >> (8 * b)) & 0xFF);
        }
        embedding = base64_of(bytes);
      } else {
        boost::json::array values;
        values.reserve(v.size());
        for (float x : v) values.emplace_back(static_cast<double>(x));
        embedding = std::move(values);
      }
      data.push_back(boost::json::object{{"object", "embedding"}, {"index", i}, {"embedding", std::move(embedding)}});
    }
    if (f.reversed) std::reverse(data.begin(), data.end());
    boost::json::object usage{{"prompt_tokens", words}, {"total_tokens", words}};
    if (f.cost) usage["cost"] = *f.cost;
    boost::json::object answer{{"object", "list"}, {"data", std::move(data)}, {"model", f.model}, {"usage", std::move(usage)}};
    fake_reply r;
    r.body = boost::json::serialize(answer);
    r.headers.emplace_back("Content-Type", "application/json");
    return r;
  }
  /// Standard base64 (with padding) of `bytes`.
  static std::string base64_of(std::string_view bytes) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
      std::uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
      if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
      if (i + 2 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 2]);
      out += alphabet[(v >> 18) & 63];
      out += alphabet[(v >> 12) & 63];
      out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
      out += i + 2 < bytes.size() ? alphabet[v & 63] : '=';
    }
    return out;
  }
  /// An error in the OpenAI/OpenRouter shape: {"error":{"code":status,"message":...}} with that status.
  static fake_reply error(unsigned status, std::string const& message) {
    fake_reply r;
    r.status = status;
    r.body = boost::json::serialize(boost::json::object{{"error", boost::json::object{{"code", status}, {"message", message}}}});
    r.headers.emplace_back("Content-Type", "application/json");
    return r;
  }
  /// OpenRouter's 200 whose body carries an error with `code`.
  static fake_reply error_in_200(unsigned code, std::string const& message) {
    auto r = error(code, message);
    r.status = 200;
    return r;
  }
  /// A raw 200 body (for malformed JSON and the like).
  static fake_reply raw(std::string body, unsigned status = 200) {
    fake_reply r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static fake_reply failure(action a) {
    fake_reply r;
    r.what = a;
    return r;
  }
  fake_reply&& with_header(std::string name, std::string value) && {
    headers.emplace_back(std::move(name), std::move(value));
    return std::move(*this);
  }
  fake_reply&& after(std::chrono::milliseconds d) && {
    delay = d;
    return std::move(*this);
  }
  fake_reply&& closing() && {
    close = true;
    return std::move(*this);
  }
};

using fake_handler = std::function<fake_reply(fake_request const&)>;

/// A handler that answers every embeddings request with `fake_reply::embeddings` and passes the
/// others (chats) to `chat`.
inline fake_handler with_embeddings(fake_handler chat) {
  return [chat = std::move(chat)](fake_request const& r) {
    if (r.is_embeddings()) return fake_reply::embeddings(r);
    return chat ? chat(r) : fake_reply::completion("ok");
  };
}

/// Server settings.
struct fake_server_options {
  bool tls = false;  ///< serve HTTPS with a certificate made for this server
  bool light = false; ///< skip collecting headers and parsing JSON (benchmarks: the handler sees method, target, body)
  std::optional<test_certificate> certificate;  ///< use this one instead (tls only)

  /// HTTPS with a fresh certificate for 127.0.0.1 and localhost, or with `c`.
  static fake_server_options https(std::optional<test_certificate> c = std::nullopt) {
    fake_server_options o;
    o.tls = true;
    o.certificate = std::move(c);
    return o;
  }
};

/// The fake server. Construct on any executor; the handler runs on that executor. Counters may be
/// read from any thread.
class fake_llm_server {
 public:
  fake_llm_server(boost::asio::any_io_executor ex, fake_handler handler, fake_server_options opts = {})
      : st_(std::make_shared<state>(ex)) {
    using namespace fake_detail;
    st_->handler = std::move(handler);
    st_->light = opts.light;
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    st_->acceptor.open(ep.protocol());
    st_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    st_->acceptor.bind(ep);
    st_->acceptor.listen(asio::socket_base::max_listen_connections);
    port_ = st_->acceptor.local_endpoint().port();
    if (opts.tls) {
      cert_ = opts.certificate ? *opts.certificate : make_test_certificate();
      st_->ssl.emplace(asio::ssl::context::tls_server);
      st_->ssl->use_certificate_chain(asio::buffer(cert_.cert_pem));
      st_->ssl->use_private_key(asio::buffer(cert_.key_pem), asio::ssl::context::pem);
      ca_file_ = (std::filesystem::temp_directory_path() /
                  ("autointerp-fake-llm-" + std::to_string(::getpid()) + "-" + std::to_string(port_) + ".pem"))
                     .string();
      std::ofstream(ca_file_) << cert_.cert_pem;
    }
    asio::co_spawn(ex, accept_loop(st_), asio::detached);
  }
  ~fake_llm_server() {
    stop();
    if (!ca_file_.empty()) {
      std::error_code ec;
      std::filesystem::remove(ca_file_, ec);
    }
  }
  fake_llm_server(fake_llm_server const&) = delete;
  fake_llm_server& operator=(fake_llm_server const&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  bool tls() const noexcept { return st_->ssl.has_value(); }
  /// "http://127.0.0.1:PORT/v1" (https for a TLS server): the base URL for `llm::local`.
  std::string base_url() const {
    return std::string(tls() ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + "/v1";
  }
  /// A PEM file holding the server's certificate (TLS only): the client's `ca_file`.
  std::string const& ca_file() const noexcept { return ca_file_; }
  test_certificate const& certificate() const noexcept { return cert_; }
  std::size_t connections() const noexcept { return st_->connections.load(); }
  std::size_t requests() const noexcept { return st_->requests.load(); }
  /// Embeddings requests received (all of them: also those answered with a fault), and the texts
  /// in their "input".
  std::size_t embedding_requests() const noexcept { return st_->embedding_requests.load(); }
  std::size_t embedding_inputs() const noexcept { return st_->embedding_inputs.load(); }
  /// Replaces the handler (call on the server's executor, or before requests arrive).
  void set_handler(fake_handler h) { st_->handler = std::move(h); }

  /// Closes the listener and every connection, and ends every delay. Safe from any thread; idempotent.
  void stop() {
    auto st = st_;
    boost::asio::dispatch(st->ex, [st] {
      if (st->stopped.exchange(true)) return;
      boost::system::error_code ec;
      st->acceptor.close(ec);
      for (auto& w : st->sessions)
        if (auto s = w.lock()) s->close();
      st->sessions.clear();
    });
  }

 private:
  struct session_base {
    virtual ~session_base() = default;
    virtual void close() = 0;
  };
  template <class Stream>
  struct session : session_base {
    Stream stream;
    boost::asio::steady_timer timer;
    template <class... Args>
    explicit session(boost::asio::any_io_executor ex, Args&&... args) : stream(std::forward<Args>(args)...), timer(ex) {}
    void close() override {
      boost::system::error_code ec;
      boost::beast::get_lowest_layer(stream).socket().close(ec);
      timer.cancel();
    }
  };
  struct state {
    boost::asio::any_io_executor ex;
    fake_detail::tcp::acceptor acceptor;
    std::optional<boost::asio::ssl::context> ssl;
    fake_handler handler;
    std::atomic<std::size_t> connections{0}, requests{0}, embedding_requests{0}, embedding_inputs{0};
    std::atomic<bool> stopped{false};
    bool light = false;
    std::list<std::weak_ptr<session_base>> sessions;
    explicit state(boost::asio::any_io_executor e) : ex(e), acceptor(e) {}
  };

  static void reset(boost::beast::tcp_stream& s) {
    boost::system::error_code ec;
    s.socket().set_option(boost::asio::socket_base::linger(true, 0), ec);
    s.socket().close(ec);
  }

  template <class Stream>
  static boost::asio::awaitable<void> serve(std::shared_ptr<state> st, std::shared_ptr<session<Stream>> ss, std::size_t conn) {
    using namespace fake_detail;
    auto& lowest = beast::get_lowest_layer(ss->stream);
    beast::flat_buffer buf;
    buf.reserve(16 * 1024);
    for (std::size_t on_conn = 0;; ++on_conn) {
      http::request_parser<http::string_body> p;
      p.body_limit(64u << 20);
      auto [ec, n] = co_await http::async_read(ss->stream, buf, p, nothrow);
      (void)n;
      if (ec || st->stopped) co_return;
      auto req = p.release();
      fake_request fr;
      fr.method = std::string(req.method_string());
      fr.target = std::string(req.target());
      fr.body = std::move(req.body());
      bool const embeddings = fr.is_embeddings();
      if (!st->light) {
        for (auto const& f : req) {
          std::string name(f.name_string());
          for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          fr.headers[name] = std::string(f.value());
        }
      }
      if (!st->light || embeddings) {  // embeddings are answered from their JSON, even when light
        boost::system::error_code jec;
        fr.json = boost::json::parse(fr.body, jec);
        if (jec) fr.json = nullptr;
      }
      fr.index = st->requests++;
      if (embeddings) {
        ++st->embedding_requests;
        st->embedding_inputs += fr.inputs().size();
      }
      fr.connection = conn;
      fr.on_connection = on_conn;
      fake_reply r = st->handler ? st->handler(fr) : embeddings ? fake_reply::embeddings(fr) : fake_reply::completion("ok");
      if (r.what == fake_reply::action::hang) r.delay = std::chrono::hours(24 * 365);
      if (r.delay.count() > 0) {
        ss->timer.expires_after(r.delay);
        (void)co_await ss->timer.async_wait(nothrow);
        if (st->stopped) co_return;
      }
      switch (r.what) {
        case fake_reply::action::hang:
        case fake_reply::action::reset_before_headers: reset(lowest); co_return;
        case fake_reply::action::reset_after_headers: {
          std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
          (void)co_await asio::async_write(ss->stream, asio::buffer(head), nothrow);
          reset(lowest);
          co_return;
        }
        case fake_reply::action::truncated_body: {
          if (r.body.empty()) r.body = fake_reply::completion("this answer will be cut").body;
          std::string head = "HTTP/1.1 " + std::to_string(r.status) + " OK\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(r.body.size()) + "\r\n\r\n" + r.body.substr(0, r.body.size() / 2);
          (void)co_await asio::async_write(ss->stream, asio::buffer(head), nothrow);
          boost::system::error_code ec2;
          lowest.socket().shutdown(tcp::socket::shutdown_both, ec2);
          lowest.socket().close(ec2);
          co_return;
        }
        case fake_reply::action::raw_then_close: {
          (void)co_await asio::async_write(ss->stream, asio::buffer(r.body), nothrow);
          boost::system::error_code ec2;
          lowest.socket().shutdown(tcp::socket::shutdown_both, ec2);
          lowest.socket().close(ec2);
          co_return;
        }
        case fake_reply::action::respond: break;
      }
      // Written by hand rather than through Beast's serializer: cheaper, which matters in benchmarks.
      bool keep = !r.close && req.keep_alive();
      std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " +
                         std::string(http::obsolete_reason(static_cast<http::status>(r.status))) + "\r\n";
      for (auto const& [k, v] : r.headers) head += k + ": " + v + "\r\n";
      head += keep ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
      head += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n";
      std::array<asio::const_buffer, 2> out{asio::buffer(head), asio::buffer(r.body)};
      boost::system::error_code wec;
      if (!st->ssl || r.body.size() <= 16 * 1024) {
        auto [e, wn] = co_await asio::async_write(ss->stream, out, nothrow);
        (void)wn;
        wec = e;
      } else {
        // Over TLS, a body above one TLS record goes out one record's worth per write: in one
        // write the server stalled after the header (seen with 30 KB bodies).
        auto [e, wn] = co_await asio::async_write(ss->stream, asio::buffer(head), nothrow);
        (void)wn;
        wec = e;
        for (std::size_t at = 0; !wec && at < r.body.size(); at += 16 * 1024) {
          auto [e2, wn2] = co_await asio::async_write(
              ss->stream, asio::buffer(r.body.data() + at, std::min<std::size_t>(16 * 1024, r.body.size() - at)), nothrow);
          (void)wn2;
          wec = e2;
        }
      }
      if (wec || !keep) {
        boost::system::error_code ec2;
        lowest.socket().shutdown(tcp::socket::shutdown_send, ec2);
        lowest.socket().close(ec2);
        co_return;
      }
    }
  }

  static boost::asio::awaitable<void> accept_loop(std::shared_ptr<state> st) {
    using namespace fake_detail;
    for (;;) {
      auto [ec, sock] = co_await st->acceptor.async_accept(nothrow);
      if (st->stopped) co_return;
      if (ec) {
        if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
        continue;
      }
      boost::system::error_code ignored;
      sock.set_option(tcp::no_delay(true), ignored);
      std::size_t conn = st->connections++;
      // Forget sessions that ended, so long benchmarks do not grow the list.
      st->sessions.remove_if([](auto const& w) { return w.expired(); });
      if (st->ssl) {
        using stream_t = beast::ssl_stream<beast::tcp_stream>;
        auto ss = std::make_shared<session<stream_t>>(st->ex, beast::tcp_stream(std::move(sock)), *st->ssl);
        st->sessions.push_back(ss);
        asio::co_spawn(
            st->ex,
            [st, ss, conn]() -> asio::awaitable<void> {
              beast::get_lowest_layer(ss->stream).expires_after(std::chrono::seconds(10));
              auto [hec] = co_await ss->stream.async_handshake(asio::ssl::stream_base::server, nothrow);
              beast::get_lowest_layer(ss->stream).expires_never();
              if (hec) co_return;
              co_await serve(st, ss, conn);
            },
            asio::detached);
      } else {
        auto ss = std::make_shared<session<beast::tcp_stream>>(st->ex, std::move(sock));
        st->sessions.push_back(ss);
        asio::co_spawn(st->ex, serve(st, ss, conn), asio::detached);
      }
    }
  }

  std::shared_ptr<state> st_;
  std::uint16_t port_ = 0;
  test_certificate cert_;
  std::string ca_file_;
};

/// A tiny HTTP CONNECT proxy on 127.0.0.1 (plain HTTP to the proxy, then a raw tunnel). Counts the
/// tunnels and remembers the last CONNECT target and Proxy-Authorization header. Answers 407 when
/// `require_auth` is set and the header differs.
class connect_proxy {
 public:
  explicit connect_proxy(boost::asio::any_io_executor ex, std::string require_auth = {})
      : st_(std::make_shared<state>(ex)) {
    using namespace fake_detail;
    st_->require_auth = std::move(require_auth);
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    st_->acceptor.open(ep.protocol());
    st_->acceptor.bind(ep);
    st_->acceptor.listen();
    port_ = st_->acceptor.local_endpoint().port();
    asio::co_spawn(ex, accept_loop(st_), asio::detached);
  }
  ~connect_proxy() { stop(); }
  std::uint16_t port() const noexcept { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::size_t tunnels() const noexcept { return st_->tunnels.load(); }
  std::string last_target() const {
    std::lock_guard lock(st_->mutex);
    return st_->last_target;
  }
  std::string last_authorization() const {
    std::lock_guard lock(st_->mutex);
    return st_->last_auth;
  }
  void stop() {
    auto st = st_;
    boost::asio::dispatch(st->ex, [st] {
      st->stopped = true;
      boost::system::error_code ec;
      st->acceptor.close(ec);
      for (auto& w : st->sockets)
        if (auto s = w.lock()) s->close(ec);
    });
  }

 private:
  struct state {
    boost::asio::any_io_executor ex;
    fake_detail::tcp::acceptor acceptor;
    std::string require_auth;
    std::atomic<std::size_t> tunnels{0};
    std::atomic<bool> stopped{false};
    mutable std::mutex mutex;
    std::string last_target, last_auth;
    std::list<std::weak_ptr<fake_detail::tcp::socket>> sockets;
    explicit state(boost::asio::any_io_executor e) : ex(e), acceptor(e) {}
  };

  static boost::asio::awaitable<void> pump(std::shared_ptr<fake_detail::tcp::socket> from,
                                           std::shared_ptr<fake_detail::tcp::socket> to) {
    using namespace fake_detail;
    std::array<char, 16384> data;
    for (;;) {
      auto [ec, n] = co_await from->async_read_some(asio::buffer(data), nothrow);
      if (ec) break;
      auto [wec, wn] = co_await asio::async_write(*to, asio::buffer(data.data(), n), nothrow);
      (void)wn;
      if (wec) break;
    }
    boost::system::error_code ignored;
    to->shutdown(tcp::socket::shutdown_send, ignored);
    from->close(ignored);
  }

  static boost::asio::awaitable<void> tunnel(std::shared_ptr<state> st, std::shared_ptr<fake_detail::tcp::socket> client) {
    using namespace fake_detail;
    beast::flat_buffer buf;
    http::request_parser<http::empty_body> p;
    auto [ec, n] = co_await http::async_read_header(*client, buf, p, nothrow);
    (void)n;
    if (ec) co_return;
    auto const& req = p.get();
    std::string target(req.target());
    std::string auth(req[http::field::proxy_authorization]);
    {
      std::lock_guard lock(st->mutex);
      st->last_target = target;
      st->last_auth = auth;
    }
    auto reply = [&](std::string const& text) -> asio::awaitable<void> {
      (void)co_await asio::async_write(*client, asio::buffer(text), nothrow);
    };
    if (req.method() != http::verb::connect) {
      co_await reply("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
      co_return;
    }
    if (!st->require_auth.empty() && auth != st->require_auth) {
      co_await reply("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n");
      co_return;
    }
    auto colon = target.rfind(':');
    auto upstream = std::make_shared<tcp::socket>(st->ex);
    boost::system::error_code cec;
    if (colon != std::string::npos) {
      std::string host = target.substr(0, colon);
      if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
      auto addr = asio::ip::make_address(host, cec);
      if (!cec) {
        auto [e2] = co_await upstream->async_connect(
            tcp::endpoint(addr, static_cast<unsigned short>(std::stoi(target.substr(colon + 1)))), nothrow);
        cec = e2;
      }
    }
    if (colon == std::string::npos || cec) {
      co_await reply("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
      co_return;
    }
    st->sockets.push_back(upstream);
    ++st->tunnels;
    co_await reply("HTTP/1.1 200 Connection established\r\n\r\n");
    if (buf.size()) {  // bytes the client sent after the CONNECT header
      (void)co_await asio::async_write(*upstream, buf.data(), nothrow);
      buf.consume(buf.size());
    }
    asio::co_spawn(st->ex, pump(upstream, client), asio::detached);
    co_await pump(client, upstream);
  }

  static boost::asio::awaitable<void> accept_loop(std::shared_ptr<state> st) {
    using namespace fake_detail;
    for (;;) {
      auto sock = std::make_shared<tcp::socket>(st->ex);
      auto [ec] = co_await st->acceptor.async_accept(*sock, nothrow);
      if (ec || st->stopped) co_return;
      st->sockets.remove_if([](auto const& w) { return w.expired(); });
      st->sockets.push_back(sock);
      asio::co_spawn(st->ex, tunnel(st, sock), asio::detached);
    }
  }

  std::shared_ptr<state> st_;
  std::uint16_t port_ = 0;
};

}  // namespace autointerp::testing
