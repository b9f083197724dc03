// The shared basics: errors and running CPU work off the caller's thread.
#include <autointerp/error.hpp>
#include <autointerp/run_on.hpp>
#include <autointerp/with_diagnostics.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace asio = boost::asio;
using autointerp::errc;
using autointerp::result;

TEST(error, carries_code_message_and_remote_text_apart) {
  auto e = autointerp::make_error(errc::unauthorized, "401 from example.com: the API key was rejected",
                                  "invalid key");
  EXPECT_TRUE(e == errc::unauthorized);
  EXPECT_EQ(e.code.category().name(), std::string("autointerp"));
  EXPECT_EQ(e.code.message(), "API key rejected");
  EXPECT_EQ(e.what(), "401 from example.com: the API key was rejected (server said: invalid key)");
}

TEST(error, result_value_throws_our_exception_with_the_message) {
  result<int> r = autointerp::make_error(errc::file_not_found, "cache/x: no such folder");
  try {
    (void)r.value();
    FAIL() << "value() of an error must throw";
  } catch (autointerp::exception const& ex) {
    EXPECT_TRUE(ex.get() == errc::file_not_found);
    EXPECT_NE(std::string(ex.what()).find("cache/x: no such folder"), std::string::npos);
  }
}

TEST(run_on, runs_on_the_pool_and_resumes_on_the_io_thread) {
  asio::io_context io;
  asio::thread_pool pool(1);
  std::thread::id io_thread = std::this_thread::get_id(), work_thread, resumed_thread;
  int value = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        int r = co_await autointerp::async_run_on(pool.get_executor(), [&]() -> result<int> {
          work_thread = std::this_thread::get_id();
          return 42;
        });
        resumed_thread = std::this_thread::get_id();
        value = r;
      },
      asio::detached);
  io.run();
  pool.join();
  EXPECT_EQ(value, 42);
  EXPECT_NE(work_thread, io_thread);
  EXPECT_EQ(resumed_thread, io_thread);
}

TEST(run_on, exceptions_become_errors_and_futures_work) {
  asio::thread_pool pool(1);
  auto f = autointerp::async_run_on(
      pool.get_executor(), []() -> result<int> { throw std::runtime_error("boom"); },
      autointerp::as_result(asio::use_future));
  auto r = f.get();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("boom"), std::string::npos);
}

TEST(error, conditions_group_codes_by_area_and_internal_errors_name_the_place) {
  using autointerp::condition;
  boost::system::error_code const tls = autointerp::make_error_code(errc::tls_failed);
  EXPECT_TRUE(tls == condition::llm);
  EXPECT_FALSE(tls == condition::cache);
  EXPECT_TRUE(autointerp::make_error_code(errc::corrupt_zstd) == condition::cache);
  EXPECT_TRUE(autointerp::make_error_code(errc::too_few_examples) == condition::records);
  EXPECT_TRUE(autointerp::make_error_code(errc::token_out_of_range) == condition::tokenizer);
  EXPECT_TRUE(autointerp::make_error_code(errc::write_failed) == condition::output);
  EXPECT_TRUE(autointerp::make_error_code(errc::cancelled) == condition::cancelled);
  EXPECT_TRUE(boost::system::error_code(asio::error::operation_aborted) == condition::cancelled);
  EXPECT_FALSE(autointerp::make_error_code(errc::internal) == condition::llm);
  EXPECT_TRUE(autointerp::is_fatal(autointerp::make_error_code(errc::payment_required)));
  EXPECT_FALSE(autointerp::is_fatal(autointerp::make_error_code(errc::forbidden)));
  autointerp::error e;
  try {
    throw std::runtime_error("boom");
  } catch (...) {
    e = autointerp::internal_error("the test");
  }
  EXPECT_TRUE(e == errc::internal);
  EXPECT_NE(e.message.find("the test: boom"), std::string::npos) << e.message;
  autointerp::diagnostics d;
  d.assign(autointerp::make_error(errc::rate_limited, "our words", "their words"));
  EXPECT_EQ(d.what(), "our words (server said: their words)");
  EXPECT_EQ(d.to_error(autointerp::make_error_code(errc::rate_limited)).remote, "their words");
}
