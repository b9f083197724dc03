#pragma once
// What the terminal view and the HTML report show about one latent, gathered from its record, its
// activations and (optionally) a run's output: explanation, status and scores.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/records/latent_record.hpp>
#include <autointerp/score/embedding_metrics.hpp>
#include <autointerp/score/intruder_metrics.hpp>
#include <autointerp/score/metrics.hpp>
#include <autointerp/score/score_file.hpp>
#include <autointerp/score/score_sample.hpp>
#include <autointerp/score/simulation_metrics.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::report {

/// One example window: per-token text (raw, possibly invalid UTF-8: views escape it) and activation.
struct window {
  std::vector<std::string> tokens;
  std::vector<float> activations;  ///< same length as tokens; 0 where the latent is silent
};

/// One example's true and simulated levels, for drawing one against the other.
struct level_trace {
  std::vector<std::string> tokens;
  std::vector<double> truth, simulated;
};

/// One scorer's figures for a latent, from its score file (`scores/<scorer>/<module>_latent<i>.txt`).
struct scorer_figures {
  std::string scorer;              ///< the scorer's folder name: "detection", "fuzz", ...
  score::latent_metrics metrics;   ///< classifiers: confusion counts (with `failed`), balanced accuracy, F1, ...
  std::optional<double> accuracy;  ///< classifiers: (TP + TN) / examples; intruder: share of prompts named right
  /// The figure the views sort by and bin: balanced accuracy (classifiers), the correlation of all
  /// examples joined (simulation), accuracy (intruder) or AUC (embedding); null when undefined.
  std::optional<double> headline;
  std::string headline_name = "balanced accuracy";  ///< what `headline` is
  std::uint64_t failed = 0;        ///< samples (intruder: prompts) without an answer
  std::optional<double> rsquared;  ///< simulation: OpenAI's R^2 of the latent
  level_trace trace;               ///< simulation: the strongest activating example that was simulated
  std::string error;               ///< not empty: the score file could not be read (why); the figures are then empty

  /// True for detection, fuzz and other classifiers (whose `metrics` are filled).
  bool classifier() const { return score::score_file_format_of(scorer) == score::score_file_format::classifier; }
};

/// The figures of one latent's classifier samples under `scorer`. Pure.
inline scorer_figures make_scorer_figures(std::string scorer, std::span<score::score_sample const> samples) {
  scorer_figures s;
  s.scorer = std::move(scorer);
  s.metrics = score::compute_latent_metrics(samples);
  s.accuracy = score::accuracy(s.metrics.counts);
  s.headline = s.metrics.balanced_accuracy;
  s.failed = s.metrics.counts.failed;
  return s;
}

/// The figures of one latent's score file under `scorer`, in that scorer's format. Pure.
inline scorer_figures make_scorer_figures(std::string scorer, score::scored_file const& scores) {
  switch (score::score_file_format_of(scorer)) {
    case score::score_file_format::classifier: break;
    case score::score_file_format::simulation: {
      scorer_figures s;
      s.scorer = std::move(scorer);
      auto const f = score::latent_simulation_figures(scores.samples);
      s.headline = f.ev_correlation;
      s.headline_name = "correlation";
      s.rsquared = f.rsquared;
      score::score_sample const* best = nullptr;
      double best_level = -1;
      for (auto const& x : scores.samples) {
        if (!x.simulated) {
          ++s.failed;
          continue;
        }
        double top = 0;
        for (auto l : x.true_levels) top = std::max(top, static_cast<double>(l));
        if (x.activating && top > best_level && x.simulated->size() == x.true_levels.size()) best = &x, best_level = top;
      }
      if (best) {
        s.trace.tokens = best->str_tokens;
        s.trace.truth.assign(best->true_levels.begin(), best->true_levels.end());
        s.trace.simulated = *best->simulated;
      }
      return s;
    }
    case score::score_file_format::intruder: {
      scorer_figures s;
      s.scorer = std::move(scorer);
      auto const c = score::count_intruder(scores.trials);
      s.accuracy = s.headline = c.accuracy();
      s.headline_name = "accuracy";
      s.failed = c.failed;
      return s;
    }
    case score::score_file_format::embedding: {
      scorer_figures s;
      s.scorer = std::move(scorer);
      s.headline = score::similarity_auc(scores.samples);
      s.headline_name = "AUC";
      for (auto const& x : scores.samples) s.failed += x.similarity ? 0 : 1;
      return s;
    }
  }
  return make_scorer_figures(std::move(scorer), std::span<score::score_sample const>(scores.samples));
}

/// Everything shown about a latent.
struct latent_view {
  cache::latent_id latent;
  std::uint64_t n_activations = 0;      ///< nonzero activations in the cache
  std::uint32_t n_windows = 0;          ///< activating windows (delphi's n_examples)
  double frequency = 0;                 ///< activations per token of the cache
  float max_activation = 0;             ///< over the whole cache, not just the windows shown
  std::string explanation;              ///< empty when none is known
  std::string status;                   ///< run.jsonl status ("explained", ...); empty when unknown
  std::vector<window> windows;          ///< the windows to show, strongest first
  std::vector<std::uint32_t> histogram; ///< counts of activations in equal bins over (0, max]
  std::vector<scorer_figures> scores;   ///< one per scorer with a score file for this latent, by name; empty when none
};

/// The bin of `value` among `bins` equal bins over [0, 1]: bin i holds [i / bins, (i + 1) / bins),
/// the last one also 1. Where `value * bins` falls short of a whole number by less than 1e-9, it
/// counts as that number (a balanced accuracy of 0.65 computed as 0.6499999999999999 goes where
/// 0.65 belongs); out-of-range values and NaN are clamped in (NaN to bin 0). Pure; `bins` must be
/// at least 1.
inline std::size_t unit_interval_bin(double value, std::size_t bins) noexcept {
  double const x = std::isnan(value) ? 0.0 : std::floor(value * static_cast<double>(bins) + 1e-9);
  return static_cast<std::size_t>(std::clamp(x, 0.0, static_cast<double>(bins - 1)));
}

/// Counts `values` in `bins` equal-width bins over [0, max] (a value equal to max goes in the last
/// bin; negative, NaN and out-of-range values are clamped in). Empty when bins == 0; all zeros when
/// max <= 0. Pure function.
inline std::vector<std::uint32_t> activation_histogram(std::span<float const> values, float max, std::size_t bins = 20) {
  std::vector<std::uint32_t> counts(bins, 0);
  if (bins == 0 || !(max > 0)) return counts;
  for (float v : values) {
    double x = std::isnan(v) ? 0.0 : static_cast<double>(v) / max * static_cast<double>(bins);
    auto i = static_cast<std::size_t>(std::clamp(x, 0.0, static_cast<double>(bins - 1)));
    ++counts[i];
  }
  return counts;
}

/// The view of a latent from its record (the windows are `record.train` in order, e.g. sampled
/// with train type "top" for the strongest first) and all its activations (for the maximum, the
/// count and the histogram). Token text is the record's `str_tokens`; where a record has none (no
/// tokenizer), tokens show as their ids in brackets, e.g. "[50256]". Pure function.
inline latent_view make_latent_view(records::latent_record const& record, cache::latent_activations const& acts,
                                    std::size_t histogram_bins = 20) {
  latent_view v;
  v.latent = record.latent;
  v.n_activations = acts.size();
  v.n_windows = record.n_examples;
  v.frequency = record.per_token_frequency;
  for (float a : acts.values) v.max_activation = std::max(v.max_activation, a);
  v.histogram = activation_histogram(acts.values, v.max_activation, histogram_bins);
  v.windows.reserve(record.train.size());
  for (auto const& ex : record.train) {
    window w;
    std::size_t n = std::min(ex.tokens.size(), ex.activations.size());
    w.tokens.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      w.tokens.push_back(i < ex.str_tokens.size() ? ex.str_tokens[i] : "[" + std::to_string(ex.tokens[i]) + "]");
    w.activations.assign(ex.activations.begin(), ex.activations.begin() + static_cast<std::ptrdiff_t>(n));
    v.windows.push_back(std::move(w));
  }
  return v;
}

}  // namespace autointerp::report
