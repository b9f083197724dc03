#pragma once
// The shared engine of the LLM scorers: a latent's prompts all in flight at once (the client bounds
// how many run across latents), each answer handed to the scorer's parser, unparsable answers asked
// again, and one verdict on what the failures mean for the latent.

#include <autointerp/error.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/llm/token_usage.hpp>
#include <autointerp/score/scorer.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::score {

/// What asking a latent's prompts took and how it ended.
struct asked_prompts {
  std::uint32_t attempts = 0;   ///< HTTP attempts over all prompts, retries and re-asks included
  llm::token_usage usage;
  std::size_t failed = 0;       ///< prompts left without an accepted answer
  /// Set when the latent's scoring fails as a whole: cancelled, a fatal error (401, 402, ...) or a
  /// call that failed after the client's retries, so nothing partial is saved and a resumed run
  /// asks again. Answers that never parsed are the model's and do not fail the latent.
  std::optional<autointerp::error> failure;
  std::optional<autointerp::error> first_problem;  ///< the first failure of any prompt, for the run log
};

/// How `ask_all` treats answers.
struct ask_options {
  /// An answer the parser rejects is asked again this many times.
  unsigned retries = 2;
  /// What an unparsable prompt is called in `first_problem`, e.g. "a detection batch's answers had
  /// no list of 5 0/1 values"; " after N tries" is appended.
  std::function<std::string(std::size_t prompt)> describe_unparsed;
  /// Whom the prompts serve (module, latent, stage); each call is tagged with its prompt index and
  /// ask (for budgets and the Batch API's `custom_id`). Unset: the requests' own tags stand.
  std::optional<llm::call_tag> tag;
};

/// Sends every request of `requests` through `client` at once and gives each response to
/// `accept(i, response)`, which returns true when it parsed and used the answer; a rejected answer
/// is asked again (`options.retries`). Terminal cancellation of the awaiting coroutine reaches every
/// call in flight. `accept` runs on the client's executor, one call at a time. The client,
/// `requests` and `accept` must outlive the awaitable.
inline boost::asio::awaitable<asked_prompts> ask_all(llm::client& client, std::vector<llm::chat_request> const& requests,
                                                     std::function<bool(std::size_t, llm::chat_response const&)> accept,
                                                     ask_options options) {
  struct state {
    explicit state(boost::asio::any_io_executor e) : ex(e), done(e, boost::asio::steady_timer::time_point::max()) {}
    boost::asio::any_io_executor ex;
    boost::asio::steady_timer done;
    std::vector<boost::asio::cancellation_signal> signals;
    std::size_t remaining = 0;
    asked_prompts out;
    std::optional<autointerp::error> fatal, deferred, call_error;
    bool cancelled = false;
  };
  auto st = std::make_shared<state>(co_await boost::asio::this_coro::executor);
  st->signals = std::vector<boost::asio::cancellation_signal>(requests.size());
  st->remaining = requests.size();

  auto ask = [&client, &requests, &accept, &options](std::shared_ptr<state> st, std::size_t i) -> boost::asio::awaitable<void> {
    bool accepted = false;
    for (unsigned attempt = 0; attempt <= options.retries && !accepted; ++attempt) {
      diagnostics diag;
      llm::chat_request const* request = &requests[i];
      llm::chat_request tagged;
      if (options.tag) {
        tagged = requests[i];
        tagged.tag = options.tag;
        tagged.tag->prompt = static_cast<std::uint32_t>(i);
        tagged.tag->ask = attempt;
        request = &tagged;
      }
      auto call = client.async_chat(*request, diag, boost::asio::as_tuple(boost::asio::use_awaitable));
      auto [ec, response] = co_await std::move(call);
      st->out.attempts += response.attempts;
      if (ec) {
        auto e = diag.to_error(ec);
        if (ec == errc::cancelled) st->cancelled = true;
        else if (is_fatal(e) && !st->fatal) st->fatal = e;
        else if (e == errc::deferred) st->deferred = e;
        else if (!st->call_error) st->call_error = e;
        if (!st->out.first_problem) st->out.first_problem = std::move(e);
        ++st->out.failed;
        co_return;
      }
      st->out.usage += llm::accounted(response.usage);
      accepted = accept(i, response);
    }
    if (!accepted) {
      ++st->out.failed;
      if (!st->out.first_problem) {
        std::string what = options.describe_unparsed ? options.describe_unparsed(i) : "an answer could not be read";
        st->out.first_problem =
            make_error(errc::unparsed_answer, what + " after " + std::to_string(options.retries + 1) + " tries");
      }
    }
  };

  auto cs = co_await boost::asio::this_coro::cancellation_state;
  if (cs.slot().is_connected())
    cs.slot().assign([st](boost::asio::cancellation_type t) {
      for (auto& s : st->signals) s.emit(t);
    });
  for (std::size_t i = 0; i < requests.size(); ++i)
    boost::asio::co_spawn(st->ex, ask(st, i),
                          boost::asio::bind_cancellation_slot(st->signals[i].slot(), [st](std::exception_ptr ep) {
                            if (ep && !st->out.first_problem) {
                              try {
                                std::rethrow_exception(ep);
                              } catch (...) {
                                st->out.first_problem = internal_error("a scoring prompt");
                              }
                            }
                            if (--st->remaining == 0) st->done.cancel();
                          }));
  if (st->remaining > 0) {
    boost::system::error_code ec;  // woken by the last prompt, never by our own cancellation
    co_await st->done.async_wait(boost::asio::bind_cancellation_slot(
        boost::asio::cancellation_slot(), boost::asio::redirect_error(boost::asio::use_awaitable, ec)));
  }
  if (cs.slot().is_connected()) cs.slot().clear();
  auto out = std::move(st->out);
  if (st->fatal) out.failure = st->fatal;
  else if (st->cancelled) out.failure = make_error(errc::cancelled, "scoring was cancelled");
  else if (st->deferred) out.failure = st->deferred;  // the stage waits for its batch, whatever else failed
  else if (st->call_error) out.failure = st->call_error;
  co_return out;
}

/// A scorer's result once its prompts were asked: `asked`'s counts in `out`, and its error as the
/// operation's error (the latent failed) or else its first problem as `batch_error`.
inline autointerp::detail::partial_result<score_result> finish_scoring(score_result out, asked_prompts asked) {
  out.attempts = asked.attempts;
  out.usage = asked.usage;
  out.failed_batches = asked.failed;
  if (asked.failure) return {std::move(out), std::move(asked.failure)};
  out.batch_error = std::move(asked.first_problem);
  return {std::move(out), std::nullopt};
}

}  // namespace autointerp::score
