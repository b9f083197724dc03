#pragma once
// What the terminal view and the HTML report show about one latent, gathered from its record, its
// activations and (optionally) a run's output.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/records/latent_record.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace autointerp::report {

/// One example window: per-token text (raw, possibly invalid UTF-8: views escape it) and activation.
struct window {
  std::vector<std::string> tokens;
  std::vector<float> activations;  ///< same length as tokens; 0 where the latent is silent
};

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
};

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
