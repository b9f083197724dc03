#pragma once
// The LLM scorer: a latent's samples cut into batches, every batch one concurrent chat call (the
// client bounds how many run at once), answers parsed, unparsable answers asked again.

#include <autointerp/error.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/score/build_samples.hpp>
#include <autointerp/score/parse_scoring_answer.hpp>
#include <autointerp/score/scorer.hpp>
#include <autointerp/score/scoring_prompt.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::score {

/// What an LLM scorer asks and how. Plain aggregate.
struct llm_scorer_options {
  scoring_options scoring;                  ///< samples, batches, highlights, logprobs
  std::string model;                        ///< model name sent with each request
  std::optional<std::uint32_t> max_tokens;  ///< answer length cap; unset = the server's default
  std::optional<double> temperature;        ///< unset = the server's default
  /// Answers without a list of the right length are asked again this many times (delphi asks once
  /// and gives up); after that the batch's predictions are null.
  unsigned retries = 2;
};

/// Scores with an LLM through `client` (which must outlive the scorer). All batches of a latent
/// are in flight at once; the client's `limits.max_in_flight` is the one bound across latents.
/// A call that fails after the client's retries (a fatal one such as 401 or 402 among them) fails
/// the latent's scoring with that error, so nothing partial is saved and a resumed run asks again;
/// a batch whose answers never parse keeps null predictions. A batch whose answer parsed is never
/// asked again.
class llm_scorer final : public scorer {
 public:
  llm_scorer(llm::client& client, scorer_kind kind, llm_scorer_options options)
      : client_(&client), kind_(kind), options_(std::move(options)) {}

  std::string_view name() const noexcept override { return scorer_name(kind_); }
  executor_type get_executor() const noexcept override { return client_->get_executor(); }
  bool calls_llm() const noexcept override { return true; }

  /// The request for one batch (also what a dry run would send).
  llm::chat_request request_for(std::string_view explanation, std::span<score_sample const> batch) const {
    auto r = build_scoring_request(kind_, explanation, batch, options_.scoring, options_.model);
    r.max_tokens = options_.max_tokens;
    r.temperature = options_.temperature;
    return r;
  }

 protected:
  boost::asio::awaitable<autointerp::detail::partial_result<score_result>> score(records::latent_record const& record,
                                                                                 std::string_view explanation) const override {
    using partial = autointerp::detail::partial_result<score_result>;
    auto st = std::make_shared<state>(co_await boost::asio::this_coro::executor);
    auto samples = build_samples(record, kind_, options_.scoring);
    if (!samples) co_return partial{std::move(st->out), samples.error()};
    st->out.samples = std::move(*samples);
    auto batches = split_batches(st->out.samples);
    st->out.batches = batches.size();
    st->signals = std::vector<boost::asio::cancellation_signal>(batches.size());
    st->remaining = batches.size();

    // Terminal cancellation of this operation reaches every batch in flight.
    auto cs = co_await boost::asio::this_coro::cancellation_state;
    if (cs.slot().is_connected())
      cs.slot().assign([st](boost::asio::cancellation_type t) {
        for (auto& s : st->signals) s.emit(t);
      });
    for (std::size_t i = 0; i < batches.size(); ++i)
      boost::asio::co_spawn(st->ex, ask(st, batches[i], explanation),
                            boost::asio::bind_cancellation_slot(st->signals[i].slot(), [st](std::exception_ptr ep) {
                              if (ep && !st->first_error) {
                                try {
                                  std::rethrow_exception(ep);
                                } catch (...) {
                                  st->first_error = internal_error("a scoring batch");
                                }
                              }
                              if (--st->remaining == 0) st->done.cancel();
                            }));
    if (st->remaining > 0) {
      boost::system::error_code ec;  // woken by the last batch, never by our own cancellation
      co_await st->done.async_wait(boost::asio::bind_cancellation_slot(
          boost::asio::cancellation_slot(), boost::asio::redirect_error(boost::asio::use_awaitable, ec)));
    }
    if (cs.slot().is_connected()) cs.slot().clear();
    auto& out = st->out;
    if (st->fatal) co_return partial{std::move(out), st->fatal};
    if (st->cancelled) co_return partial{std::move(out), make_error(errc::cancelled, "scoring was cancelled")};
    // A call that failed after the client's retries fails the latent's scoring, so that a resumed
    // run asks again; answers that never parsed are the model's: their samples stay null.
    if (st->call_error) co_return partial{std::move(out), st->call_error};
    out.batch_error = st->first_error;
    co_return partial{std::move(out), std::nullopt};
  }

 private:
  struct state {
    explicit state(executor_type e) : ex(e), done(e, boost::asio::steady_timer::time_point::max()) {}
    executor_type ex;
    boost::asio::steady_timer done;
    std::vector<boost::asio::cancellation_signal> signals;
    std::size_t remaining = 0;
    score_result out;
    std::optional<error> fatal, call_error, first_error;
    bool cancelled = false;
  };

  boost::asio::awaitable<void> ask(std::shared_ptr<state> st, std::span<score_sample> batch,
                                   std::string_view explanation) const {
    auto const request = request_for(explanation, batch);
    scoring_answer answer;
    for (unsigned attempt = 0; attempt <= options_.retries && !answer.parsed; ++attempt) {
      diagnostics diag;
      auto call = client_->async_chat(request, diag, boost::asio::as_tuple(boost::asio::use_awaitable));
      auto [ec, response] = co_await std::move(call);
      st->out.attempts += response.attempts;
      if (ec) {
        auto e = diag.to_error(ec);
        if (ec == errc::cancelled) st->cancelled = true;
        else if (is_fatal(e) && !st->fatal) st->fatal = e;
        else if (!st->call_error) st->call_error = e;
        if (!st->first_error) st->first_error = std::move(e);
        ++st->out.failed_batches;
        co_return;
      }
      st->out.usage.prompt_tokens += response.usage.prompt_tokens;
      st->out.usage.completion_tokens += response.usage.completion_tokens;
      st->out.usage.cost += response.usage.cost.value_or(0);
      answer = parse_scoring_answer(response.text, batch.size(),
                                    options_.scoring.logprobs ? std::span<llm::token_logprob const>(response.logprobs)
                                                              : std::span<llm::token_logprob const>());
    }
    apply_answer(batch, answer);
    if (!answer.parsed) {
      ++st->out.failed_batches;
      if (!st->first_error)
        st->first_error = make_error(errc::unparsed_answer, "a " + std::string(scorer_name(kind_)) +
                                                                " batch's answers had no list of " +
                                                                std::to_string(batch.size()) + " 0/1 values after " +
                                                                std::to_string(options_.retries + 1) + " tries");
    }
  }

  llm::client* client_;
  scorer_kind kind_;
  llm_scorer_options options_;
};

}  // namespace autointerp::score
