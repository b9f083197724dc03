#pragma once
// An explainer: an object with one asynchronous operation, a latent's record in, its explanation
// out. Three come with the SDK (statistical baseline, LLM, dry run); write your own by deriving.

#include <autointerp/detail/async_op.hpp>
#include <autointerp/error.hpp>
#include <autointerp/explain/explanation.hpp>
#include <autointerp/records/latent_record.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace autointerp::explain {

/// `errc::too_few_examples` when `record` has no train example to explain from (the quantiles
/// sampler draws nothing from fewer windows than quantiles), else nothing.
inline std::optional<error> empty_train_error(records::latent_record const& record) {
  if (!record.train.empty()) return std::nullopt;
  return make_error(errc::too_few_examples,
                    "latent " + std::to_string(record.latent.index) + " of module '" + record.latent.module + "': " +
                        std::to_string(record.n_examples) +
                        " activating windows gave an empty train sample; use record_options::train_type top or "
                        "lower record_options::n_quantiles");
}

/// The interface of every explainer. Derive and implement `explain` (a coroutine) and
/// `get_executor`; callers use `async_explain`.
class explainer {
 public:
  using executor_type = boost::asio::any_io_executor;

  explainer() = default;
  explainer(explainer const&) = delete;
  explainer& operator=(explainer const&) = delete;
  virtual ~explainer() = default;

  /// Where the explanation is made (for an LLM explainer, its client's executor).
  virtual executor_type get_executor() const noexcept = 0;

  /// True when explaining waits on an LLM call: a job then prepares latents ahead of the calls.
  virtual bool calls_llm() const noexcept { return false; }

  /// Explains `record`.
  ///
  /// - Handler signature: `void(error_code, explanation)`. On failure the explanation still says
  ///   what was spent (`attempts`, `usage`).
  /// - Completion executor: the handler's associated executor; without one, `get_executor()`.
  /// - Lifetimes: this explainer and `record` must outlive the operation; `diag` too.
  /// - Cancellation: `terminal` (and for LLM explainers `partial`) aborts the work; the operation
  ///   then completes with `errc::cancelled`.
  /// - Errors: those of the explainer (for LLM explainers, the client's; `errc::too_few_examples`
  ///   for a record without train examples); the text goes to `diag` when given.
  /// - Thread-safety: the SDK's explainers may run any number of operations at once from one
  ///   executor (an LLM explainer: the client's).
  template <class CompletionToken = boost::asio::deferred_t>
    requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
  auto async_explain(records::latent_record const& record, CompletionToken&& token = {}) const {
    return autointerp::detail::async_coro(get_executor(), nullptr, [self = this, r = &record] { return self->explain(*r); }, "explainer::async_explain",
                              std::forward<CompletionToken>(token));
  }
  /// `async_explain` keeping the error's text in `diag`.
  template <class CompletionToken = boost::asio::deferred_t>
  auto async_explain(records::latent_record const& record, diagnostics& diag, CompletionToken&& token = {}) const {
    return autointerp::detail::async_coro(get_executor(), &diag, [self = this, r = &record] { return self->explain(*r); }, "explainer::async_explain",
                              std::forward<CompletionToken>(token));
  }

 protected:
  /// The work of `async_explain`, run on `get_executor()`. `record` outlives the coroutine. It runs
  /// with terminal and partial cancellation let through and `throw_if_cancelled(false)`: an
  /// operation it awaits after a cancellation completes with its error instead of throwing, so
  /// look at each result and return `errc::cancelled` (with what was spent) when it says so.
  virtual boost::asio::awaitable<autointerp::detail::partial_result<explanation>> explain(records::latent_record const& record) const = 0;
};

}  // namespace autointerp::explain
