#pragma once
// The keyword baseline as a scorer: no LLM, the explanation's quoted strings decide.

#include <autointerp/score/build_samples.hpp>
#include <autointerp/score/keyword_baseline.hpp>
#include <autointerp/score/parse_scoring_answer.hpp>
#include <autointerp/score/scorer.hpp>

#include <span>
#include <utility>

namespace autointerp::score {

/// Detection predicts activating when an example contains one of the explanation's quoted strings;
/// fuzzing predicts correct when every highlighted span is one of them (`keyword_answer`). Same
/// samples and batches as the LLM scorer, so the baseline's figures compare with an LLM's.
class keyword_scorer final : public scorer {
 public:
  keyword_scorer(executor_type ex, scorer_kind kind, scoring_options options = {})
      : ex_(std::move(ex)), kind_(kind), options_(std::move(options)) {}

  std::string_view name() const noexcept override { return scorer_name(kind_); }
  executor_type get_executor() const noexcept override { return ex_; }

 protected:
  boost::asio::awaitable<autointerp::detail::partial_result<score_result>> score(records::latent_record const& record,
                                                                                 std::string_view explanation) const override {
    score_result out;
    auto samples = build_samples(record, kind_, options_);
    if (!samples) co_return autointerp::detail::partial_result<score_result>{std::move(out), samples.error()};
    out.samples = std::move(*samples);
    auto const keywords = quoted_strings(explanation);
    for (auto batch : split_batches(out.samples)) {
      apply_answer(batch, keyword_answer(kind_, std::span<std::string const>(keywords), batch));
      ++out.batches;
    }
    co_return autointerp::detail::partial_result<score_result>{std::move(out), std::nullopt};
  }

 private:
  executor_type ex_;
  scorer_kind kind_;
  scoring_options options_;
};

}  // namespace autointerp::score
