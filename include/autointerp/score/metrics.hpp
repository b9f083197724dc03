#pragma once
// Classification metrics over scored samples, with delphi's definitions (log/result_analysis.py)
// and null, never NaN, where a figure is undefined.

#include <autointerp/score/score_sample.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace autointerp::score {

/// Confusion counts over samples with a prediction, and how many had none.
struct confusion {
  std::uint64_t true_positives = 0;
  std::uint64_t true_negatives = 0;
  std::uint64_t false_positives = 0;
  std::uint64_t false_negatives = 0;
  std::uint64_t failed = 0;  ///< samples whose prediction is null (left out of everything else)

  std::uint64_t positives() const noexcept { return true_positives + false_negatives; }
  std::uint64_t negatives() const noexcept { return true_negatives + false_positives; }
  /// Samples with a prediction.
  std::uint64_t examples() const noexcept { return positives() + negatives(); }

  confusion& operator+=(confusion const& o) noexcept {
    true_positives += o.true_positives;
    true_negatives += o.true_negatives;
    false_positives += o.false_positives;
    false_negatives += o.false_negatives;
    failed += o.failed;
    return *this;
  }
  friend bool operator==(confusion const&, confusion const&) = default;
};

/// The confusion counts of `samples`; a sample without prediction counts as `failed`. Pure.
inline confusion count_confusion(std::span<score_sample const> samples) noexcept {
  confusion c;
  for (auto const& s : samples) {
    if (!s.prediction) ++c.failed;
    else if (s.activating) ++(*s.prediction ? c.true_positives : c.false_negatives);
    else ++(*s.prediction ? c.false_positives : c.true_negatives);
  }
  return c;
}

/// (TP/P + TN/N) / 2, delphi's "accuracy". Null without positives or without negatives (delphi
/// counts a missing class as 0 there).
inline std::optional<double> balanced_accuracy(confusion const& c) noexcept {
  if (c.positives() == 0 || c.negatives() == 0) return std::nullopt;
  return (static_cast<double>(c.true_positives) / static_cast<double>(c.positives()) +
          static_cast<double>(c.true_negatives) / static_cast<double>(c.negatives())) /
         2;
}

/// TP / (TP + FP); null when nothing was predicted activating.
inline std::optional<double> precision(confusion const& c) noexcept {
  auto const d = c.true_positives + c.false_positives;
  if (d == 0) return std::nullopt;
  return static_cast<double>(c.true_positives) / static_cast<double>(d);
}

/// TP / P; null without positives.
inline std::optional<double> recall(confusion const& c) noexcept {
  if (c.positives() == 0) return std::nullopt;
  return static_cast<double>(c.true_positives) / static_cast<double>(c.positives());
}

/// 2 TP / (2 TP + FP + FN): the harmonic mean of precision and recall, and 0 where delphi falls
/// back to 0 (no true positive but some error). Null only when there is neither a positive nor a
/// predicted positive.
inline std::optional<double> f1_score(confusion const& c) noexcept {
  auto const d = 2 * c.true_positives + c.false_positives + c.false_negatives;
  if (d == 0) return std::nullopt;
  return 2.0 * static_cast<double>(c.true_positives) / static_cast<double>(d);
}

/// (TP + TN) / examples: the share of samples with a prediction that were predicted right. Null
/// when no sample has a prediction.
inline std::optional<double> accuracy(confusion const& c) noexcept {
  if (c.examples() == 0) return std::nullopt;
  return static_cast<double>(c.true_positives + c.true_negatives) / static_cast<double>(c.examples());
}

/// A score and its true class, for `roc_auc`.
struct scored_label {
  double score = 0;
  bool positive = false;
};

/// The area under the ROC curve, as sklearn's `roc_auc_score` computes it (trapezoids, so tied
/// scores of a positive and a negative count one half): the Mann-Whitney statistic with average
/// ranks for ties. Entries whose score is NaN are left out. Null when fewer than one positive and
/// one negative remain (sklearn raises). O(n log n). Pure.
inline std::optional<double> roc_auc(std::span<scored_label const> scored) {
  std::vector<scored_label> v;
  v.reserve(scored.size());
  for (auto const& s : scored)
    if (!std::isnan(s.score)) v.push_back(s);
  std::sort(v.begin(), v.end(), [](scored_label const& a, scored_label const& b) { return a.score < b.score; });
  double positive_rank_sum = 0, positives = 0;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    double group_positives = 0;
    while (j < v.size() && v[j].score == v[i].score) group_positives += v[j++].positive ? 1 : 0;
    double const average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;  // ranks from 1
    positive_rank_sum += group_positives * average_rank;
    positives += group_positives;
    i = j;
  }
  double const negatives = static_cast<double>(v.size()) - positives;
  if (positives == 0 || negatives == 0) return std::nullopt;
  return (positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

/// `roc_auc` over the samples that have a probability (activating = positive).
inline std::optional<double> roc_auc(std::span<score_sample const> samples) {
  std::vector<scored_label> v;
  for (auto const& s : samples)
    if (s.probability) v.push_back({*s.probability, s.activating});
  return roc_auc(std::span<scored_label const>(v));
}

/// numpy's `percentile(values, q)` with its default linear method, for `sorted` in ascending order
/// and q in [0, 100] (clamped): virtual index (n - 1) q / 100 computed as numpy does, then numpy's
/// interpolation between its neighbours. Null for an empty input. Pure.
inline std::optional<double> percentile(std::span<double const> sorted, double q) noexcept {
  if (sorted.empty() || std::isnan(q)) return std::nullopt;
  double const p = std::clamp(q, 0.0, 100.0) / 100;
  double const n = static_cast<double>(sorted.size());
  // numpy: n * q + (alpha + q * (1 - alpha - beta)) - 1 with alpha = beta = 1
  double const virtual_index = std::clamp(n * p + (1 + p * (1 - 1 - 1)) - 1, 0.0, n - 1);
  double const below = std::floor(virtual_index);
  auto const lo = static_cast<std::size_t>(below);
  auto const hi = std::min(lo + 1, sorted.size() - 1);
  double const t = virtual_index - below;
  double const a = sorted[lo], b = sorted[hi], d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;  // numpy's _lerp
}

/// One latent's figures over its own samples.
struct latent_metrics {
  confusion counts;
  std::optional<double> balanced_accuracy;  ///< null without positives or without negatives
  std::optional<double> precision;
  std::optional<double> recall;
  std::optional<double> f1;
  std::optional<double> auc;                ///< null without probabilities or with one class
};

/// The figures of one latent's samples (one score file). Pure.
inline latent_metrics compute_latent_metrics(std::span<score_sample const> samples) {
  latent_metrics m;
  m.counts = count_confusion(samples);
  m.balanced_accuracy = balanced_accuracy(m.counts);
  m.precision = precision(m.counts);
  m.recall = recall(m.counts);
  m.f1 = f1_score(m.counts);
  m.auc = roc_auc(samples);
  return m;
}

}  // namespace autointerp::score
