// Proves that the installed or embedded package compiles, links and runs a coroutine and an
// out-of-line function (inline when header-only, from autointerp_src.cpp when compiled separately).
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
  bool const escaped = autointerp::report::html_escape("<b>") == "&lt;b&gt;";
  std::printf("consumer: %d, %s\n", answer, escaped ? "escaped" : "not escaped");
  return answer == 42 && escaped ? 0 : 1;
}
