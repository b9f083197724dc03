#pragma once
// Two completion token adapters that keep an operation's diagnostics:
// - `with_diagnostics(token)` turns a failure into an `autointerp::exception` carrying our message
//   and the server's text, instead of the bare `system_error` that `use_awaitable` or `use_future`
//   make of an `error_code`:
//     auto record = co_await records::async_load_record(data, id, options, tok, cpu,
//                                                       with_diagnostics(asio::use_awaitable));
// - `as_result(token)` completes with one `autointerp::result<T>` (value or `error`, text included):
//     result<chat_response> r = co_await client.async_chat(request, as_result(asio::use_awaitable));
//
// Every public asynchronous operation of autointerp has one shape (see README, "Async operations"):
// `async_xxx(args..., [diagnostics& diag,] token = deferred)`, completing with
// `void(error_code, T)`. Without `diag`, an error's text is dropped unless the token is
// `with_diagnostics(...)`; with `diag`, the text is there and `with_diagnostics` uses it too.
// Both adapters only work with autointerp's own operations (they need their diagnostics).
//
// Inside a coroutine, wrap `use_awaitable` rather than `deferred` in `with_diagnostics`: Boost 1.81
// (Debian 12) cannot co_await a deferred operation that completes with an `exception_ptr`, which
// is what `with_diagnostics(deferred)` makes. `as_result(deferred)` works.

#include <autointerp/error.hpp>

#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <exception>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace autointerp {

/// The token made by `with_diagnostics`.
template <class Token>
struct with_diagnostics_t {
  Token token;
};

/// Adapts `token` so that an error completes it with an `autointerp::exception` (as an
/// `std::exception_ptr` first argument) holding the operation's diagnostics.
template <class Token>
with_diagnostics_t<std::decay_t<Token>> with_diagnostics(Token&& token) {
  return {std::forward<Token>(token)};
}

/// The token made by `as_result`.
template <class Token>
struct as_result_t {
  Token token;
};

/// Adapts `token` so that the operation completes with `result<T>` (`result<void>` for
/// operations without a value), the error holding code, message and the server's text.
template <class Token>
as_result_t<std::decay_t<Token>> as_result(Token&& token) {
  return {std::forward<Token>(token)};
}

namespace detail {

// (error_code[, T]) in, result<T> out; otherwise as diagnostics_handler.
template <class Handler, class T>
struct result_handler {
  Handler inner;
  std::unique_ptr<diagnostics> owned;
  diagnostics* diag = nullptr;

  template <class... V>
  void operator()(boost::system::error_code const& ec, V&&... values) {
    if (ec) std::move(inner)(result<T>(diag->to_error(ec)));
    else if constexpr (std::is_void_v<T>) std::move(inner)(result<T>());
    else std::move(inner)(result<T>(std::forward<V>(values)...));
  }
};

// Wraps the inner token's handler: (error_code, V...) in, (exception_ptr, V...) out. It owns the
// diagnostics when the caller gave none; associated executor, allocator and cancellation slot are
// the inner handler's.
template <class Handler>
struct diagnostics_handler {
  Handler inner;
  std::unique_ptr<diagnostics> owned;
  diagnostics* diag = nullptr;

  template <class... V>
  void operator()(boost::system::error_code const& ec, V&&... values) {
    std::exception_ptr ep;
    if (ec) ep = std::make_exception_ptr(exception(diag->to_error(ec)));
    std::move(inner)(ep, std::forward<V>(values)...);
  }
};

}  // namespace detail
}  // namespace autointerp

template <template <class, class> class Associator, class Handler, class Default>
struct boost::asio::associator<Associator, autointerp::detail::diagnostics_handler<Handler>, Default>
    : Associator<Handler, Default> {
  static typename Associator<Handler, Default>::type get(
      autointerp::detail::diagnostics_handler<Handler> const& h) noexcept {
    return Associator<Handler, Default>::get(h.inner);
  }
  static auto get(autointerp::detail::diagnostics_handler<Handler> const& h, Default const& d) noexcept
      -> decltype(Associator<Handler, Default>::get(h.inner, d)) {
    return Associator<Handler, Default>::get(h.inner, d);
  }
};

template <template <class, class> class Associator, class Handler, class T, class Default>
struct boost::asio::associator<Associator, autointerp::detail::result_handler<Handler, T>, Default>
    : Associator<Handler, Default> {
  static typename Associator<Handler, Default>::type get(
      autointerp::detail::result_handler<Handler, T> const& h) noexcept {
    return Associator<Handler, Default>::get(h.inner);
  }
  static auto get(autointerp::detail::result_handler<Handler, T> const& h, Default const& d) noexcept
      -> decltype(Associator<Handler, Default>::get(h.inner, d)) {
    return Associator<Handler, Default>::get(h.inner, d);
  }
};

template <class Token, class... V>
struct boost::asio::async_result<autointerp::as_result_t<Token>, void(boost::system::error_code, V...)> {
  static_assert(sizeof...(V) <= 1, "as_result: operations complete with at most one value");
  using value_type = std::conditional_t<sizeof...(V) == 0, void, std::tuple_element_t<0, std::tuple<V..., void>>>;

  template <class Initiation, class RawToken, class... Args>
  static auto initiate(Initiation&& init, RawToken&& token, autointerp::diagnostics* diag, Args&&... args) {
    Token inner(std::forward<RawToken>(token).token);
    return boost::asio::async_initiate<Token, void(autointerp::result<value_type>)>(
        [init = std::forward<Initiation>(init)](auto handler, autointerp::diagnostics* d, auto&&... a) mutable {
          std::unique_ptr<autointerp::diagnostics> owned;
          if (!d) {
            owned = std::make_unique<autointerp::diagnostics>();
            d = owned.get();
          }
          std::move(init)(autointerp::detail::result_handler<std::decay_t<decltype(handler)>, value_type>{
                              std::move(handler), std::move(owned), d},
                          d, std::forward<decltype(a)>(a)...);
        },
        inner, diag, std::forward<Args>(args)...);
  }
};

template <class Token, class... V>
struct boost::asio::async_result<autointerp::with_diagnostics_t<Token>, void(boost::system::error_code, V...)> {
  // Our initiations take `diagnostics*` as their first argument after the handler.
  template <class Initiation, class RawToken, class... Args>
  static auto initiate(Initiation&& init, RawToken&& token, autointerp::diagnostics* diag, Args&&... args) {
    Token inner(std::forward<RawToken>(token).token);
    return boost::asio::async_initiate<Token, void(std::exception_ptr, V...)>(
        [init = std::forward<Initiation>(init)](auto handler, autointerp::diagnostics* d, auto&&... a) mutable {
          std::unique_ptr<autointerp::diagnostics> owned;
          if (!d) {
            owned = std::make_unique<autointerp::diagnostics>();
            d = owned.get();
          }
          std::move(init)(autointerp::detail::diagnostics_handler<std::decay_t<decltype(handler)>>{
                              std::move(handler), std::move(owned), d},
                          d, std::forward<decltype(a)>(a)...);
        },
        inner, diag, std::forward<Args>(args)...);
  }
};
