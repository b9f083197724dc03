#pragma once
// The chat router of a batched job (`--provider openai-batch`). The job runs in passes over its
// latents with the stages unchanged; in each pass every call is answered from the result files of
// the batches so far, or, when no batch answered it yet, written to the next round's input file
// and deferred (the stage waits for a later pass, nothing is saved). So a stage's prompts are built
// again in each pass (they are deterministic), nothing but one line at a time is held for the
// input files, and answers are read back one at a time through the result index.

#include <autointerp/batch/batch_log.hpp>
#include <autointerp/batch/request_file.hpp>
#include <autointerp/batch/result_file.hpp>
#include <autointerp/error.hpp>
#include <autointerp/llm/chat_request.hpp>
#include <autointerp/llm/chat_response.hpp>
#include <autointerp/llm/chat_router.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::batch {

/// An input file closed by the router, with the stage whose requests it holds.
struct ready_file {
  std::string stage;
  request_file_info file;
};

/// What one pass did with the calls.
struct pass_counts {
  std::size_t answered = 0;  ///< from a batch's result
  std::size_t failed = 0;    ///< a batch's error, after the retries
  std::size_t pending = 0;   ///< in a batch still running (not written again)
  std::size_t queued = 0;    ///< written to the next round's input files
};

/// Answers chat calls from batch results; queues the others. Use it from the client's executor
/// only (not thread-safe). The job driver gives it the batch log and, before each pass, the index
/// of every result file so far.
class batch_router final : public llm::chat_router {
 public:
  /// Input files go to `folder`, named `<stage>-r<round>-NNNNN.jsonl`. A request that failed (or
  /// went unanswered) in `retries` + 1 batches already, or failed in a way sending it again cannot
  /// mend (400, 401, ...), is not sent again: its call fails with the batch's error.
  batch_router(std::filesystem::path folder, batch_log const& log, unsigned retries, request_file_limits limits = {})
      : folder_(std::move(folder)), log_(&log), retries_(retries), limits_(limits) {}

  /// Before a pass: the results to answer from (null: none yet) and the round its new requests
  /// belong to (for the input files' names).
  void start_pass(result_index* results, std::size_t round) {
    results_ = results;
    round_ = round;
    counts_ = {};
  }

  /// After a pass: closes the input files and hands them over (empty when every call was answered).
  /// Errors: `errc::write_failed`, or the first error a pass met writing a file.
  result<std::vector<ready_file>> finish_pass() {
    for (auto& [stage, w] : writers_) {
      auto closed = w->close();
      if (!closed) return closed.error();
      if (*closed) ready_.push_back({stage, std::move(**closed)});
    }
    writers_.clear();
    if (write_error_) {
      auto e = std::move(*write_error_);
      write_error_.reset();
      ready_.clear();
      return e;
    }
    return std::exchange(ready_, {});
  }

  pass_counts const& counts() const noexcept { return counts_; }

  boost::asio::awaitable<result<llm::chat_response>> route(llm::chat_request request) override {
    co_return answer(std::move(request));
  }

 private:
  result<llm::chat_response> answer(llm::chat_request request) {
    if (!request.tag)
      return make_error(errc::bad_option, "a batched call needs a call_tag (module, latent, stage) to name it in the batch");
    auto const id = request.tag->custom_id();
    std::optional<result_line> line;
    if (results_) {
      auto found = results_->find(id);
      if (!found) return found.error();
      line = std::move(*found);
    }
    if (line && line->ok()) {
      ++counts_.answered;
      return std::move(*line->response);
    }
    auto const* in = log_->batch_of(id);
    if (in && !is_terminal(in->status)) {  // submitted, not back yet (a restart polls it first)
      ++counts_.pending;
      return make_error(errc::deferred, id + " waits for batch " + in->batch_id);
    }
    bool const hopeless = line && line->failure && line->failure->kind != llm::failure_kind::retryable;
    if (hopeless || log_->times_submitted(id) > retries_) {
      ++counts_.failed;
      if (line && line->failure) return line->failure->error;
      return make_error(errc::server_error, id + ": no answer in " + std::to_string(retries_ + 1) +
                                                " batches (expired, cancelled or failed); run again with --resume "
                                                "and a larger --batch-retries to send it again");
    }
    auto const stage = request.tag->stage;
    auto& w = writers_[stage];
    if (!w) w = std::make_unique<request_file_writer>(folder_, stage + "-r" + std::to_string(round_), limits_);
    auto added = w->add(id, request);
    if (!added) {
      if (!write_error_) write_error_ = added.error();
      return added.error();
    }
    if (*added) ready_.push_back({stage, std::move(**added)});
    ++counts_.queued;
    return make_error(errc::deferred, id + " goes into the next batch");
  }

  std::filesystem::path folder_;
  batch_log const* log_;
  unsigned retries_;
  request_file_limits limits_;
  result_index* results_ = nullptr;
  std::size_t round_ = 0;
  std::map<std::string, std::unique_ptr<request_file_writer>> writers_;
  std::vector<ready_file> ready_;
  std::optional<error> write_error_;
  pass_counts counts_;
};

}  // namespace autointerp::batch
