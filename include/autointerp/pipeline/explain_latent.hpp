#pragma once
// One latent explained from C++: its record from the cache, then an explainer's answer.
//
//   auto out = co_await pipeline::async_explain_latent(explainer, sources, options, id);

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/detail/async_op.hpp>
#include <autointerp/error.hpp>
#include <autointerp/explain/explainer.hpp>
#include <autointerp/explain/explanation.hpp>
#include <autointerp/pipeline/job.hpp>
#include <autointerp/records/load_record.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <string>
#include <type_traits>
#include <utility>

namespace autointerp::pipeline {

namespace detail {
inline boost::asio::awaitable<autointerp::detail::partial_result<explain::explanation>> explain_latent(
    explain::explainer const& explainer, job_sources src, records::load_options options, cache::latent_id id) {
  using partial = autointerp::detail::partial_result<explain::explanation>;
  diagnostics diag;
  auto load = records::async_load_record(src.data, id, options, src.tokens.get(), src.cpu, diag,
                                         boost::asio::as_tuple(boost::asio::use_awaitable));
  auto [lec, record] = co_await std::move(load);
  if (lec) co_return partial{{}, diag.to_error(lec)};
  // A cancellation that came while the record was built (that work runs to its end) must not
  // start the explainer: a call started now would not know of it.
  if (co_await autointerp::detail::cancelled())
    co_return partial{{}, make_error(errc::cancelled, "latent " + std::to_string(id.index) + " of module '" + id.module +
                                                          "': cancelled while its record was built; no explanation was asked for")};
  auto ask = explainer.async_explain(record, diag, boost::asio::as_tuple(boost::asio::use_awaitable));
  auto [ec, answer] = co_await std::move(ask);
  if (ec) co_return partial{std::move(answer), diag.to_error(ec)};
  co_return partial{std::move(answer), std::nullopt};
}
}  // namespace detail

/// Explains latent `id`: builds its record (`records::async_load_record` with `options`, token
/// strings from `sources.tokens`, CPU work on `sources.cpu`), then asks `explainer`.
///
/// - Handler signature: `void(error_code, explain::explanation)`; on failure the explanation says
///   what was spent (`attempts`, `usage`). An answer without an explanation line is no error
///   (`answer_kind::unparsed`).
/// - Completion executor: the handler's associated executor; without one, the explainer's.
/// - Lifetimes: `sources`, `options` and `id` are copied; `explainer` (and `diag`) must outlive the
///   operation.
/// - Cancellation: `terminal` skips record building that has not started and aborts the LLM call
///   (`errc::cancelled`); `partial` aborts the LLM call of an LLM explainer. Either, arriving while
///   the record is being built, lets that work end and then completes with `errc::cancelled`
///   without asking the explainer.
/// - Errors: those of `records::load_record` (`errc::too_few_examples` among them) and of the
///   explainer; their text goes to `diag` when given, or use `with_diagnostics(token)`.
/// - Thread-safety: as the explainer's (the SDK's explainers: any number at once, from their
///   executor).
template <class CompletionToken = boost::asio::deferred_t>
  requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
auto async_explain_latent(explain::explainer const& explainer, job_sources const& sources,
                          records::load_options const& options, cache::latent_id const& id,
                          CompletionToken&& token = {}) {
  return autointerp::detail::async_coro(
      explainer.get_executor(), nullptr,
      [e = &explainer, sources, options, id] { return detail::explain_latent(*e, sources, options, id); },
      "pipeline::async_explain_latent", std::forward<CompletionToken>(token));
}

/// `async_explain_latent` keeping the error's text in `diag`.
template <class CompletionToken = boost::asio::deferred_t>
auto async_explain_latent(explain::explainer const& explainer, job_sources const& sources,
                          records::load_options const& options, cache::latent_id const& id, diagnostics& diag,
                          CompletionToken&& token = {}) {
  return autointerp::detail::async_coro(
      explainer.get_executor(), &diag,
      [e = &explainer, sources, options, id] { return detail::explain_latent(*e, sources, options, id); },
      "pipeline::async_explain_latent", std::forward<CompletionToken>(token));
}

}  // namespace autointerp::pipeline
