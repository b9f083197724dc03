#pragma once
// The rounds of a batched job: settle the batches in flight (poll them until they end, download
// their results), run a pass of the job over its latents with the batch router (answers from the
// results, new requests into input files), submit those files as new batches, and again, until a
// pass asks for nothing new. A restart with the same batches.jsonl polls what was submitted
// instead of submitting it again.

#include <autointerp/batch/batch_api.hpp>
#include <autointerp/batch/batch_log.hpp>
#include <autointerp/batch/batch_router.hpp>
#include <autointerp/batch/batch_status.hpp>
#include <autointerp/batch/result_file.hpp>
#include <autointerp/error.hpp>
#include <autointerp/llm/client.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::batch {

/// How rounds run. Plain aggregate.
struct round_settings {
  std::filesystem::path folder;  ///< input files and downloaded results (e.g. OUT/batches)
  poll_settings poll;            ///< `--batch-poll-interval`, backing off to 60 s
  batch_options create;          ///< completion window and metadata of new batches
  std::size_t max_rounds = 100;  ///< a guard against a job that never settles
};

/// Told after each step, for the progress line (may be empty).
struct round_event {
  std::string what;  ///< one line: "batch batch_abc: in_progress (120/400 done)", "round 2: 3 batches, 1,200 requests submitted"
};

/// What the rounds did.
struct rounds_report {
  std::size_t passes = 0;
  std::size_t batches_submitted = 0;   ///< by this process
  std::size_t requests_submitted = 0;  ///< by this process
  std::size_t batches_polled = 0;      ///< distinct batches this process waited for (a restart's included)
  pass_counts last_pass;               ///< the final pass's calls (answered, failed)
  std::chrono::milliseconds pass_time{0};     ///< client-side work: the passes (prompts built, answers mapped and saved)
  std::chrono::milliseconds submit_time{0};   ///< uploading and creating batches
  std::chrono::milliseconds download_time{0}; ///< downloading and indexing results
};

/// One pass of the job over its latents (the router set up); completes when every latent of the
/// pass finished or deferred. An error stops the rounds.
using pass_function = std::function<boost::asio::awaitable<result<void>>(std::size_t pass)>;

namespace detail {

inline std::filesystem::path output_path(round_settings const& s, std::string const& batch_id) {
  return s.folder / (batch_id + ".output.jsonl");
}
inline std::filesystem::path errors_path(round_settings const& s, std::string const& batch_id) {
  return s.folder / (batch_id + ".errors.jsonl");
}

// Downloads a finished batch's result files that are not on disk yet.
inline boost::asio::awaitable<result<void>> fetch_results(llm::client& api, round_settings const& s, batch_record b) {
  std::vector<std::pair<std::string, std::filesystem::path>> const wanted{{b.output_file_id, output_path(s, b.batch_id)},
                                                                          {b.error_file_id, errors_path(s, b.batch_id)}};
  for (auto const& [file_id, path] : wanted) {
    std::error_code ec;
    if (file_id.empty() || std::filesystem::exists(path, ec)) continue;
    auto op = download_file(api, file_id, path);
    auto got = co_await std::move(op);
    if (!got) co_return got.error();
  }
  co_return result<void>{};
}

// Polls every unfinished batch of `log` until each ended, recording each status change.
inline boost::asio::awaitable<result<void>> settle(llm::client& api, batch_log& log, round_settings const& s,
                                                   std::function<void(round_event const&)> const& tell,
                                                   rounds_report& report) {
  auto unfinished = log.unfinished();
  // A batch that ended before we learnt its result files (it was done when created, or a crash
  // came between its end and our download) is polled once more for their ids.
  for (auto const& b : log.batches())
    if (has_results(b.status) && b.output_file_id.empty() && b.error_file_id.empty()) unfinished.push_back(b);
  report.batches_polled += unfinished.size();
  poll_schedule schedule(s.poll);
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  while (!unfinished.empty()) {
    timer.expires_after(schedule.next());
    boost::system::error_code ec;
    co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (ec) co_return make_error(errc::cancelled, "stopped while waiting for " + std::to_string(unfinished.size()) +
                                                      " batches; they keep running: --resume polls them, `autointerp "
                                                      "batches OUT --cancel` cancels them");
    std::vector<batch_record> still;
    for (auto const& b : unfinished) {
      auto op = get_batch(api, b.batch_id);
      auto got = co_await std::move(op);
      if (!got) co_return got.error();
      if (got->status != b.status || got->output_file_id != b.output_file_id || got->error_file_id != b.error_file_id) {
        if (auto r = log.record_status(b.batch_id, got->status, got->output_file_id, got->error_file_id); !r)
          co_return r.error();
        if (tell)
          tell({"batch " + b.batch_id + " (" + b.stage + "): " + std::string(to_string(got->status)) + " (" +
                std::to_string(got->counts.completed) + "/" + std::to_string(got->counts.total) + " done, " +
                std::to_string(got->counts.failed) + " failed)" + (got->errors.empty() ? "" : ": " + got->errors)});
      }
      if (!is_terminal(got->status)) still.push_back(*log.find(b.batch_id));
    }
    unfinished = std::move(still);
  }
  co_return result<void>{};
}

}  // namespace detail

/// Runs rounds until a pass submits nothing: every call was answered, or failed after its retries.
/// `api` is the job's client (the same TLS, proxy, retries and diagnostics as chat calls);
/// `router` must be the router of the client the passes call through, and `log` the router's.
/// Cancellation of the awaiting coroutine (any type) stops at the next step, leaving submitted
/// batches running (`errc::cancelled`). Errors: the Batch API's (the client's), `errc::write_failed`.
inline boost::asio::awaitable<result<rounds_report>> run_rounds(llm::client& api, batch_log& log, batch_router& router,
                                                                round_settings s, pass_function pass,
                                                                std::function<void(round_event const&)> tell = {}) {
  co_await boost::asio::this_coro::reset_cancellation_state(boost::asio::enable_total_cancellation());
  rounds_report report;
  using clock = std::chrono::steady_clock;
  auto since = [](clock::time_point t) { return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t); };
  std::error_code fec;
  std::filesystem::create_directories(s.folder, fec);
  if (fec) co_return make_error(errc::write_failed, "cannot create " + s.folder.string() + ": " + fec.message());
  for (std::size_t round = 0; round < s.max_rounds; ++round) {
    {
      auto op = detail::settle(api, log, s, tell, report);
      auto settled = co_await std::move(op);
      if (!settled) co_return settled.error();
    }
    // Results of every batch so far, oldest first: a request answered in a later round wins.
    auto const t0 = clock::now();
    std::vector<std::filesystem::path> files;
    for (auto const& b : log.batches()) {
      if (!has_results(b.status)) continue;
      auto op = detail::fetch_results(api, s, b);
      auto fetched = co_await std::move(op);
      if (!fetched) co_return fetched.error();
      std::error_code ec;
      if (auto p = detail::output_path(s, b.batch_id); std::filesystem::exists(p, ec)) files.push_back(p);
      if (auto p = detail::errors_path(s, b.batch_id); std::filesystem::exists(p, ec)) files.push_back(p);
    }
    auto index = result_index::build(std::move(files));
    if (!index) co_return index.error();
    report.download_time += since(t0);

    auto const t1 = clock::now();
    router.start_pass(&*index, round);
    {
      auto op = pass(round);
      auto passed = co_await std::move(op);
      ++report.passes;
      if (!passed) co_return passed.error();
    }
    auto ready = router.finish_pass();
    report.pass_time += since(t1);
    report.last_pass = router.counts();
    if (!ready) co_return ready.error();
    if ((co_await boost::asio::this_coro::cancellation_state).cancelled() != boost::asio::cancellation_type::none)
      co_return make_error(errc::cancelled, "stopped after pass " + std::to_string(round + 1) +
                                                "; submitted batches keep running: --resume goes on");
    if (ready->empty()) co_return report;

    auto const t2 = clock::now();
    std::size_t requests = 0;
    for (auto const& f : *ready) {
      auto up = detail::upload_file(api, f.file.path);
      auto uploaded = co_await std::move(up);
      if (!uploaded) co_return uploaded.error();
      auto create = s.create;  // the dashboard (and `async_list_batches`) can tell which file it ran
      create.metadata["autointerp_input"] = f.file.path.filename().string();
      auto mk = detail::create_batch(api, uploaded->id, std::move(create));
      auto created = co_await std::move(mk);
      if (!created) co_return created.error();
      batch_record rec;
      rec.batch_id = created->id;
      rec.input_file_id = uploaded->id;
      rec.stage = f.stage;
      rec.status = created->status;
      if (auto r = log.record_submitted(rec, f.file.custom_ids); !r) co_return r.error();
      if (tell && created->status == batch_status::failed)
        tell({"batch " + created->id + " (" + f.stage + ") failed validation: " + created->errors});
      ++report.batches_submitted;
      report.requests_submitted += f.file.requests;
      requests += f.file.requests;
      std::error_code ec;
      std::filesystem::remove(f.file.path, ec);  // the API holds it now
    }
    report.submit_time += since(t2);
    if (tell)
      tell({"round " + std::to_string(round + 1) + ": " + std::to_string(ready->size()) + " batches, " +
            std::to_string(requests) + " requests submitted"});
  }
  co_return make_error(errc::internal, "the batched job did not settle after " + std::to_string(s.max_rounds) +
                                           " rounds; this is a bug in autointerp, please report it");
}

}  // namespace autointerp::batch
