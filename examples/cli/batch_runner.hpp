#pragma once
// `--provider openai-batch`: the job runs in passes over its latents through the batch router,
// with batches submitted, polled and read back between passes (batch/batch_rounds.hpp). Each pass
// is an ordinary job of the same stages; the first starts afresh unless --resume, later ones resume.

#include <autointerp/batch/batch_log.hpp>
#include <autointerp/batch/batch_rounds.hpp>
#include <autointerp/batch/batch_router.hpp>
#include <autointerp/error.hpp>
#include <autointerp/pipeline/job.hpp>
#include <autointerp/pipeline/run.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cli {

/// The batch flags.
struct batch_args {
  double poll_interval_s = 10;
  unsigned retries = 3;
  std::size_t max_requests = 50'000;        ///< per input file (the API's limit; smaller for tests)
  std::uint64_t max_bytes = 200'000'000;    ///< per input file
};

inline void add_batch_options(CLI::App* cmd, batch_args& b) {
  cmd->add_option("--batch-poll-interval", b.poll_interval_s,
                  "openai-batch: seconds before the first poll of a batch (later polls back off to 60 s)")
      ->capture_default_str();
  cmd->add_option("--batch-retries", b.retries, "openai-batch: rounds a failed or expired request is sent again")
      ->capture_default_str();
  cmd->add_option("--batch-max-requests", b.max_requests, "openai-batch: requests per input file (the API allows 50,000)")
      ->capture_default_str();
}

/// The batch state of an output folder: `OUT/batches.jsonl` and the router that reads it.
struct batch_context {
  std::unique_ptr<autointerp::batch::batch_log> log;
  std::shared_ptr<autointerp::batch::batch_router> router;
  autointerp::batch::round_settings rounds;
};

/// Opens OUT's batch log. A fresh run (no --resume) starts a new log, but refuses to when batches
/// of an earlier run are still running (they would be paid for and then forgotten).
inline autointerp::result<batch_context> open_batches(std::filesystem::path const& out, bool resume, batch_args const& b) {
  namespace batch = autointerp::batch;
  auto bad = [](std::string m) { return autointerp::make_error(autointerp::errc::bad_option, std::move(m)); };
  if (!(b.poll_interval_s > 0) || !std::isfinite(b.poll_interval_s)) return bad("--batch-poll-interval must be a positive number of seconds");
  if (b.max_requests == 0) return bad("--batch-max-requests must be at least 1");
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return autointerp::make_error(autointerp::errc::write_failed, "cannot create " + out.string() + ": " + ec.message());
  auto const path = out / "batches.jsonl";
  if (!resume && std::filesystem::exists(path, ec)) {
    auto earlier = batch::batch_log::open(path);
    if (!earlier) return earlier.error();
    if (!earlier->unfinished().empty())
      return bad(path.string() + " lists " + std::to_string(earlier->unfinished().size()) +
                 " batches still running: pass --resume to collect them, or cancel them with `autointerp batches " +
                 out.string() + " --cancel`");
    std::filesystem::remove(path, ec);
    std::filesystem::remove_all(out / "batches", ec);
  }
  auto log = batch::batch_log::open(path);
  if (!log) return log.error();
  batch_context c;
  c.log = std::make_unique<batch::batch_log>(std::move(*log));
  c.rounds.folder = out / "batches";
  c.rounds.poll.first = std::chrono::milliseconds(static_cast<std::int64_t>(b.poll_interval_s * 1000));
  c.rounds.poll.max = std::max(c.rounds.poll.first, std::chrono::milliseconds(60'000));
  batch::request_file_limits limits;
  limits.max_requests = b.max_requests;
  limits.max_bytes = b.max_bytes;
  c.router = std::make_shared<batch::batch_router>(c.rounds.folder, *c.log, b.retries, limits);
  return c;
}

/// One pass of the job: the stages over the latents still waiting (all of them in the first pass),
/// resuming from what earlier passes saved. A named type rather than a lambda: g++ 12 mishandles
/// lambdas in coroutine frames.
struct batch_pass {
  boost::asio::any_io_executor ex;
  autointerp::pipeline::job_sources const* sources;
  autointerp::pipeline::job_options const* options;
  autointerp::pipeline::stage_list const* stages;
  std::vector<autointerp::cache::latent_id>* waiting;  ///< in: this pass's latents; out: those deferred to the next
  std::size_t concurrency;
  std::optional<autointerp::pipeline::run_summary>* total;  ///< the passes' counts added up

  boost::asio::awaitable<autointerp::result<void>> operator()(std::size_t pass) const {
    namespace pl = autointerp::pipeline;
    pl::job_options opts = *options;
    opts.resume = opts.resume || pass > 0;
    auto job = pl::make_job(*sources, opts, *stages, waiting->size());
    if (!job) co_return job.error();
    if (opts.resume)
      if (auto repaired = job->store->repair_run_log(); !repaired) co_return repaired.error();
    auto next = std::make_shared<std::vector<autointerp::cache::latent_id>>();
    job->hooks.on_finished = [next, inner = job->hooks.on_finished](pl::latent_outcome const& o) {
      if (o.status == pl::latent_status::deferred) next->push_back(o.latent);
      inner(o);
    };
    autointerp::diagnostics diag;
    auto op = pl::async_run(ex, std::move(*waiting), job->hooks, pl::job_run_options(*stages, concurrency), diag,
                            boost::asio::as_tuple(boost::asio::use_awaitable));
    auto [ec, s] = co_await std::move(op);
    job->progress->finish();
    *waiting = std::move(*next);
    if (ec) co_return diag.to_error(ec);
    if (!*total) *total = pl::run_summary{};
    auto& t = **total;
    t.explained += s.explained;
    t.unparsed += s.unparsed;
    t.failed += s.failed;
    t.skipped += s.skipped;
    t.scored += s.scored;
    t.deferred = s.deferred;  // what still waits: the last pass's
    if (pass == 0) t.already_done = s.already_done;
    t.usage += s.usage;
    t.stop = s.stop;
    t.fatal = s.fatal;
    if (*job->write_error) co_return **job->write_error;
    if (s.stop == pl::stop_reason::fatal && s.fatal) co_return *s.fatal;
    co_return autointerp::result<void>{};
  }
};

}  // namespace cli
