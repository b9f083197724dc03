#pragma once
// The main job: every selected latent explained under the scheduler, results into an output folder.

#include <autointerp/error.hpp>
#include <autointerp/pipeline/explain_latent.hpp>
#include <autointerp/pipeline/latent_outcome.hpp>
#include <autointerp/pipeline/output_dir.hpp>
#include <autointerp/pipeline/progress.hpp>
#include <autointerp/pipeline/run.hpp>
#include <autointerp/run_on.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_awaitable.hpp>

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
  std::shared_ptr<std::optional<autointerp::error>> write_error;  ///< the first failed write, if any (it also stops the run)
};

/// Scheduler settings for `concurrency` latents explained at once. With the `llm` backend the
/// scheduler admits twice as many, so that while `concurrency` calls wait on the LLM the next
/// latents are already loaded and prompted (CPU work hidden behind the latency); the client must
/// then bound the calls itself: set its `limits.max_in_flight` (and `max_connections`) to
/// `concurrency`. Memory grows with `2 * concurrency` records, still not with the job.
inline run_options explain_run_options(explainer_backend backend, std::size_t concurrency) {
  return {.max_concurrent = backend == explainer_backend::llm ? 2 * concurrency : concurrency};
}

/// One latent's whole job in a run that writes to `out`: `explain_latent`, then the latent's files
/// on `ctx.cpu` (so the I/O thread never waits on the disk), then its run.jsonl line on the calling
/// strand. Saving is not cancelled with the latent: an answer that was paid for is kept. A failed
/// write turns the outcome into `failed` with `errc::write_failed`, which stops the run (`is_fatal`).
inline boost::asio::awaitable<latent_outcome> explain_and_save(explain_context const& ctx, std::shared_ptr<output_dir> out,
                                                               cache::latent_id id) {
  auto explain = explain_latent(ctx, std::move(id));
  latent_outcome outcome = co_await std::move(explain);
  result<void> saved;
  if (output_dir::has_files(outcome)) {
    auto uncancellable = boost::asio::bind_cancellation_slot(boost::asio::cancellation_slot(), boost::asio::use_awaitable);
    auto files = async_run_on(ctx.cpu, [&out, &outcome] { return out->write_files(outcome); }, uncancellable);
    saved = co_await std::move(files);
  }
  if (!saved) {
    outcome.status = latent_status::failed;
    outcome.error = saved.error();
  }
  if (auto line = out->append_line(outcome); !line && saved) {
    outcome.status = latent_status::failed;
    outcome.error = line.error();
  }
  co_return outcome;
}

/// Wires `explain_and_save` to an output folder and a progress display for `total` latents:
/// `already_done` (with `resume`) trusts existing explanation files; `on_finished` updates progress
/// and keeps the first failed write in `write_error`. `ctx` must outlive the run.
/// Errors: `errc::write_failed` when the folder cannot be prepared.
inline result<explain_job> make_explain_job(explain_context const& ctx, job_options const& opts, std::size_t total) {
  auto out = output_dir::open(opts.out, opts.resume);
  if (!out) return out.error();
  explain_job job;
  job.out = std::make_shared<output_dir>(std::move(*out));
  job.progress = std::make_shared<pipeline::progress>(total, opts.progress, opts.progress_terminal);
  job.write_error = std::make_shared<std::optional<autointerp::error>>();
  auto const* c = &ctx;
  job.stages.process = [c, o = job.out](cache::latent_id id) { return explain_and_save(*c, o, std::move(id)); };
  if (opts.resume) {
    job.stages.already_done = [o = job.out, p = job.progress](cache::latent_id const& id) {
      bool done = o->already_explained(id);
      if (done) p->add_already_done(1);
      return done;
    };
  }
  job.stages.on_finished = [p = job.progress, w = job.write_error](latent_outcome const& r) {
    if (r.error && *r.error == errc::write_failed && !*w) *w = *r.error;
    p->add(r);
  };
  return job;
}

}  // namespace autointerp::pipeline
