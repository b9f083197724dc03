#pragma once
// The bounded scheduler: every selected latent is one awaitable job, at most N of them in flight.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/detail/async_op.hpp>
#include <autointerp/error.hpp>
#include <autointerp/pipeline/latent_outcome.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

namespace autointerp::pipeline {

/// How a run is scheduled. Plain aggregate.
struct run_options {
  /// At most this many latents in flight at once (delphi's `pipeline.run(n)`). Must be at least 1.
  std::size_t max_concurrent = 8;
};

/// The work for one latent and the hooks around it, for the scheduler. Only `process` is required.
/// (A job of stages, `make_job`, fills these for you; write them yourself to schedule anything.)
struct run_hooks {
  /// The whole job for one latent (load, build record, prompt, call, parse, save). It runs on the
  /// scheduler's strand; it should report failures in the outcome rather than throw (an exception is
  /// turned into a `failed` outcome). It receives terminal cancellation when the run is cancelled.
  std::function<boost::asio::awaitable<latent_outcome>(cache::latent_id)> process;
  /// Resume: true when the latent was finished by an earlier run; it is then counted and not processed.
  std::function<bool(cache::latent_id const&)> already_done;
  /// Called on the scheduler's strand after each processed latent (sinks, progress), in finishing order.
  std::function<void(latent_outcome const&)> on_finished;
};

/// Why a run ended.
enum class stop_reason {
  completed,  ///< every latent was pulled and finished
  fatal,      ///< a fatal error (see `is_fatal`) stopped new work; in-flight latents were drained
  drained,    ///< a partial or total cancellation stopped new work; in-flight latents finished
  cancelled,  ///< a terminal cancellation also cancelled the latents in flight
};

/// Counts and totals of a run.
struct run_summary {
  std::size_t explained = 0, unparsed = 0, failed = 0, skipped = 0;
  std::size_t scored = 0;         ///< latents whose first stage was a scorer and scored
  std::size_t deferred = 0;       ///< latents with a stage waiting for a batch's answer (a later pass finishes them)
  std::size_t already_done = 0;   ///< skipped because an earlier run finished them (resume)
  std::size_t max_in_flight = 0;  ///< the largest number of latents in flight at once
  token_usage usage;              ///< summed over all outcomes
  stop_reason stop = stop_reason::completed;
  std::optional<autointerp::error> fatal;  ///< the error that stopped the run when `stop == fatal`

  std::size_t processed() const noexcept { return explained + unparsed + failed + skipped + scored + deferred; }
};

namespace detail {

template <class Range>
struct run_state {
  using strand_type = boost::asio::strand<boost::asio::any_io_executor>;

  run_state(strand_type s, Range r, run_hooks st, run_options o)
      : strand(std::move(s)), latents(std::move(r)), next(std::ranges::begin(latents)), stg(std::move(st)),
        opts(o), done(strand, std::chrono::steady_clock::time_point::max()),
        signals(o.max_concurrent) {}

  strand_type strand;
  Range latents;
  std::ranges::iterator_t<Range> next;  // pulled one at a time, only when a worker is free
  run_hooks stg;
  run_options opts;
  boost::asio::steady_timer done;  // cancelled when the last worker exits
  std::vector<boost::asio::cancellation_signal> signals;  // one per worker, for terminal cancellation
  std::size_t workers = 0, in_flight = 0;
  bool stopping = false, waiting = false;
  run_summary summary;

  std::optional<cache::latent_id> pull() {
    if (stopping || next == std::ranges::end(latents)) return std::nullopt;
    cache::latent_id id = *next;
    ++next;
    return id;
  }

  void stop(stop_reason why) {
    if (summary.stop == stop_reason::completed || (why == stop_reason::cancelled && summary.stop == stop_reason::drained))
      summary.stop = why;
    stopping = true;
    if (why == stop_reason::cancelled)
      for (auto& s : signals) s.emit(boost::asio::cancellation_type::terminal);
  }

  void finish(latent_outcome const& o) {
    switch (o.status) {
      case latent_status::explained: ++summary.explained; break;
      case latent_status::unparsed: ++summary.unparsed; break;
      case latent_status::failed: ++summary.failed; break;
      case latent_status::skipped: ++summary.skipped; break;
      case latent_status::scored: ++summary.scored; break;
      case latent_status::deferred: ++summary.deferred; break;
    }
    summary.usage += o.usage;
    if (o.status == latent_status::failed && o.error && is_fatal(*o.error) && !summary.fatal) {
      summary.fatal = o.error;
      stop(stop_reason::fatal);
    }
    if (stg.on_finished) stg.on_finished(o);
  }
};

inline latent_outcome failed_outcome(cache::latent_id id, errc code, std::string message) {
  latent_outcome o;
  o.latent = std::move(id);
  o.status = latent_status::failed;
  o.error = make_error(code, std::move(message));
  return o;
}

template <class Range>
boost::asio::awaitable<void> run_worker(std::shared_ptr<run_state<Range>> s) {
  while (auto id = s->pull()) {
    if (s->stg.already_done && s->stg.already_done(*id)) {
      ++s->summary.already_done;
      continue;
    }
    ++s->in_flight;
    if (s->in_flight > s->summary.max_in_flight) s->summary.max_in_flight = s->in_flight;
    latent_outcome out;
    std::string const where = "latent " + std::to_string(id->index) + " of module '" + id->module + "'";
    try {
      // The call is made outside the co_await expression: g++ 12 may destroy temporaries of a
      // co_await expression (here the argument) twice.
      auto op = s->stg.process(*id);
      out = co_await std::move(op);
    } catch (boost::system::system_error const& e) {
      if (e.code() == boost::asio::error::operation_aborted) {
        out = failed_outcome(*id, errc::cancelled, where + ": cancelled");
      } else {
        out.latent = *id;
        out.status = latent_status::failed;
        out.error = internal_error(where);
      }
    } catch (...) {
      out.latent = *id;
      out.status = latent_status::failed;
      out.error = internal_error(where);
    }
    --s->in_flight;
    s->finish(out);
  }
}

template <class Range>
boost::asio::awaitable<result<run_summary>> run_main(std::shared_ptr<run_state<Range>> s) {
  for (std::size_t i = 0; i < s->opts.max_concurrent; ++i) {
    ++s->workers;
    boost::asio::co_spawn(s->strand, run_worker(s),
                          boost::asio::bind_cancellation_slot(s->signals[i].slot(), [s](std::exception_ptr) {
                            if (--s->workers == 0 && s->waiting) s->done.cancel();
                          }));
  }
  // Workers start only after this coroutine suspends (co_spawn posts), so `waiting` is set in time.
  if (s->workers > 0) {
    s->waiting = true;
    boost::system::error_code ec;
    co_await s->done.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
  co_return s->summary;
}

struct run_initiation {
  template <class Handler, class Range>
  void operator()(Handler handler, diagnostics* diag, boost::asio::any_io_executor ex, Range latents, run_hooks st,
                  run_options options) const {
    auto hex = boost::asio::get_associated_executor(handler, ex);
    if (options.max_concurrent == 0 || !st.process) {
      auto e = make_error(errc::bad_option, options.max_concurrent == 0
                                                ? "pipeline::async_run: run_options::max_concurrent is 0; allow at least 1 latent in flight"
                                                : "pipeline::async_run: run_hooks::process is empty; give the per-latent job");
      boost::asio::post(hex, [h = std::move(handler), diag, e = std::move(e)]() mutable {
        autointerp::detail::deliver<run_summary>(std::move(h), diag, result<run_summary>(std::move(e)));
      });
      return;
    }
    auto strand = boost::asio::make_strand(ex);
    auto s = std::make_shared<run_state<Range>>(strand, std::move(latents), std::move(st), options);
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      slot.assign([s](boost::asio::cancellation_type type) {
        boost::asio::dispatch(s->strand, [s, type] {
          bool const terminal = (type & boost::asio::cancellation_type::terminal) != boost::asio::cancellation_type::none;
          s->stop(terminal ? stop_reason::cancelled : stop_reason::drained);
        });
      });
    }
    auto work = boost::asio::make_work_guard(hex);
    boost::asio::co_spawn(
        strand, run_main(s),
        [h = std::move(handler), diag, work = std::move(work), s](std::exception_ptr ep, result<run_summary> r) mutable {
          auto slot = boost::asio::get_associated_cancellation_slot(h);
          if (slot.is_connected()) slot.clear();
          if (ep) {
            try {
              std::rethrow_exception(ep);
            } catch (...) {
              r = internal_error("the pipeline scheduler");
            }
          }
          auto hex = work.get_executor();
          work.reset();
          boost::asio::dispatch(hex, [h = std::move(h), diag, r = std::move(r)]() mutable {
            autointerp::detail::deliver<run_summary>(std::move(h), diag, std::move(r));
          });
        });
  }
};

}  // namespace detail

/// Runs `hooks.process` for every latent of `latents` (an input range of `cache::latent_id`, moved
/// or copied in and pulled one element at a time, only when a worker is free, so memory grows with
/// `max_concurrent` rather than with the number of latents), at most `options.max_concurrent` at
/// once, on a strand of `ex`.
///
/// - Handler signature: `void(error_code, run_summary)`, once every started latent finished.
/// - Completion executor: the handler's associated executor; without one, `ex`.
/// - Lifetimes: `latents`, `hooks` and `options` are copied or moved in; what the hooks refer to
///   must outlive the run.
/// - Cancellation: `partial` or `total` drains (no new latent starts, in-flight ones finish and are
///   reported); `terminal` also cancels the latents in flight (their outcome is whatever `process`
///   makes of it, typically `failed` with `errc::cancelled`). Emitting partial then terminal gives
///   "first Ctrl-C drains, second cancels". The summary says why the run stopped.
/// - Errors: `errc::bad_option` when `max_concurrent` is 0 or `process` is empty (text in `diag`).
///   A failed latent never fails the run: it is counted and passed to `on_finished`. A fatal error
///   (`is_fatal`) stops pulling new latents; in-flight ones finish; the summary says
///   `stop_reason::fatal`.
/// - Thread-safety: the hooks are only called on the run's strand; `latents` must not be shared
///   with other threads while the run lasts.
template <class Range, class CompletionToken = boost::asio::deferred_t>
  requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
auto async_run(boost::asio::any_io_executor const& ex, Range&& latents, run_hooks const& hooks,
               run_options const& options, CompletionToken&& token = {}) {
  return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, run_summary)>(
      detail::run_initiation{}, token, static_cast<diagnostics*>(nullptr), ex,
      std::ranges::owning_view(std::decay_t<Range>(std::forward<Range>(latents))), hooks, options);
}

/// `async_run` keeping the error's text in `diag`.
template <class Range, class CompletionToken = boost::asio::deferred_t>
auto async_run(boost::asio::any_io_executor const& ex, Range&& latents, run_hooks const& hooks,
               run_options const& options, diagnostics& diag, CompletionToken&& token = {}) {
  return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, run_summary)>(
      detail::run_initiation{}, token, &diag, ex,
      std::ranges::owning_view(std::decay_t<Range>(std::forward<Range>(latents))), hooks, options);
}

}  // namespace autointerp::pipeline
