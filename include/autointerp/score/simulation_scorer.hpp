#pragma once
// The simulation scorer (OpenAI's method): one prompt per example, the model predicts each token's
// level from the explanation alone; and its keyword baseline, which needs no LLM.

#include <autointerp/error.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/score/ask_all.hpp>
#include <autointerp/score/build_samples.hpp>
#include <autointerp/score/keyword_baseline.hpp>
#include <autointerp/score/llm_scorer.hpp>
#include <autointerp/score/scorer.hpp>
#include <autointerp/score/simulation_prompt.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::score {

/// The samples the simulation scorer shows, one per prompt: the record's test examples (true
/// levels = the record's 0..10 levels) and its non-activating windows (true levels all 0), shuffled
/// as `build_samples` shuffles them (so with `options.seed`), `batch` = the sample's position.
/// Errors as `build_samples`. Pure.
inline result<std::vector<score_sample>> build_simulation_samples(records::latent_record const& record,
                                                                  scoring_options options = {}) {
  options.n_examples_shown = 1;
  return build_samples(record, scorer_kind::detection, options);
}

/// Simulates with an LLM through `client` (which must outlive the scorer). Every example of a
/// latent is one prompt, all in flight at once. An answer without an array of one integer 0..10 per
/// token is asked again (`llm_scorer_options::retries`), then that sample's simulation stays null:
/// never zeros. With `scoring.logprobs` each level is an expected value (`parse_simulation_answer`).
/// Failures fail the latent as `llm_scorer`'s do.
class simulation_scorer final : public scorer {
 public:
  simulation_scorer(llm::client& client, llm_scorer_options options) : client_(&client), options_(std::move(options)) {}

  std::string_view name() const noexcept override { return "simulation"; }
  executor_type get_executor() const noexcept override { return client_->get_executor(); }
  bool calls_llm() const noexcept override { return true; }

  /// The request for one sample.
  llm::chat_request request_for(std::string_view explanation, score_sample const& sample) const {
    simulation_prompt_options po;
    po.logprobs = options_.scoring.logprobs;
    po.worked_example = options_.scoring.worked_examples;
    auto r = build_simulation_request(explanation, sample.str_tokens, po, options_.model);
    options_.apply_generation(r);
    return r;
  }

 protected:
  boost::asio::awaitable<autointerp::detail::partial_result<score_result>> score(records::latent_record const& record,
                                                                                 std::string_view explanation) const override {
    using partial = autointerp::detail::partial_result<score_result>;
    score_result out;
    auto samples = build_simulation_samples(record, options_.scoring);
    if (!samples) co_return partial{std::move(out), samples.error()};
    out.samples = std::move(*samples);
    out.batches = out.samples.size();
    std::vector<llm::chat_request> requests;
    requests.reserve(out.samples.size());
    for (auto const& s : out.samples) requests.push_back(request_for(explanation, s));
    bool const logprobs = options_.scoring.logprobs;
    ask_options ask;
    ask.retries = options_.retries;
    ask.tag = llm::call_tag{record.latent.module, record.latent.index, std::string(name()), 0, 0};
    ask.describe_unparsed = [&](std::size_t i) {
      return "a simulation answer had no array of " + std::to_string(out.samples[i].str_tokens.size()) +
             " levels 0..10";
    };
    auto asked = co_await ask_all(
        *client_, requests,
        [&](std::size_t i, llm::chat_response const& response) {
          auto& s = out.samples[i];
          auto answer = parse_simulation_answer(response.text, s.str_tokens.size(),
                                                logprobs ? std::span<llm::token_logprob const>(response.logprobs)
                                                         : std::span<llm::token_logprob const>());
          if (answer.parsed) s.simulated = std::move(answer.levels);
          return answer.parsed;
        },
        std::move(ask));
    co_return finish_scoring(std::move(out), std::move(asked));
  }

 private:
  llm::client* client_;
  llm_scorer_options options_;
};

/// The levels the keyword baseline predicts: 10 on each token that, without surrounding
/// whitespace, equals one of `keywords` without theirs, 0 elsewhere. Pure.
inline std::vector<double> keyword_levels(std::span<std::string const> str_tokens, std::span<std::string const> keywords) {
  std::vector<double> out(str_tokens.size(), 0.0);
  for (std::size_t i = 0; i < str_tokens.size(); ++i)
    for (auto const& k : keywords)
      if (detail::keyword_key(str_tokens[i]) == detail::keyword_key(k)) {
        out[i] = 10;
        break;
      }
  return out;
}

/// The simulation baseline: no LLM; `keyword_levels` of the explanation's quoted strings
/// (`quoted_strings`) for every sample. Same samples as `simulation_scorer`, so the figures
/// compare; a run's log names the provider, which says it is a baseline.
class keyword_simulation_scorer final : public scorer {
 public:
  explicit keyword_simulation_scorer(executor_type ex, scoring_options options = {})
      : ex_(std::move(ex)), options_(std::move(options)) {}

  std::string_view name() const noexcept override { return "simulation"; }
  executor_type get_executor() const noexcept override { return ex_; }

 protected:
  boost::asio::awaitable<autointerp::detail::partial_result<score_result>> score(records::latent_record const& record,
                                                                                 std::string_view explanation) const override {
    score_result out;
    auto samples = build_simulation_samples(record, options_);
    if (!samples) co_return autointerp::detail::partial_result<score_result>{std::move(out), samples.error()};
    out.samples = std::move(*samples);
    auto const keywords = quoted_strings(explanation);
    for (auto& s : out.samples) s.simulated = keyword_levels(s.str_tokens, keywords);
    out.batches = out.samples.size();
    co_return autointerp::detail::partial_result<score_result>{std::move(out), std::nullopt};
  }

 private:
  executor_type ex_;
  scoring_options options_;
};

}  // namespace autointerp::score
