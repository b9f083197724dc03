#pragma once
// A stage of a job: one step of a latent's work after its record is built (explain, then the
// scorers). The job runs a latent's stages in order through this interface and knows nothing
// about any one of them; a new stage is a new class, and touches no existing one.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/pipeline/latent_outcome.hpp>
#include <autointerp/pipeline/run_store.hpp>
#include <autointerp/records/latent_record.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace autointerp::pipeline {

/// What the stages of one latent share: its record and what earlier stages made of it.
struct latent_work {
  cache::latent_id latent;
  records::latent_record record;
  std::optional<std::string> explanation;  ///< set by the explain stage, or restored from the run store
};

/// The interface of a stage.
class stage {
 public:
  stage() = default;
  stage(stage const&) = delete;
  stage& operator=(stage const&) = delete;
  virtual ~stage() = default;

  /// The stage's name in `run.jsonl` ("explain", "detection", ...); unique within a job.
  virtual std::string_view name() const noexcept = 0;

  /// True when the stage waits on LLM calls: the job then prepares latents ahead of them.
  virtual bool calls_llm() const noexcept { return false; }

  /// Resume: whether an earlier run finished this stage for `id` (its files are in `store`).
  /// Cheap (a file check), called on the scheduler's strand before the latent is loaded.
  virtual bool finished(run_store const& store, cache::latent_id const& id) const = 0;

  /// Resume: puts into `work` what later stages need from this stage's earlier result (the explain
  /// stage: the explanation). Called for a finished stage before later stages run.
  virtual void restore(run_store const& store, latent_work& work) const {
    (void)store;
    (void)work;
  }

  /// Runs the stage for `work.latent`, on the scheduler's strand; `work` outlives the coroutine.
  /// Failures go into the outcome (status `failed` with `error`), never as exceptions (one that
  /// escapes is reported as `errc::internal`). The outcome's `files` are written by the job,
  /// atomically, before its run.jsonl line. A stage whose outcome is not `explained` or `scored`
  /// ends the latent's chain. An outcome whose error is `errc::deferred` (a batch will answer its
  /// calls) is not saved at all: the latent counts as `deferred` and a later pass runs the stage
  /// again. Terminal cancellation of the run reaches the coroutine.
  virtual boost::asio::awaitable<stage_outcome> run(latent_work& work) const = 0;
};

/// The stages of a job, in order.
using stage_list = std::vector<std::shared_ptr<stage const>>;

}  // namespace autointerp::pipeline
