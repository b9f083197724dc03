#pragma once
// The intruder scorer: can a model spot the one example that does not belong among a latent's
// activating examples? One prompt per trial, all in flight at once.

#include <autointerp/error.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/score/ask_all.hpp>
#include <autointerp/score/intruder_prompt.hpp>
#include <autointerp/score/llm_scorer.hpp>
#include <autointerp/score/scorer.hpp>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::score {

/// Runs `build_intruder_trials` prompts through `client` (which must outlive the scorer); the
/// explanation is not used. An answer without a valid `[RESPONSE]: k` is asked again
/// (`llm_scorer_options::retries`), then its trial's prediction stays null. Failures fail the latent
/// as `llm_scorer`'s do.
class intruder_scorer final : public scorer {
 public:
  intruder_scorer(llm::client& client, llm_scorer_options options) : client_(&client), options_(std::move(options)) {}

  std::string_view name() const noexcept override { return "intruder"; }
  executor_type get_executor() const noexcept override { return client_->get_executor(); }
  bool calls_llm() const noexcept override { return true; }

  /// The request for one trial.
  llm::chat_request request_for(intruder_trial const& trial) const {
    auto r = build_intruder_request(trial, options_.scoring.worked_examples, options_.model);
    options_.apply_generation(r);
    return r;
  }

 protected:
  boost::asio::awaitable<autointerp::detail::partial_result<score_result>> score(records::latent_record const& record,
                                                                                 std::string_view) const override {
    using partial = autointerp::detail::partial_result<score_result>;
    score_result out;
    auto trials = build_intruder_trials(record, options_.scoring);
    if (!trials) co_return partial{std::move(out), trials.error()};
    out.trials = std::move(*trials);
    out.batches = out.trials.size();
    std::vector<llm::chat_request> requests;
    requests.reserve(out.trials.size());
    for (auto const& t : out.trials) requests.push_back(request_for(t));
    ask_options ask;
    ask.retries = options_.retries;
    ask.tag = llm::call_tag{record.latent.module, record.latent.index, std::string(name()), 0, 0};
    ask.describe_unparsed = [&](std::size_t i) {
      return "an intruder answer named no example 1.." + std::to_string(out.trials[i].examples.size()) +
             " after [RESPONSE]:";
    };
    auto asked = co_await ask_all(
        *client_, requests,
        [&](std::size_t i, llm::chat_response const& response) {
          auto& t = out.trials[i];
          t.prediction = parse_intruder_answer(response.text, t.examples.size());
          return t.prediction.has_value();
        },
        std::move(ask));
    co_return finish_scoring(std::move(out), std::move(asked));
  }

 private:
  llm::client* client_;
  llm_scorer_options options_;
};

}  // namespace autointerp::score
