#pragma once
// The explain stage: an explainer object run as the first stage of a job.

#include <autointerp/error.hpp>
#include <autointerp/explain/explainer.hpp>
#include <autointerp/pipeline/stage.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <chrono>
#include <memory>
#include <utility>

namespace autointerp::pipeline {

/// Explains each latent with `explainer` and writes `explanations/<module>_latent<i>.txt` (the
/// explanation as one JSON string, as delphi writes it), or for a dry run `prompts/...json`.
/// Status: explained, unparsed (the raw answer kept, `errc::unparsed_answer`), skipped (dry run;
/// too few examples), failed.
class explain_stage final : public stage {
 public:
  /// `explainer` must outlive the stage.
  explicit explain_stage(explain::explainer const& explainer) : explainer_(&explainer) {}

  std::string_view name() const noexcept override { return "explain"; }
  bool calls_llm() const noexcept override { return explainer_->calls_llm(); }
  bool finished(run_store const& store, cache::latent_id const& id) const override {
    return store.has_explanation(id);
  }
  void restore(run_store const& store, latent_work& work) const override {
    work.explanation = store.read_explanation(work.latent);
  }

  boost::asio::awaitable<stage_outcome> run(latent_work& work) const override {
    auto const start = std::chrono::steady_clock::now();
    stage_outcome out;
    diagnostics diag;
    auto op = explainer_->async_explain(work.record, diag, boost::asio::as_tuple(boost::asio::use_awaitable));
    auto [ec, answer] = co_await std::move(op);
    out.attempts = answer.attempts;
    out.usage = answer.usage;
    auto const& id = work.latent;
    if (ec) {
      out.status = ec == errc::too_few_examples ? latent_status::skipped : latent_status::failed;
      out.error = diag.to_error(ec);
    } else if (answer.kind == explain::answer_kind::dry_run) {
      out.status = latent_status::skipped;
      out.request = std::move(answer.request);
      out.files.push_back({run_store::prompt_file(id), out.request});
    } else if (answer.kind == explain::answer_kind::unparsed) {
      out.status = latent_status::unparsed;
      out.raw_answer = std::move(answer.raw_answer);
      out.error = make_error(errc::unparsed_answer, "latent " + std::to_string(id.index) + " of module '" + id.module +
                                                        "': no [EXPLANATION]: line in the answer; the raw answer is kept");
    } else {
      out.status = latent_status::explained;
      out.explanation = std::move(answer.text);
      out.files.push_back({run_store::explanation_file(id), boost::json::serialize(boost::json::string(out.explanation))});
      work.explanation = out.explanation;
    }
    out.latency = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    co_return out;
  }

 private:
  explain::explainer const* explainer_;
};

}  // namespace autointerp::pipeline
