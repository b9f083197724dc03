// 06_asio_server: explanations on demand inside an existing Beast HTTP server.
//   06_asio_server CACHE [PORT] [TOKENIZER_JSON]      then: curl http://127.0.0.1:PORT/explain/<module>/<latent>
//
// The server owns its io_context, as an application would; each request co_awaits the SDK on it.
// One LLM client (one connection pool, one retry budget) and one CPU pool serve every request, and
// at most `max_in_flight` explanations run at once; the rest wait their turn without blocking I/O.
// An LLM explains when OPENROUTER_API_KEY is set, or AUTOINTERP_BASE_URL names a local
// OpenAI-compatible server; otherwise the statistical baseline does. Prints "listening on
// 127.0.0.1:PORT" once ready. SIGINT or SIGTERM drains: no new connections, idle ones are closed,
// requests in flight get their answer (with Connection: close), then it exits; a second signal
// stops at once.
#include <autointerp/cache/dataset.hpp>
#include <autointerp/explain/llm_explainer.hpp>
#include <autointerp/explain/statistical_explainer.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/pipeline/explain_latent.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <set>

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace autointerp;
using tcp = asio::ip::tcp;

// What a request gets back.
struct answer {
  boost::system::error_code ec;
  std::string message;  // our words when ec is set
  explain::explanation explanation;
};

// The parts every request shares, and a limit on explanations in flight.
struct explainer_service {
  pipeline::job_sources sources;
  records::load_options options;
  std::unique_ptr<explain::explainer> explainer;
  std::size_t in_flight = 0, max_in_flight = 8;
  asio::steady_timer turn;  // cancelled whenever a slot frees up, to wake the waiters

  asio::awaitable<answer> explain(cache::latent_id const& id) {
    while (in_flight >= max_in_flight) {
      turn.expires_at(asio::steady_timer::time_point::max());
      co_await turn.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    ++in_flight;
    diagnostics diag;
    auto [ec, out] = co_await pipeline::async_explain_latent(*explainer, sources, options, id, diag,
                                                             asio::as_tuple(asio::use_awaitable));
    --in_flight;
    turn.cancel();
    co_return answer{ec, ec ? diag.to_error(ec).what() : std::string(), std::move(out)};
  }
};

// The open connections, so that a shutdown can close the idle ones and let the busy ones answer.
struct connections {
  std::set<boost::beast::tcp_stream*> idle;  // waiting for their next request
  std::size_t open = 0;
  bool stopping = false;
  std::function<void()> on_drained;  // called once the last connection is gone while stopping

  void stop() {
    stopping = true;
    for (auto* s : idle) s->close();  // their pending read ends with an error
    if (open == 0 && on_drained) on_drained();
  }
};

// "/explain/<module>/<latent>" -> the latent, or nothing.
std::optional<cache::latent_id> parse_target(std::string_view t) {
  constexpr std::string_view prefix = "/explain/";
  if (!t.starts_with(prefix)) return std::nullopt;
  t.remove_prefix(prefix.size());
  auto slash = t.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  std::uint32_t index = 0;
  auto digits = t.substr(slash + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty()) return std::nullopt;
  return cache::latent_id{std::string(t.substr(0, slash)), index};
}

asio::awaitable<void> session(tcp::socket socket, explainer_service& service, connections& conns) {
  boost::beast::tcp_stream stream(std::move(socket));
  ++conns.open;
  struct leave {  // runs however the session ends
    connections& c;
    ~leave() {
      if (--c.open == 0 && c.stopping && c.on_drained) c.on_drained();
    }
  } on_exit{conns};
  boost::beast::flat_buffer buffer;
  while (!conns.stopping) {
    http::request<http::string_body> req;
    stream.expires_after(std::chrono::seconds(30));
    conns.idle.insert(&stream);
    auto [ec, n] = co_await http::async_read(stream, buffer, req, asio::as_tuple(asio::use_awaitable));
    conns.idle.erase(&stream);
    if (ec) co_return;
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    auto id = req.method() == http::verb::get ? parse_target(req.target()) : std::nullopt;
    if (!id) {
      res.result(http::status::not_found);
      res.body() = R"({"error":"use GET /explain/<module>/<latent>"})";
    } else {
      stream.expires_never();  // an LLM call may take a while; the client has its own timeouts
      auto out = co_await service.explain(*id);
      boost::json::object body{{"module", id->module}, {"latent", id->index}};
      if (out.ec) {
        body["status"] = out.ec == errc::too_few_examples ? "skipped" : "failed";
        body["error"] = out.message;
        res.result(out.ec == errc::unknown_module || out.ec == errc::latent_out_of_range ? http::status::not_found
                   : out.ec == errc::too_few_examples                                   ? http::status::ok
                                                                                         : http::status::bad_gateway);
      } else {
        bool const explained = out.explanation.kind == explain::answer_kind::explained;
        body["status"] = explained ? "explained" : "unparsed";
        body["explanation"] = explained ? out.explanation.text : out.explanation.raw_answer;
      }
      body["attempts"] = out.explanation.attempts;
      res.body() = boost::json::serialize(body);
    }
    res.keep_alive(req.keep_alive() && !conns.stopping);
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !res.keep_alive()) co_return;
  }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor, explainer_service& service, connections& conns) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // closed on shutdown
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket), service, conns), asio::detached);
  }
}

int main(int argc, char** argv) try {
  if (argc < 2) return std::cerr << "usage: 06_asio_server CACHE [PORT] [TOKENIZER_JSON]\n", 2;
  connections conns;  // declared before io: sessions io destroys after a hard stop still count down
  asio::io_context io;
  asio::thread_pool cpu(2);
  explainer_service service{.sources = {.data = cache::dataset::open(argv[1]).value(), .tokens = {}, .cpu = cpu.get_executor()},
                            .options = {.records = {.min_examples = 1}, .neighbours = {}},
                            .explainer = {},
                            .turn = asio::steady_timer(io)};
  if (argc > 3) service.sources.tokens = std::make_shared<tokenizer::tokenizer const>(tokenizer::load_tokenizer(argv[3]).value());
  std::optional<llm::client> client;
  std::optional<llm::endpoint> endpoint;
  if (char const* url = std::getenv("AUTOINTERP_BASE_URL"); url && *url) endpoint = llm::local(url);
  else if (auto openrouter = llm::openrouter()) endpoint = *openrouter;
  if (endpoint) {
    llm::client_options options;
    options.endpoint = *endpoint;
    client.emplace(io.get_executor(), std::move(options));
    explain::llm_explainer_options eo;
    eo.model = std::getenv("AUTOINTERP_BASE_URL") ? "default" : "openai/gpt-4o-mini";
    service.explainer = std::make_unique<explain::llm_explainer>(*client, std::move(eo));
  } else {
    service.explainer = std::make_unique<explain::statistical_explainer>(io.get_executor());
  }
  auto port = static_cast<unsigned short>(argc > 2 ? std::stoul(argv[2]) : 8080);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), port});
  std::cout << "listening on 127.0.0.1:" << acceptor.local_endpoint().port() << std::endl;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  conns.on_drained = [&] {
    if (client) client->close_idle_connections();
    signals.cancel();  // nothing is left to keep io.run() going
  };
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    acceptor.close();
    signals.async_wait([&](boost::system::error_code again, int) {
      if (!again) io.stop();  // a second signal: stop without waiting
    });
    conns.stop();
  });
  asio::co_spawn(io, listen(acceptor, service, conns), asio::detached);
  io.run();
  conns.on_drained = nullptr;  // the client and signal set go before io, which may still hold sessions
  return 0;
} catch (std::exception const& e) {
  std::cerr << "06_asio_server: " << e.what() << "\n";
  return 2;
}
