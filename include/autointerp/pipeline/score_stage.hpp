#pragma once
// A scoring stage: a scorer object run after the explain stage (or on explanations that already
// exist), writing its score file `scores/<scorer>/<module>_latent<i>.txt` in its format.

#include <autointerp/error.hpp>
#include <autointerp/pipeline/stage.hpp>
#include <autointerp/score/score_file.hpp>
#include <autointerp/score/scorer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

namespace autointerp::pipeline {

/// Scores each latent's explanation with `scorer`. The explanation is the explain stage's (this
/// run's, or restored from the output folder on resume), else the one `explanations` holds (a
/// folder of earlier explanations, ours or delphi's). Status: scored (the file is written; samples
/// of failed batches are null and the line's error says why), skipped (no explanation, too few
/// examples), failed.
class score_stage final : public stage {
 public:
  /// `scorer` must outlive the stage.
  explicit score_stage(score::scorer const& scorer, std::shared_ptr<run_store const> explanations = {})
      : scorer_(&scorer), explanations_(std::move(explanations)) {}

  std::string_view name() const noexcept override { return scorer_->name(); }
  bool calls_llm() const noexcept override { return scorer_->calls_llm(); }
  bool finished(run_store const& store, cache::latent_id const& id) const override {
    return store.has_file(run_store::score_file(name(), id));
  }

  boost::asio::awaitable<stage_outcome> run(latent_work& work) const override {
    stage_outcome out;
    auto const& id = work.latent;
    if (!work.explanation && explanations_) work.explanation = explanations_->read_explanation(id);
    if (!work.explanation) {
      out.status = latent_status::skipped;
      out.error = make_error(errc::file_not_found, "latent " + std::to_string(id.index) + " of module '" + id.module +
                                                       "' has no explanation to score");
      co_return out;
    }
    diagnostics diag;
    auto op = scorer_->async_score(work.record, *work.explanation, diag, boost::asio::as_tuple(boost::asio::use_awaitable));
    auto [ec, result] = co_await std::move(op);
    out.attempts = result.attempts;
    out.usage = result.usage;
    out.n_activations = work.record.n_activations;
    if (ec) {
      out.status = ec == errc::too_few_examples ? latent_status::skipped : latent_status::failed;
      out.error = diag.to_error(ec);
      co_return out;
    }
    out.status = latent_status::scored;
    out.error = result.batch_error;
    out.files.push_back({run_store::score_file(name(), id), score::score_file_text(name(), result.samples, result.trials)});
    co_return out;
  }

 private:
  score::scorer const* scorer_;
  std::shared_ptr<run_store const> explanations_;
};

}  // namespace autointerp::pipeline
