#pragma once
// What `autointerp summary` reports per scorer: delphi's pooled figures plus per-quantile accuracy,
// the distribution of per-latent balanced accuracy and frequency-weighted F1; and its JSON.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/records/python_random.hpp>
#include <autointerp/records/record_json.hpp>
#include <autointerp/score/metrics.hpp>
#include <autointerp/score/score_sample.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::score {

/// One latent's scored samples under one scorer (one parsed score file).
struct latent_scores {
  cache::latent_id latent;
  std::vector<score_sample> samples;   ///< every scorer but intruder
  std::vector<intruder_trial> trials;  ///< intruder
};

/// Accuracy on the activating samples of one quantile.
struct quantile_accuracy {
  double quantile = 0;          ///< the samples' `distance`
  std::uint64_t examples = 0;   ///< activating samples of this quantile with a prediction
  double accuracy = 0;          ///< share of them predicted activating
};

/// The distribution of a per-latent figure (balanced accuracy, correlation, AUC).
struct latent_distribution {
  std::size_t latents = 0;       ///< latents in the distribution
  std::size_t excluded = 0;      ///< latents left out: their figure is undefined (null)
  std::optional<double> median, q1, q3, mean;  ///< numpy's linear percentiles 50, 25, 75; null when empty
  std::optional<double> ci95_low, ci95_high;   ///< percentile bootstrap interval of the mean
};

/// Every figure of one scorer.
struct scorer_summary {
  std::size_t latents = 0;  ///< latents (score files) summarised
  confusion counts;         ///< pooled over every sample of every latent; `failed` = null predictions
  std::optional<double> balanced_accuracy, f1, precision, recall;
  std::optional<double> auc;  ///< null when no sample has a probability, or one class only
  std::vector<quantile_accuracy> per_quantile;  ///< ascending quantile
  latent_distribution per_latent;
  std::optional<double> weighted_f1;  ///< null without firing counts
};

/// How a summary is computed.
struct summary_options {
  /// Bootstrap resamples of the latents for `ci95` (0 = no interval).
  std::size_t bootstrap_resamples = 1000;
  /// Seed of the bootstrap's CPython generator (`records::python_random`).
  std::uint64_t bootstrap_seed = 22;
};

/// A latent's firing count (activations in the cache), or nullopt when unknown.
using firing_counts = std::function<std::optional<std::uint64_t>(cache::latent_id const&)>;

/// The percentile bootstrap interval [2.5%, 97.5%] of the mean of `values`: `resamples` means of
/// `values.size()` draws with replacement, the same draws as Python's
/// `rng = random.Random(seed); [sum(v[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples)]`,
/// then numpy's linear percentiles. Null when `values` is empty or `resamples` is 0. Pure.
inline std::optional<std::pair<double, double>> bootstrap_mean_interval(std::span<double const> values,
                                                                         std::size_t resamples, std::uint64_t seed) {
  if (values.empty() || resamples == 0) return std::nullopt;
  records::python_random rng(seed);
  std::vector<double> means;
  means.reserve(resamples);
  for (std::size_t r = 0; r < resamples; ++r) {
    double sum = 0;
    for (std::size_t k = 0; k < values.size(); ++k) sum += values[static_cast<std::size_t>(rng.randbelow(values.size()))];
    means.push_back(sum / static_cast<double>(values.size()));
  }
  std::sort(means.begin(), means.end());
  return std::pair{*percentile(means, 2.5), *percentile(means, 97.5)};
}

/// The distribution of `values` (one per latent, in the caller's order, which the bootstrap
/// follows): mean, numpy's linear percentiles 50, 25 and 75, and the bootstrap interval of the mean
/// (`bootstrap_mean_interval`). `excluded` counts the latents whose figure was undefined. Pure.
inline latent_distribution distribution_of(std::vector<double> values, std::size_t excluded,
                                           summary_options const& options = {}) {
  latent_distribution d;
  d.latents = values.size();
  d.excluded = excluded;
  if (values.empty()) return d;
  double sum = 0;
  for (double a : values) sum += a;
  d.mean = sum / static_cast<double>(values.size());
  if (auto ci = bootstrap_mean_interval(values, options.bootstrap_resamples, options.bootstrap_seed)) {
    d.ci95_low = ci->first;
    d.ci95_high = ci->second;
  }
  std::sort(values.begin(), values.end());
  d.median = percentile(values, 50);
  d.q1 = percentile(values, 25);
  d.q3 = percentile(values, 75);
  return d;
}

/// The summary of one scorer over `latents` (in the caller's order, which the bootstrap follows):
/// - pooled: every sample of every latent, null predictions left out and counted as `failed`;
///   balanced accuracy, precision, recall, F1 (`metrics.hpp`); AUC over the samples with a
///   probability;
/// - `per_quantile`: activating samples with a prediction, grouped by `distance`;
/// - `per_latent`: each latent's balanced accuracy (`compute_latent_metrics`); latents without a
///   positive or a negative among their predicted samples are left out and counted;
/// - `weighted_f1` (delphi's frequency-weighted F1): per module, sum of F1 x firing count over sum
///   of firing counts, then the mean over modules. Latents whose count is unknown or whose F1 is
///   null are left out (delphi counts a latent without predictions as F1 0); modules whose counts
///   sum to 0 are skipped, as delphi does. Null when `counts` is empty or nothing remains.
/// Pure and thread-safe (when `counts` is).
inline scorer_summary summarize(std::span<latent_scores const> latents, firing_counts const& counts = {},
                                summary_options const& options = {}) {
  scorer_summary s;
  s.latents = latents.size();
  std::vector<scored_label> scored;
  std::map<double, std::pair<std::uint64_t, std::uint64_t>> quantiles;  // distance -> (examples, predicted 1)
  std::vector<double> accuracies;
  std::map<std::string, std::pair<double, double>> modules;  // module -> (sum f1 x count, sum count)
  for (auto const& l : latents) {
    s.counts += count_confusion(l.samples);
    for (auto const& x : l.samples) {
      if (x.probability) scored.push_back({*x.probability, x.activating});
      if (x.activating && x.prediction && !std::isnan(x.distance)) {
        auto& q = quantiles[x.distance];
        ++q.first;
        q.second += *x.prediction ? 1 : 0;
      }
    }
    auto const m = compute_latent_metrics(l.samples);
    if (m.balanced_accuracy) accuracies.push_back(*m.balanced_accuracy);
    else ++s.per_latent.excluded;
    if (counts && m.f1) {
      if (auto fire = counts(l.latent)) {
        auto& mod = modules[l.latent.module];
        mod.first += *m.f1 * static_cast<double>(*fire);
        mod.second += static_cast<double>(*fire);
      }
    }
  }
  s.balanced_accuracy = balanced_accuracy(s.counts);
  s.precision = precision(s.counts);
  s.recall = recall(s.counts);
  s.f1 = f1_score(s.counts);
  s.auc = roc_auc(std::span<scored_label const>(scored));
  for (auto const& [distance, q] : quantiles)
    s.per_quantile.push_back({distance, q.first, static_cast<double>(q.second) / static_cast<double>(q.first)});

  s.per_latent = distribution_of(std::move(accuracies), s.per_latent.excluded, options);

  double module_sum = 0;
  std::size_t module_count = 0;
  for (auto const& [name, m] : modules) {
    if (!(m.second > 0)) continue;
    module_sum += m.first / m.second;
    ++module_count;
  }
  if (module_count) s.weighted_f1 = module_sum / static_cast<double>(module_count);
  return s;
}

namespace detail {
inline boost::json::value optional_number(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return nullptr;
  return *v;
}
inline boost::json::value json_number(double v) {
  if (!std::isfinite(v)) return nullptr;
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) return static_cast<std::int64_t>(v);
  return v;
}
}  // namespace detail

/// {"median", "q1", "q3", "mean", "ci95": [lo, hi] or null, "latents", "excluded"}.
inline boost::json::object to_json(latent_distribution const& d) {
  using detail::optional_number;
  boost::json::object pl;
  pl["median"] = optional_number(d.median);
  pl["q1"] = optional_number(d.q1);
  pl["q3"] = optional_number(d.q3);
  pl["mean"] = optional_number(d.mean);
  if (d.ci95_low && d.ci95_high) pl["ci95"] = boost::json::array{optional_number(d.ci95_low), optional_number(d.ci95_high)};
  else pl["ci95"] = nullptr;
  pl["latents"] = d.latents;
  pl["excluded"] = d.excluded;
  return pl;
}

/// One scorer's entry of `summary --json`: {"latents", "examples", "failed", "balanced_accuracy",
/// "f1", "precision", "recall", "auc", "true_positives", "true_negatives", "false_positives",
/// "false_negatives", "per_quantile": [{"quantile", "examples", "accuracy"}], "per_latent":
/// {"median", "q1", "q3", "mean", "ci95": [lo, hi], "latents", "excluded"}, "weighted_f1"}, with
/// null wherever a figure is undefined (never NaN). `ci95` is null without an interval.
inline boost::json::object to_json(scorer_summary const& s) {
  using detail::optional_number;
  boost::json::object o;
  o["latents"] = s.latents;
  o["examples"] = s.counts.examples();
  o["failed"] = s.counts.failed;
  o["balanced_accuracy"] = optional_number(s.balanced_accuracy);
  o["f1"] = optional_number(s.f1);
  o["precision"] = optional_number(s.precision);
  o["recall"] = optional_number(s.recall);
  o["auc"] = optional_number(s.auc);
  o["true_positives"] = s.counts.true_positives;
  o["true_negatives"] = s.counts.true_negatives;
  o["false_positives"] = s.counts.false_positives;
  o["false_negatives"] = s.counts.false_negatives;
  boost::json::array q;
  for (auto const& x : s.per_quantile)
    q.push_back(boost::json::object{
        {"quantile", detail::json_number(x.quantile)}, {"examples", x.examples}, {"accuracy", optional_number(x.accuracy)}});
  o["per_quantile"] = std::move(q);
  o["per_latent"] = to_json(s.per_latent);
  o["weighted_f1"] = optional_number(s.weighted_f1);
  return o;
}

/// The whole `summary --json` object: {"scorers": {"<name>": entry, ...}}, in the order given
/// (e.g. {{"detection", to_json(d)}, {"simulation", to_json(s)}}).
inline boost::json::object summary_json(std::span<std::pair<std::string, boost::json::object> const> scorers) {
  boost::json::object by_name;
  for (auto const& [name, s] : scorers) by_name[name] = s;
  return boost::json::object{{"scorers", std::move(by_name)}};
}

namespace detail {
inline void append_json_text(std::string& out, boost::json::value const& v) {
  switch (v.kind()) {
    case boost::json::kind::null: out += "null"; break;
    case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case boost::json::kind::int64: out += std::to_string(v.get_int64()); break;
    case boost::json::kind::uint64: out += std::to_string(v.get_uint64()); break;
    case boost::json::kind::double_: records::detail::append_python_float(out, v.get_double()); break;
    case boost::json::kind::string: records::detail::append_json_string(out, v.get_string()); break;
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (auto const& x : v.get_array()) {
        if (!first) out += ", ";
        first = false;
        append_json_text(out, x);
      }
      out += ']';
      break;
    }
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (auto const& [k, x] : v.get_object()) {
        if (!first) out += ", ";
        first = false;
        records::detail::append_json_string(out, k);
        out += ": ";
        append_json_text(out, x);
      }
      out += '}';
      break;
    }
  }
}
}  // namespace detail

/// `v` as one line of JSON text with numbers as Python writes them (0.95, not Boost's 9.5E-1),
/// non-finite numbers as null and strings escaped to ASCII. For printing summaries. Pure.
inline std::string to_json_text(boost::json::value const& v) {
  std::string out;
  detail::append_json_text(out, v);
  return out;
}

}  // namespace autointerp::score
