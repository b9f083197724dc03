#pragma once
// The statistical baseline as an explainer: no LLM, the record's token statistics in one line.

#include <autointerp/explain/explainer.hpp>
#include <autointerp/explain/statistical.hpp>

#include <utility>

namespace autointerp::explain {

/// Explains from the record alone (`statistical_explanation`): dominant active tokens and their
/// share, frequent neighbours, token classes and positions. Costs nothing; useful offline and as a
/// floor for LLM explanations. Errors: `errc::too_few_examples` for a record without train examples.
class statistical_explainer final : public explainer {
 public:
  /// `threshold`: a token is active above this fraction of its example's maximum (delphi's 0.3).
  explicit statistical_explainer(executor_type ex, float threshold = 0.3f) : ex_(std::move(ex)), threshold_(threshold) {}

  executor_type get_executor() const noexcept override { return ex_; }

 protected:
  boost::asio::awaitable<autointerp::detail::partial_result<explanation>> explain(records::latent_record const& record) const override {
    explanation out;
    if (auto e = empty_train_error(record)) co_return autointerp::detail::partial_result<explanation>{std::move(out), std::move(e)};
    out.text = statistical_explanation(record, threshold_);
    co_return autointerp::detail::partial_result<explanation>{std::move(out), std::nullopt};
  }

 private:
  executor_type ex_;
  float threshold_;
};

}  // namespace autointerp::explain
