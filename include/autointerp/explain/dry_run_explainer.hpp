#pragma once
// The dry-run explainer: builds the exact request an LLM explainer would send, calls nothing.

#include <autointerp/explain/explainer.hpp>
#include <autointerp/explain/llm_explainer.hpp>
#include <autointerp/llm/wire.hpp>

#include <utility>

namespace autointerp::explain {

/// Completes with `answer_kind::dry_run`: `request` holds the JSON body `llm_explainer` would send
/// with the same options, `usage.prompt_tokens` its token estimate (about four bytes a token).
/// Errors: those of `explanation_request`.
class dry_run_explainer final : public explainer {
 public:
  dry_run_explainer(executor_type ex, llm_explainer_options options) : ex_(std::move(ex)), options_(std::move(options)) {}

  executor_type get_executor() const noexcept override { return ex_; }

 protected:
  boost::asio::awaitable<autointerp::detail::partial_result<explanation>> explain(records::latent_record const& record) const override {
    using partial = autointerp::detail::partial_result<explanation>;
    explanation out;
    out.kind = answer_kind::dry_run;
    auto request = explanation_request(record, options_);
    if (!request) co_return partial{std::move(out), request.error()};
    out.usage.prompt_tokens = llm::estimate_prompt_tokens(*request);
    out.request = llm::serialize_request(*request);
    co_return partial{std::move(out), std::nullopt};
  }

 private:
  executor_type ex_;
  llm_explainer_options options_;
};

}  // namespace autointerp::explain
