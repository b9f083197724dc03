#pragma once
// The intruder scorer's figures: the share of prompts whose intruder the model named, per latent,
// per quantile and pooled.

#include <autointerp/score/score_sample.hpp>
#include <autointerp/score/summary.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <vector>

namespace autointerp::score {

/// Correct and answered prompts.
struct intruder_counts {
  std::size_t correct = 0;
  std::size_t answered = 0;  ///< prompts with a prediction
  std::size_t failed = 0;    ///< prompts without one

  /// correct / answered; null when nothing was answered.
  std::optional<double> accuracy() const noexcept {
    if (answered == 0) return std::nullopt;
    return static_cast<double>(correct) / static_cast<double>(answered);
  }
  void add(intruder_trial const& t) noexcept {
    if (!t.prediction) {
      ++failed;
      return;
    }
    ++answered;
    correct += *t.prediction == t.intruder ? 1 : 0;
  }
};

/// The counts of one latent's prompts. Pure.
inline intruder_counts count_intruder(std::span<intruder_trial const> trials) noexcept {
  intruder_counts c;
  for (auto const& t : trials) c.add(t);
  return c;
}

/// Accuracy on the prompts of one quantile.
struct intruder_quantile {
  std::uint32_t quantile = 0;
  intruder_counts counts;
};

/// The intruder scorer's summary.
struct intruder_summary {
  std::size_t latents = 0;
  intruder_counts pooled;                     ///< every prompt of every latent
  latent_distribution per_latent;             ///< of each latent's accuracy; latents without answers excluded
  std::vector<intruder_quantile> per_quantile;  ///< ascending quantile
};

/// Summarises intruder score files. Pure.
inline intruder_summary summarize_intruder(std::span<latent_scores const> latents, summary_options const& options = {}) {
  intruder_summary s;
  s.latents = latents.size();
  std::map<std::uint32_t, intruder_counts> quantiles;
  std::vector<double> accuracies;
  std::size_t excluded = 0;
  for (auto const& l : latents) {
    for (auto const& t : l.trials) {
      s.pooled.add(t);
      quantiles[t.quantile].add(t);
    }
    if (auto a = count_intruder(l.trials).accuracy()) accuracies.push_back(*a);
    else ++excluded;
  }
  s.per_latent = distribution_of(std::move(accuracies), excluded, options);
  for (auto const& [q, c] : quantiles) s.per_quantile.push_back({q, c});
  return s;
}

/// `summary --json`'s "intruder" entry: {"latents", "prompts", "failed", "accuracy", "per_latent":
/// {...}, "per_quantile": [{"quantile", "prompts", "accuracy"}]}, null where undefined.
inline boost::json::object to_json(intruder_summary const& s) {
  using detail::optional_number;
  boost::json::object o;
  o["latents"] = s.latents;
  o["prompts"] = s.pooled.answered;
  o["failed"] = s.pooled.failed;
  o["accuracy"] = optional_number(s.pooled.accuracy());
  o["per_latent"] = to_json(s.per_latent);
  boost::json::array q;
  for (auto const& x : s.per_quantile)
    q.push_back(boost::json::object{
        {"quantile", x.quantile}, {"prompts", x.counts.answered}, {"accuracy", optional_number(x.counts.accuracy())}});
  o["per_quantile"] = std::move(q);
  return o;
}

}  // namespace autointerp::score
