// asio_server: explanations on demand inside an existing Beast HTTP server.
//   asio_server CACHE [PORT] [TOKENIZER_JSON]      then: curl http://127.0.0.1:PORT/explain/<module>/<latent>
//
// The server owns its io_context, as an application would; each request co_awaits the SDK on it.
// One LLM client (one connection pool, one retry budget) and one CPU pool serve every request, and
// at most `max_in_flight` explanations run at once; the rest wait their turn without blocking I/O.
// Prints "listening on 127.0.0.1:PORT" once ready; SIGINT or SIGTERM stops it.
#include <autointerp/cache/dataset.hpp>
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
#include <boost/json/serialize.hpp>

#include <charconv>
#include <iostream>

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace autointerp;
using tcp = asio::ip::tcp;

// The parts every request shares, and a limit on explanations in flight.
struct explainer_service {
  pipeline::explain_context ctx;
  std::size_t in_flight = 0, max_in_flight = 8;
  asio::steady_timer turn;  // cancelled whenever a slot frees up, to wake the waiters

  asio::awaitable<pipeline::latent_outcome> explain(cache::latent_id id) {
    while (in_flight >= max_in_flight) {
      turn.expires_at(asio::steady_timer::time_point::max());
      co_await turn.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    ++in_flight;
    auto op = pipeline::explain_latent(ctx, std::move(id));  // made apart from co_await: a g++ 12 bug
    auto out = co_await std::move(op);
    --in_flight;
    turn.cancel();
    co_return out;
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

asio::awaitable<void> session(tcp::socket socket, explainer_service& service) {
  boost::beast::tcp_stream stream(std::move(socket));
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read(stream, buffer, req, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    auto id = req.method() == http::verb::get ? parse_target(req.target()) : std::nullopt;
    if (!id) {
      res.result(http::status::not_found);
      res.body() = R"({"error":"use GET /explain/<module>/<latent>"})";
    } else {
      stream.expires_never();  // an LLM call may take a while; the client has its own timeouts
      auto op = service.explain(*id);
      auto out = co_await std::move(op);
      res.body() = boost::json::serialize(pipeline::to_json(out));
      if (out.status == pipeline::latent_status::failed)
        res.result(out.error && (*out.error == errc::unknown_module || *out.error == errc::latent_out_of_range)
                       ? http::status::not_found
                       : http::status::bad_gateway);
    }
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !res.keep_alive()) co_return;
  }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor, explainer_service& service) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // closed on shutdown
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket), service), asio::detached);
  }
}

int main(int argc, char** argv) try {
  if (argc < 2) return std::cerr << "usage: asio_server CACHE [PORT] [TOKENIZER_JSON]\n", 2;
  asio::io_context io;
  asio::thread_pool cpu(2);
  explainer_service service{{}, 0, 8, asio::steady_timer(io)};
  service.ctx.data = cache::dataset::open(argv[1]).value();
  if (argc > 3) service.ctx.tokens = std::make_shared<tokenizer::tokenizer const>(tokenizer::load_tokenizer(argv[3]).value());
  service.ctx.cpu = cpu.get_executor();
  service.ctx.records.min_examples = 1;
  std::optional<llm::client> client;  // with OPENROUTER_API_KEY an LLM explains, else the statistical baseline
  if (auto endpoint = llm::openrouter()) {
    llm::client_options options;
    options.endpoint = *endpoint;
    client.emplace(io.get_executor(), std::move(options));
    service.ctx.backend = pipeline::explainer_backend::llm;
    service.ctx.client = &*client;
    service.ctx.model = "openai/gpt-4o-mini";
  }
  auto port = static_cast<unsigned short>(argc > 2 ? std::stoul(argv[2]) : 8080);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), port});
  std::cout << "listening on 127.0.0.1:" << acceptor.local_endpoint().port() << std::endl;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) {
    acceptor.close();
    io.stop();  // sessions in flight are abandoned; a production server would drain them
  });
  asio::co_spawn(io, listen(acceptor, service), asio::detached);
  io.run();
  return 0;
} catch (std::exception const& e) {
  std::cerr << "asio_server: " << e.what() << "\n";
  return 2;
}
