#pragma once
// A job: every selected latent loaded once (the one record source), then run through a list of
// stages (explain, then scorers) under the scheduler, each stage's files and run.jsonl line kept
// by the run store.

#include <autointerp/cache/dataset.hpp>
#include <autointerp/error.hpp>
#include <autointerp/pipeline/latent_outcome.hpp>
#include <autointerp/pipeline/progress.hpp>
#include <autointerp/pipeline/run.hpp>
#include <autointerp/pipeline/run_store.hpp>
#include <autointerp/pipeline/stage.hpp>
#include <autointerp/records/load_record.hpp>
#include <autointerp/run_on.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::pipeline {

/// Where a job's latents come from: shared, read-only handles. Plain aggregate.
struct job_sources {
  cache::dataset data;                                ///< the open cache
  std::shared_ptr<tokenizer::tokenizer const> tokens; ///< per-token strings; null shows ids as `[#id]`
  boost::asio::any_io_executor cpu;                   ///< where decompression, record building and file writes run
};

/// How a job runs and where it writes. Plain aggregate.
struct job_options {
  std::filesystem::path out;     ///< output folder (created if needed)
  bool resume = false;           ///< skip stages whose files exist; keep run.jsonl
  records::load_options records; ///< how records are built (delphi's settings, neighbour lists)
  progress_sink progress;        ///< told how far the job is; empty = nothing
  std::chrono::milliseconds progress_interval = std::chrono::seconds(10);
};

/// The parts of a running job: the hooks to hand to `async_run`, and the sinks they feed.
struct job {
  run_hooks hooks;
  std::shared_ptr<run_store> store;
  std::shared_ptr<pipeline::progress> progress;
  std::shared_ptr<std::optional<autointerp::error>> write_error;  ///< the first failed write (it also stops the run)
};

/// Scheduler settings for `concurrency` latents at once. When a stage calls an LLM the scheduler
/// admits twice as many, so that while `concurrency` calls wait the next latents are already
/// loaded and prompted (CPU work hidden behind the latency); the client must then bound the calls
/// itself: set its `limits.max_in_flight` (and `max_connections`) to `concurrency`. Memory grows
/// with `2 * concurrency` records, still not with the job.
inline run_options job_run_options(stage_list const& stages, std::size_t concurrency) {
  bool llm = false;
  for (auto const& s : stages) llm = llm || s->calls_llm();
  return {.max_concurrent = llm ? 2 * concurrency : concurrency};
}

namespace detail {

inline stage_outcome record_failure(std::string_view stage, autointerp::error e) {
  stage_outcome o;
  o.stage = std::string(stage);
  o.status = e == errc::too_few_examples ? latent_status::skipped : latent_status::failed;
  o.error = std::move(e);
  return o;
}

// Writes a stage's files on the CPU executor (the I/O thread never waits on the disk), then its
// line on the strand. Not cancelled with the latent: an answer that was paid for is kept.
inline boost::asio::awaitable<void> save(job_sources const& src, run_store& store, cache::latent_id const& id,
                                         stage_outcome& o) {
  result<void> saved;
  if (!o.files.empty()) {
    auto uncancellable = boost::asio::bind_cancellation_slot(boost::asio::cancellation_slot(),
                                                             boost::asio::as_tuple(boost::asio::use_awaitable));
    diagnostics diag;
    auto files = async_run_on(src.cpu, [&store, &o] { return store.write_files(o); }, diag, uncancellable);
    auto [ec] = co_await std::move(files);
    if (ec) saved = diag.to_error(ec);
  }
  if (!saved) {
    o.status = latent_status::failed;
    o.error = saved.error();
  }
  if (auto line = store.append(id, o); !line && saved) {
    o.status = latent_status::failed;
    o.error = line.error();
  }
}

// One latent's whole job: the stages not finished earlier, in order, on one record.
inline boost::asio::awaitable<latent_outcome> run_latent(job_sources const& src, job_options const& opts,
                                                         stage_list const& stages, run_store& store,
                                                         cache::latent_id id) {
  auto const start = std::chrono::steady_clock::now();
  latent_outcome out;
  out.latent = id;
  latent_work work;
  work.latent = id;
  std::vector<bool> done(stages.size());
  for (std::size_t i = 0; i < stages.size(); ++i) done[i] = opts.resume && stages[i]->finished(store, id);

  std::optional<stage_outcome> failure;
  {
    diagnostics diag;
    auto load = records::async_load_record(src.data, id, opts.records, src.tokens.get(), src.cpu, diag,
                                           boost::asio::as_tuple(boost::asio::use_awaitable));
    auto [ec, record] = co_await std::move(load);
    if (ec) {
      std::size_t first = 0;
      while (first < stages.size() && done[first]) ++first;
      failure = record_failure(first < stages.size() ? stages[first]->name() : "explain", diag.to_error(ec));
    } else {
      work.record = std::move(record);
    }
  }
  bool first = true;
  auto account = [&](stage_outcome& o) {
    if (first) {  // the first line's latency covers loading the record too
      o.latency = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
      out.status = o.status;
      first = false;
    } else if (o.status == latent_status::failed) {
      out.status = latent_status::failed;
    }
    if (o.error && !out.error) out.error = o.error;
    out.attempts += o.attempts;
    out.usage += o.usage;
  };
  if (failure) {
    co_await save(src, store, id, *failure);
    account(*failure);
    out.stages.push_back(std::move(*failure));
  } else {
    for (std::size_t i = 0; i < stages.size(); ++i) {
      if (done[i]) {
        stages[i]->restore(store, work);
        continue;
      }
      auto const stage_start = std::chrono::steady_clock::now();
      auto step = stages[i]->run(work);
      stage_outcome o;
      try {
        o = co_await std::move(step);
      } catch (...) {
        o.status = latent_status::failed;
        o.error = internal_error("stage '" + std::string(stages[i]->name()) + "'");
      }
      o.stage = std::string(stages[i]->name());
      if (o.error && *o.error == errc::deferred) {  // a batch will answer: nothing to save yet
        out.status = latent_status::deferred;
        break;
      }
      if (o.latency.count() == 0)
        o.latency = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stage_start);
      co_await save(src, store, id, o);
      account(o);
      bool const go_on = o.status == latent_status::explained || o.status == latent_status::scored;
      out.stages.push_back(std::move(o));
      if (!go_on) break;
    }
  }
  if (work.explanation) out.explanation = *work.explanation;
  out.latency = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  co_return out;
}

}  // namespace detail

/// Wires `stages` to an output folder and a progress display for `total` latents: with `resume`,
/// a latent whose stages are all finished is counted and not loaded; `on_finished` updates progress
/// and keeps the first failed write in `write_error`. `src`, `opts` and `stages` must outlive the
/// run. With `resume`, call `store->repair_run_log()` first if run.jsonl should list explanation
/// files whose line a killed process did not write (the CLI does).
/// Errors: `errc::write_failed` when the folder cannot be prepared; `errc::bad_option` without stages.
inline result<job> make_job(job_sources const& src, job_options const& opts, stage_list const& stages,
                            std::size_t total) {
  if (stages.empty()) return make_error(errc::bad_option, "make_job: the stage list is empty; give at least one stage");
  auto store = run_store::open(opts.out, opts.resume ? store_mode::resume : store_mode::fresh);
  if (!store) return store.error();
  job j;
  j.store = std::make_shared<run_store>(std::move(*store));
  j.progress = std::make_shared<pipeline::progress>(total, opts.progress, opts.progress_interval);
  j.write_error = std::make_shared<std::optional<autointerp::error>>();
  j.hooks.process = [s = &src, o = &opts, st = &stages, store = j.store](cache::latent_id id) {
    return detail::run_latent(*s, *o, *st, *store, std::move(id));
  };
  if (opts.resume) {
    j.hooks.already_done = [st = &stages, store = j.store, p = j.progress](cache::latent_id const& id) {
      for (auto const& s : *st)
        if (!s->finished(*store, id)) return false;
      p->add_already_done(1);
      return true;
    };
  }
  j.hooks.on_finished = [p = j.progress, w = j.write_error](latent_outcome const& r) {
    for (auto const& s : r.stages)
      if (s.error && *s.error == errc::write_failed && !*w) *w = *s.error;
    p->add(r);
  };
  return j;
}

}  // namespace autointerp::pipeline
