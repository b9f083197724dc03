// 01_open_cache: open a latent cache, list its modules, load one latent's activations.
//   01_open_cache CACHE [MODULE LATENT]        e.g. 01_open_cache examples/data/cache layers.6 69
//
// Every SDK operation is `async_xxx(args..., token = asio::deferred)`: inside a coroutine a plain
// `co_await` runs it and returns its value, or throws boost::system::system_error on failure (02
// and 03 show how to keep the error's full text). Decoding shards is CPU work, so it runs on a
// thread pool, and the coroutine waits for it without blocking its own thread.
#include <autointerp/cache/dataset.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <iostream>
#include <string>

namespace asio = boost::asio;
using namespace autointerp;

asio::awaitable<void> show(asio::thread_pool::executor_type cpu, std::filesystem::path root, std::string module,
                           std::uint32_t latent) {
  // Pass variables, not temporaries made inside the co_await expression (no `std::string("...")`,
  // no `{...}` options): g++ 12 may destroy such temporaries twice.
  cache::dataset data = co_await cache::dataset::async_open(cpu, root);
  for (cache::module_info const& m : data.modules())
    std::cout << "module " << m.name << ": " << m.width << " latents, " << m.rows << " rows of " << m.ctx_len
              << " tokens, " << m.shards.size() << " shards\n";
  if (module.empty()) co_return;

  cache::latent_activations acts = co_await data.async_load_latent(cpu, module, latent);
  std::cout << module << " latent " << latent << ": " << acts.size() << " activations";
  if (!acts.empty()) {
    auto strongest = std::max_element(acts.values.begin(), acts.values.end()) - acts.values.begin();
    std::cout << ", strongest " << acts.values[strongest] << " at row " << acts.rows[strongest] << " position "
              << acts.positions[strongest];
  }
  std::cout << "\n";
}

int main(int argc, char** argv) try {
  if (argc != 2 && argc != 4) return std::cerr << "usage: 01_open_cache CACHE [MODULE LATENT]\n", 2;
  asio::io_context io;       // where the coroutine runs (an application's I/O thread)
  asio::thread_pool cpu(2);  // where files are read and decoded
  std::string module = argc == 4 ? argv[2] : "";
  auto latent = static_cast<std::uint32_t>(argc == 4 ? std::stoul(argv[3]) : 0);
  auto done = asio::co_spawn(io, show(cpu.get_executor(), argv[1], module, latent), asio::use_future);
  io.run();
  done.get();  // rethrows what the coroutine threw
  return 0;
} catch (std::exception const& e) {
  std::cerr << "01_open_cache: " << e.what() << "\n";
  return 1;
}
