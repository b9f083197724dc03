#pragma once
// Run CPU-bound work on another executor and complete on the caller's.

#include <autointerp/detail/async_op.hpp>
#include <autointerp/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <memory>
#include <type_traits>
#include <utility>

namespace autointerp {

namespace detail {
template <class T>
struct is_result : std::false_type {};
template <class T>
struct is_result<result<T>> : std::true_type {};
template <class R>
struct result_value;
template <class T>
struct result_value<result<T>> {
  using type = T;
};

struct run_on_initiation {
  template <class Handler, class Executor, class Fn>
  void operator()(Handler handler, diagnostics* diag, Executor cpu, Fn fn) const {
    using R = std::invoke_result_t<Fn&>;
    using T = typename result_value<R>::type;
    auto io = boost::asio::get_associated_executor(handler, cpu);
    auto work = boost::asio::make_work_guard(io);
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      slot.assign([cancelled](boost::asio::cancellation_type type) {
        if ((type & boost::asio::cancellation_type::terminal) != boost::asio::cancellation_type::none)
          cancelled->store(true);
      });
    }
    boost::asio::post(cpu, [handler = std::move(handler), diag, fn = std::move(fn), work = std::move(work),
                            cancelled]() mutable {
      R r = [&]() -> R {
        if (cancelled->load()) return make_error(errc::cancelled, "cancelled before the work started");
        try {
          return fn();
        } catch (...) {
          return internal_error("CPU work run by async_run_on");
        }
      }();
      auto io = work.get_executor();
      boost::asio::post(io, [handler = std::move(handler), diag, r = std::move(r)]() mutable {
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) slot.clear();
        deliver<T>(std::move(handler), diag, std::move(r));
      });
      // Only now: releasing the guard first could let a running io_context run out of work and
      // stop before the completion is queued.
      work.reset();
    });
  }
};
}  // namespace detail

/// Runs `fn()` (returning `result<T>`) on `cpu`, for example an `asio::thread_pool` executor, and
/// completes on the caller's side, so a coroutine on an io_context never waits for CPU work.
///
/// - Handler signature: `void(error_code, T)` (`void(error_code)` for `result<void>`).
/// - Completion executor: the handler's associated executor; without one, `cpu`.
/// - Lifetimes: `fn` is moved in and destroyed on `cpu`; it must own or outlive what it uses.
/// - Cancellation: `terminal` before `fn` starts skips it (`errc::cancelled`); once started, `fn`
///   runs to the end.
/// - Errors: those of `fn`; an exception it throws becomes `errc::internal`.
/// - Thread-safety: `fn` runs on a thread of `cpu`, concurrently with the caller.
template <class Executor, class Fn, class CompletionToken = boost::asio::deferred_t>
  requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
auto async_run_on(Executor const& cpu, Fn fn, CompletionToken&& token = {}) {
  using R = std::invoke_result_t<Fn&>;
  static_assert(detail::is_result<R>::value, "async_run_on: fn must return autointerp::result<T>");
  return boost::asio::async_initiate<CompletionToken, detail::signature_t<typename detail::result_value<R>::type>>(
      detail::run_on_initiation{}, token, static_cast<diagnostics*>(nullptr), cpu, std::move(fn));
}

/// `async_run_on` keeping the error's text in `diag`.
template <class Executor, class Fn, class CompletionToken = boost::asio::deferred_t>
auto async_run_on(Executor const& cpu, Fn fn, diagnostics& diag, CompletionToken&& token = {}) {
  using R = std::invoke_result_t<Fn&>;
  static_assert(detail::is_result<R>::value, "async_run_on: fn must return autointerp::result<T>");
  return boost::asio::async_initiate<CompletionToken, detail::signature_t<typename detail::result_value<R>::type>>(
      detail::run_on_initiation{}, token, &diag, cpu, std::move(fn));
}

}  // namespace autointerp
