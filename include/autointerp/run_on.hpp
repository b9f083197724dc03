#pragma once
// Run CPU-bound work on another executor and complete on the caller's.

#include <autointerp/error.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <exception>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace autointerp {

namespace detail {
template <class T>
struct is_result : std::false_type {};
template <class T>
struct is_result<result<T>> : std::true_type {};
}  // namespace detail

/// Runs `fn()` on `cpu` (for example an `asio::thread_pool` executor) and delivers its `result<T>`
/// to the completion handler through the handler's associated executor, so a coroutine on an
/// io_context resumes on its own thread and never waits for the CPU work.
///
/// `fn` must return `result<T>`; an exception it throws (such as `std::bad_alloc`) is turned into an
/// error rather than crossing threads. Cancellation: a terminal cancellation that arrives before
/// `fn` starts skips it and completes with `errc::cancelled`; once started, `fn` runs to the end.
template <class Executor, class Fn, class CompletionToken = boost::asio::deferred_t>
auto async_run_on(Executor cpu, Fn fn, CompletionToken&& token = {}) {
  using R = std::invoke_result_t<Fn&>;
  static_assert(detail::is_result<R>::value, "async_run_on: fn must return autointerp::result<T>");
  auto initiation = [](auto handler, Executor cpu, Fn fn) {
    auto io = boost::asio::get_associated_executor(handler);
    auto work = boost::asio::make_work_guard(io);
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      slot.assign([cancelled](boost::asio::cancellation_type type) {
        if ((type & boost::asio::cancellation_type::terminal) != boost::asio::cancellation_type::none)
          cancelled->store(true);
      });
    }
    boost::asio::post(cpu, [handler = std::move(handler), fn = std::move(fn), work = std::move(work),
                            cancelled]() mutable {
      R r = [&]() -> R {
        if (cancelled->load()) return make_error(errc::cancelled, "cancelled before the work started");
        try {
          return fn();
        } catch (std::bad_alloc const&) {
          return make_error(errc::memory_budget, "out of memory while running CPU work");
        } catch (std::exception const& e) {
          return make_error(errc::bad_option, std::string("unexpected failure in CPU work: ") + e.what());
        }
      }();
      auto io = work.get_executor();
      boost::asio::post(io, [handler = std::move(handler), r = std::move(r)]() mutable {
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) slot.clear();
        std::move(handler)(std::move(r));
      });
      // Only now: releasing the guard first could let a running io_context run out of work and
      // stop before the completion is queued.
      work.reset();
    });
  };
  return boost::asio::async_initiate<CompletionToken, void(R)>(initiation, token, std::move(cpu),
                                                                std::move(fn));
}

}  // namespace autointerp
