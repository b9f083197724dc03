#pragma once
// The main job: every selected latent explained under the scheduler, results into an output folder.

#include <autointerp/error.hpp>
#include <autointerp/pipeline/explain_latent.hpp>
#include <autointerp/pipeline/latent_outcome.hpp>
#include <autointerp/pipeline/output_dir.hpp>
#include <autointerp/pipeline/progress.hpp>
#include <autointerp/pipeline/run.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

namespace autointerp::pipeline {

/// Where and how a job writes. Plain aggregate.
struct job_options {
  std::filesystem::path out;     ///< output folder (created if needed)
  bool resume = false;           ///< skip latents whose explanation file exists; keep run.jsonl
  std::FILE* progress = stderr;  ///< progress output; null = none
  int progress_terminal = -1;    ///< 1/0 forces the bar/plain lines; -1 = isatty(progress)
};

/// The parts of a running job: the stages to hand to `async_run`, and the sinks they feed.
struct explain_job {
  pipeline::stages stages;
  std::shared_ptr<output_dir> out;
  std::shared_ptr<pipeline::progress> progress;
  std::shared_ptr<std::optional<autointerp::error>> write_error;  ///< the first failed write, if any
};

/// Scheduler settings for `concurrency` latents explained at once. With the `llm` backend the
/// scheduler admits twice as many, so that while `concurrency` calls wait on the LLM the next
/// latents are already loaded and prompted (CPU work hidden behind the latency); the client must
/// then bound the calls itself: set its `limits.max_in_flight` (and `max_connections`) to
/// `concurrency`. Memory grows with `2 * concurrency` records, still not with the job.
inline run_options explain_run_options(explainer_backend backend, std::size_t concurrency) {
  return {.max_concurrent = backend == explainer_backend::llm ? 2 * concurrency : concurrency};
}

/// Wires `explain_latent` to an output folder and a progress display for `total` latents:
/// `already_done` (with `resume`) trusts existing explanation files; `on_finished` writes the
/// explanation file and the run.jsonl line, then updates progress. A failed write is reported once
/// on the progress stream and kept in `write_error` (the caller should exit non-zero).
/// `ctx` must outlive the run. Errors: `errc::write_failed` when the folder cannot be prepared.
inline result<explain_job> make_explain_job(explain_context const& ctx, job_options const& opts, std::size_t total) {
  auto out = output_dir::open(opts.out, opts.resume);
  if (!out) return out.error();
  explain_job job;
  job.out = std::make_shared<output_dir>(std::move(*out));
  job.progress = std::make_shared<pipeline::progress>(total, opts.progress, opts.progress_terminal);
  job.write_error = std::make_shared<std::optional<autointerp::error>>();
  auto const* c = &ctx;
  job.stages.process = [c](cache::latent_id id) { return explain_latent(*c, std::move(id)); };
  if (opts.resume) {
    job.stages.already_done = [o = job.out, p = job.progress](cache::latent_id const& id) {
      bool done = o->already_explained(id);
      if (done) p->add_already_done(1);
      return done;
    };
  }
  job.stages.on_finished = [o = job.out, p = job.progress, w = job.write_error, f = opts.progress](latent_outcome const& r) {
    if (auto written = o->write(r); !written && !*w) {
      *w = written.error();
      if (f) std::fprintf(f, "\nautointerp: %s\n", written.error().what().c_str());
    }
    p->add(r);
  };
  return job;
}

}  // namespace autointerp::pipeline
