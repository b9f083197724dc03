// Proves that the installed or embedded package compiles, links and runs a coroutine.
#include <autointerp/autointerp.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstdio>

int main() {
  boost::asio::io_context io;
  boost::asio::thread_pool pool(1);
  int answer = 0;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        answer = co_await autointerp::async_run_on(pool.get_executor(),
                                                   []() -> autointerp::result<int> { return 42; });
      },
      boost::asio::detached);
  io.run();
  pool.join();
  std::printf("consumer: %d\n", answer);
  return answer == 42 ? 0 : 1;
}
