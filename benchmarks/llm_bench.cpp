// LLM client throughput against the in-process fake server (which runs on its own thread):
//  1. zero latency on loopback: requests/s at 1, 8 and 64 in flight, and the client's CPU time per
//     request (target: >= 5000 requests/s with 64 in flight on a 2-core machine);
//  2. 200 ms latency, 100 in flight: throughput as a fraction of in_flight / latency (target >= 0.95).
// Prints one line per figure. Arguments: [requests per zero-latency run] (default 20000).
#include <autointerp/llm/client.hpp>
#include <autointerp/with_diagnostics.hpp>

#include "fake_llm_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>

namespace asio = boost::asio;
namespace llm = autointerp::llm;
using autointerp::testing::fake_llm_server;
using autointerp::testing::fake_reply;
using autointerp::testing::fake_request;

namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

llm::chat_request bench_request() {
  llm::chat_request r;
  r.model = "bench/model";
  r.max_tokens = 200;
  r.messages = {{"system", "You explain what a sparse autoencoder latent responds to, in one sentence."},
                {"user", std::string(1500, 'x')}};  // about the size of a short explanation prompt
  return r;
}

struct run_result {
  double seconds = 0, client_cpu = 0;
  std::size_t ok = 0, failed = 0;
  std::uint64_t connections = 0;
};

/// `in_flight` workers each send `per_worker` requests back to back over one client.
run_result run(std::string const& base_url, std::size_t in_flight, std::size_t per_worker, bool warm_up) {
  asio::io_context io(1);
  llm::client_options o;
  o.endpoint = llm::local(base_url, "bench-key");
  o.proxy = llm::proxy_settings{};
  o.max_connections = in_flight;
  o.limits.max_in_flight = 0;
  llm::client c(io.get_executor(), o);
  run_result res;
  auto req = bench_request();
  auto worker = [&](std::size_t n) -> asio::awaitable<void> {
    for (std::size_t i = 0; i < n; ++i) {
      auto r = co_await c.async_chat(req, autointerp::as_result(asio::deferred));
      if (r) ++res.ok;
      else {
        if (res.failed++ == 0) std::fprintf(stderr, "llm_bench: %s\n", r.error().what().c_str());
      }
    }
  };
  if (warm_up) {  // open the pool's connections first, so the timed part measures steady state
    for (std::size_t w = 0; w < in_flight; ++w) asio::co_spawn(io, worker(1), asio::detached);
    io.run();
    io.restart();
    res = {};
  }
  auto t0 = std::chrono::steady_clock::now();
  double cpu0 = thread_cpu_seconds();
  for (std::size_t w = 0; w < in_flight; ++w) asio::co_spawn(io, worker(per_worker), asio::detached);
  io.run();
  res.client_cpu = thread_cpu_seconds() - cpu0;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  res.connections = c.stats().connections_opened;
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t total = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20000;
  if (total < 64) total = 64;

  asio::io_context server_io(1);
  auto reply = fake_reply::completion("The latent fires on closing brackets in code.");
  std::atomic<long> latency_ms{0};  // set between runs, read by the handler on the server thread
  fake_llm_server server(server_io.get_executor(), [&](fake_request const&) {
    auto r = reply;
    r.delay = std::chrono::milliseconds(latency_ms.load());
    return r;
  }, [] {
    autointerp::testing::fake_server_options o;
    o.light = true;
    return o;
  }());
  auto guard = asio::make_work_guard(server_io);
  std::thread server_thread([&] { server_io.run(); });

  bool all_ok = true;
  for (std::size_t in_flight : {1, 8, 64}) {
    std::size_t per_worker = std::max<std::size_t>(1, total / in_flight);
    auto r = run(server.base_url(), in_flight, per_worker, true);
    double rps = static_cast<double>(r.ok) / r.seconds;
    double cpu_us = r.client_cpu / static_cast<double>(r.ok + r.failed) * 1e6;
    bool target = in_flight != 64 || rps >= 5000;
    all_ok &= target && r.failed == 0;
    // The client's own ceiling: one core's worth of its CPU time per request (kernel TCP work included;
    // on loopback the sender's thread also runs the receiver's network stack).
    std::printf("llm_bench zero-latency in_flight=%zu: %.0f requests/s, client CPU %.1f us/request "
                "(= %.0f requests/s per client core), %zu ok, %zu failed, %llu connections%s\n",
                in_flight, rps, cpu_us, 1e6 / cpu_us, r.ok, r.failed, static_cast<unsigned long long>(r.connections),
                in_flight == 64 ? (target ? " (target >= 5000: met)" : " (target >= 5000: MISSED)") : "");
  }

  latency_ms = 200;
  {
    constexpr std::size_t in_flight = 100, rounds = 10;
    auto r = run(server.base_url(), in_flight, rounds, true);
    double ideal = static_cast<double>(in_flight) / 0.2;
    double rps = static_cast<double>(r.ok) / r.seconds;
    double ratio = rps / ideal;
    all_ok &= ratio >= 0.95 && r.failed == 0;
    std::printf("llm_bench latency=200ms in_flight=100: %.1f requests/s of ideal %.0f = ratio %.3f (target >= 0.95: %s), "
                "%zu ok, %zu failed, %llu connections\n",
                rps, ideal, ratio, ratio >= 0.95 ? "met" : "MISSED", r.ok, r.failed,
                static_cast<unsigned long long>(r.connections));
  }

  server.stop();
  guard.reset();
  server_thread.join();
  return all_ok ? 0 : 1;
}
