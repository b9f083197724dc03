#pragma once
// A scorer: an object with one asynchronous operation, a latent's record and explanation in, the
// scored samples out. The SDK's: detection and fuzzing (`llm_scorer`), simulation, intruder,
// embedding, and the keyword baselines that need no LLM.

#include <autointerp/detail/async_op.hpp>
#include <autointerp/error.hpp>
#include <autointerp/llm/token_usage.hpp>
#include <autointerp/records/latent_record.hpp>
#include <autointerp/score/score_sample.hpp>
#include <autointerp/score/scoring_options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace autointerp::score {

/// One latent's scoring: every sample with its prediction (null where its batch never parsed or
/// its call failed), or the intruder's prompts, and what it took.
struct score_result {
  std::vector<score_sample> samples;  ///< every scorer but intruder: the scored examples
  std::vector<intruder_trial> trials; ///< intruder: its prompts
  std::size_t batches = 0;         ///< prompts (one per batch of `n_examples_shown` samples)
  std::size_t failed_batches = 0;  ///< batches left without predictions
  std::uint32_t attempts = 0;      ///< HTTP attempts over all batches, retries and re-asks included
  llm::token_usage usage;
  std::optional<error> batch_error;  ///< the first failure of a batch, when some batches failed
};

/// The interface of every scorer. Derive and implement `score` and `get_executor`; callers use
/// `async_score`.
class scorer {
 public:
  using executor_type = boost::asio::any_io_executor;

  scorer() = default;
  scorer(scorer const&) = delete;
  scorer& operator=(scorer const&) = delete;
  virtual ~scorer() = default;

  /// The scorer's name: its folder under `scores/` and its stage in `run.jsonl` ("detection", "fuzz").
  virtual std::string_view name() const noexcept = 0;
  /// Where scoring runs (for an LLM scorer, its client's executor).
  virtual executor_type get_executor() const noexcept = 0;
  /// True when scoring waits on LLM calls.
  virtual bool calls_llm() const noexcept { return false; }

  /// Scores `explanation` against the samples of `record` (its test and non-activating examples).
  ///
  /// - Handler signature: `void(error_code, score_result)`. A batch whose answers never parse is
  ///   not an error of the operation: its samples have null predictions and `batch_error` says
  ///   why. On an error the result still says what was spent.
  /// - Completion executor: the handler's associated executor; without one, `get_executor()`.
  /// - Lifetimes: this scorer, `record` and `explanation` must outlive the operation; `diag` too.
  /// - Cancellation: `terminal` cancels the batches in flight (`errc::cancelled`).
  /// - Errors: `errc::too_few_examples` (no test example), `errc::bad_option`, `errc::cancelled`,
  ///   and the error of a batch's call that failed after the client's retries (fatal ones such as
  ///   a rejected key first); the text goes to `diag` when given.
  /// - Thread-safety: the SDK's scorers may run any number of operations at once from one executor.
  template <class CompletionToken = boost::asio::deferred_t>
    requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
  auto async_score(records::latent_record const& record, std::string_view explanation, CompletionToken&& token = {}) const {
    return autointerp::detail::async_coro(get_executor(), nullptr,
                                          [self = this, r = &record, e = explanation] { return self->score(*r, e); },
                                          "scorer::async_score", std::forward<CompletionToken>(token));
  }
  /// `async_score` keeping the error's text in `diag`.
  template <class CompletionToken = boost::asio::deferred_t>
  auto async_score(records::latent_record const& record, std::string_view explanation, diagnostics& diag,
                   CompletionToken&& token = {}) const {
    return autointerp::detail::async_coro(get_executor(), &diag,
                                          [self = this, r = &record, e = explanation] { return self->score(*r, e); },
                                          "scorer::async_score", std::forward<CompletionToken>(token));
  }

 protected:
  /// The work of `async_score`, on `get_executor()`; `record` and `explanation` outlive it.
  virtual boost::asio::awaitable<autointerp::detail::partial_result<score_result>> score(
      records::latent_record const& record, std::string_view explanation) const = 0;
};

}  // namespace autointerp::score
