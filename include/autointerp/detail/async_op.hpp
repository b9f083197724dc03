#pragma once
// How autointerp builds its public async operations (internal): a coroutine of ours that yields
// `result<T>` becomes an operation completing with `void(error_code, T)`, diagnostics filled.

#include <autointerp/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/error_code.hpp>

#include <exception>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

namespace autointerp::detail {

template <class T>
struct signature_for {
  using type = void(boost::system::error_code, T);
};
template <>
struct signature_for<void> {
  using type = void(boost::system::error_code);
};
/// The completion signature of an operation whose value is `T`: `void(error_code, T)`.
template <class T>
using signature_t = typename signature_for<T>::type;

/// Calls `handler` with `r` in the public form. On error the value is `T{}` (or the `partial` value
/// when given, so that counters such as attempts survive a failure) and `diag` holds the text.
template <class T, class Handler>
void deliver(Handler&& handler, diagnostics* diag, result<T>&& r) {
  if constexpr (std::is_void_v<T>) {
    if (r) {
      if (diag) diag->clear();
      std::move(handler)(boost::system::error_code{});
    } else {
      if (diag) diag->assign(r.error());
      std::move(handler)(r.error().code);
    }
  } else {
    if (r) {
      if (diag) diag->clear();
      std::move(handler)(boost::system::error_code{}, std::move(*r));
    } else {
      if (diag) diag->assign(r.error());
      std::move(handler)(r.error().code, T{});
    }
  }
}

/// A value that is delivered even with an error: what a failed operation still tells (attempts
/// made, tokens spent). `error` empty = success.
template <class T>
struct partial_result {
  T value;
  std::optional<error> failure;
};

template <class T, class Handler>
void deliver_partial(Handler&& handler, diagnostics* diag, partial_result<T>&& r) {
  if (!r.failure) {
    if (diag) diag->clear();
    std::move(handler)(boost::system::error_code{}, std::move(r.value));
  } else {
    if (diag) diag->assign(*r.failure);
    std::move(handler)(r.failure->code, std::move(r.value));
  }
}

/// The value type and internal result type of `awaitable<result<T>>` / `awaitable<partial_result<T>>`.
template <class A>
struct awaited_result;
template <class T>
struct awaited_result<boost::asio::awaitable<result<T>>> {
  using type = T;
  using internal = result<T>;
  static internal from_error(error e) { return e; }
  template <class Handler>
  static void deliver_to(Handler&& h, diagnostics* diag, internal&& r) {
    deliver<T>(std::forward<Handler>(h), diag, std::move(r));
  }
};
template <class T>
struct awaited_result<boost::asio::awaitable<partial_result<T>>> {
  using type = T;
  using internal = partial_result<T>;
  static internal from_error(error e) { return {T{}, std::move(e)}; }
  template <class Handler>
  static void deliver_to(Handler&& h, diagnostics* diag, internal&& r) {
    deliver_partial<T>(std::forward<Handler>(h), diag, std::move(r));
  }
};

/// The coroutine an operation runs: `make()`'s, with two settings co_spawn does not give. Partial
/// cancellation is let through as well as terminal (co_spawn alone drops it, and the LLM
/// explainers document it). A co_await after a cancellation completes instead of throwing
/// `operation_aborted`: our coroutines look at every result and complete with `errc::cancelled`
/// themselves, where an exception would have become `errc::internal`.
template <class R, class Make>
boost::asio::awaitable<R> cancellable(Make make) {
  co_await boost::asio::this_coro::reset_cancellation_state(boost::asio::enable_partial_cancellation());
  co_await boost::asio::this_coro::throw_if_cancelled(false);
  auto inner = make();  // named rather than awaited as a temporary: g++ 12
  co_return co_await std::move(inner);
}

/// Whether the calling coroutine's operation has been cancelled (any type).
inline boost::asio::awaitable<bool> cancelled() {
  auto cs = co_await boost::asio::this_coro::cancellation_state;
  co_return cs.cancelled() != boost::asio::cancellation_type::none;
}

/// Initiation shared by our operations: runs the coroutine `make()` on `ex` and completes the
/// handler on its associated executor, or on `ex` when it has none (never the system executor).
/// The handler's cancellation slot is connected to the coroutine (terminal and partial, see
/// `cancellable`). An exception escaping the coroutine becomes `errc::internal` naming `what`.
struct coro_initiation {
  template <class Handler, class Make>
  void operator()(Handler handler, diagnostics* diag, boost::asio::any_io_executor ex, Make make,
                  std::string_view what) const {
    using traits = awaited_result<std::invoke_result_t<Make&>>;
    using R = typename traits::internal;
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    auto hex = boost::asio::get_associated_executor(handler, ex);
    auto work = boost::asio::make_work_guard(hex);
    boost::asio::co_spawn(
        ex, cancellable<R>(std::move(make)),
        boost::asio::bind_cancellation_slot(
            slot, [h = std::move(handler), diag, what, work = std::move(work)](std::exception_ptr ep, R r) mutable {
              if (ep) {
                try {
                  std::rethrow_exception(ep);
                } catch (...) {
                  r = traits::from_error(internal_error(what));
                }
              }
              auto hex = work.get_executor();
              work.reset();
              boost::asio::dispatch(hex, [h = std::move(h), diag, r = std::move(r)]() mutable {
                traits::deliver_to(std::move(h), diag, std::move(r));
              });
            }));
  }
};

/// Starts `make()` (a callable returning `awaitable<result<T>>` or `awaitable<partial_result<T>>`, which must own what it uses) as
/// an operation for `token`. `what` names the operation in internal errors (a string literal).
template <class Make, class Token>
auto async_coro(boost::asio::any_io_executor ex, diagnostics* diag, Make make, std::string_view what, Token&& token) {
  using T = typename awaited_result<std::invoke_result_t<Make&>>::type;
  return boost::asio::async_initiate<Token, signature_t<T>>(coro_initiation{}, token, diag, std::move(ex),
                                                              std::move(make), what);
}

}  // namespace autointerp::detail
