#pragma once
// How well simulated levels follow the true ones: OpenAI's figures (Pearson correlation, R^2,
// absolute deviation explained) per example, per latent, per quantile and pooled, null wherever a
// figure is undefined (a constant series has no correlation: null, never NaN and never 0).

#include <autointerp/score/score_sample.hpp>
#include <autointerp/score/summary.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace autointerp::score {

/// Pearson's correlation of `x` and `y` (same length). Null when fewer than two pairs, when the
/// lengths differ, or when either series is constant (its variance is zero). Two-pass, so large
/// offsets do not cancel. Pure.
inline std::optional<double> pearson(std::span<double const> x, std::span<double const> y) noexcept {
  auto const n = x.size();
  if (n < 2 || y.size() != n) return std::nullopt;
  bool x_constant = true, y_constant = true;
  for (std::size_t i = 1; i < n; ++i) {
    x_constant = x_constant && x[i] == x[0];
    y_constant = y_constant && y[i] == y[0];
  }
  if (x_constant || y_constant) return std::nullopt;
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < n; ++i) mx += x[i], my += y[i];
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double const dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (!(sxx > 0) || !(syy > 0)) return std::nullopt;
  double const r = sxy / std::sqrt(sxx * syy);
  if (!std::isfinite(r)) return std::nullopt;
  return std::clamp(r, -1.0, 1.0);
}

/// True and simulated levels of some samples, joined in order.
struct level_series {
  std::vector<double> truth, simulated;

  /// Appends `s` when it has a simulation of the right length.
  void add(score_sample const& s) {
    if (!s.simulated || s.simulated->size() != s.true_levels.size()) return;
    for (std::size_t i = 0; i < s.true_levels.size(); ++i) {
      truth.push_back(s.true_levels[i]);
      simulated.push_back((*s.simulated)[i]);
    }
  }
};

/// OpenAI's three figures of a series.
struct simulation_figures {
  std::optional<double> ev_correlation;          ///< Pearson correlation of simulated against true
  std::optional<double> rsquared;                ///< 1 - mean((t-p)^2) / mean(t^2); null when every t is 0
  std::optional<double> absolute_dev_explained;  ///< 1 - mean|t-p| / mean|t|; null when every t is 0
};

/// The figures of `series`. Pure.
inline simulation_figures figures_of(level_series const& series) {
  simulation_figures f;
  f.ev_correlation = pearson(series.truth, series.simulated);
  double sq = 0, t2 = 0, ad = 0, at = 0;
  for (std::size_t i = 0; i < series.truth.size(); ++i) {
    double const t = series.truth[i], p = series.simulated[i];
    sq += (t - p) * (t - p);
    t2 += t * t;
    ad += std::fabs(t - p);
    at += std::fabs(t);
  }
  if (t2 > 0) f.rsquared = 1 - sq / t2;  // the means' common 1/n cancels
  if (at > 0) f.absolute_dev_explained = 1 - ad / at;
  return f;
}

/// The correlation of one sample's simulated and true levels; null without a simulation or when
/// either is constant (always for a non-activating window, whose truth is all zeros).
inline std::optional<double> sample_correlation(score_sample const& s) {
  level_series one;
  one.add(s);
  return pearson(one.truth, one.simulated);
}

/// One latent's figures: its samples joined (OpenAI's "all at once" correlation).
inline simulation_figures latent_simulation_figures(std::span<score_sample const> samples) {
  level_series all;
  for (auto const& s : samples) all.add(s);
  return figures_of(all);
}

/// The pooled correlation of the activating samples of one quantile.
struct simulation_quantile {
  double quantile = 0;       ///< the samples' `distance`
  std::size_t samples = 0;   ///< activating samples of this quantile with a simulation
  std::optional<double> ev_correlation;
};

/// The simulation scorer's summary.
struct simulation_summary {
  std::size_t latents = 0;
  std::size_t samples = 0;  ///< samples with a simulation
  std::size_t failed = 0;   ///< samples without one (their answer never parsed)
  simulation_figures pooled;  ///< over every sample of every latent, joined
  latent_distribution per_latent;  ///< of each latent's `ev_correlation`; null ones excluded
  std::vector<simulation_quantile> per_quantile;  ///< ascending quantile
};

/// Summarises simulation score files: pooled figures over all samples of all latents joined (the
/// headline `ev_correlation`), the distribution of per-latent correlations, and per quantile the
/// correlation over its activating samples joined. Pure.
inline simulation_summary summarize_simulation(std::span<latent_scores const> latents, summary_options const& options = {}) {
  simulation_summary s;
  s.latents = latents.size();
  level_series pooled;
  std::map<double, std::pair<std::size_t, level_series>> quantiles;
  std::vector<double> correlations;
  std::size_t excluded = 0;
  for (auto const& l : latents) {
    for (auto const& x : l.samples) {
      if (!x.simulated) {
        ++s.failed;
        continue;
      }
      ++s.samples;
      pooled.add(x);
      if (x.activating && std::isfinite(x.distance)) {
        auto& q = quantiles[x.distance];
        ++q.first;
        q.second.add(x);
      }
    }
    if (auto r = latent_simulation_figures(l.samples).ev_correlation) correlations.push_back(*r);
    else ++excluded;
  }
  s.pooled = figures_of(pooled);
  s.per_latent = distribution_of(std::move(correlations), excluded, options);
  for (auto const& [distance, q] : quantiles) s.per_quantile.push_back({distance, q.first, pearson(q.second.truth, q.second.simulated)});
  return s;
}

/// `summary --json`'s "simulation" entry: {"latents", "samples", "failed", "ev_correlation",
/// "rsquared", "absolute_dev_explained", "per_latent": {...}, "per_quantile": [{"quantile",
/// "samples", "ev_correlation"}]}, null where undefined.
inline boost::json::object to_json(simulation_summary const& s) {
  using detail::optional_number;
  boost::json::object o;
  o["latents"] = s.latents;
  o["samples"] = s.samples;
  o["failed"] = s.failed;
  o["ev_correlation"] = optional_number(s.pooled.ev_correlation);
  o["rsquared"] = optional_number(s.pooled.rsquared);
  o["absolute_dev_explained"] = optional_number(s.pooled.absolute_dev_explained);
  o["per_latent"] = to_json(s.per_latent);
  boost::json::array q;
  for (auto const& x : s.per_quantile)
    q.push_back(boost::json::object{{"quantile", detail::json_number(x.quantile)},
                                    {"samples", x.samples},
                                    {"ev_correlation", optional_number(x.ev_correlation)}});
  o["per_quantile"] = std::move(q);
  return o;
}

}  // namespace autointerp::score
