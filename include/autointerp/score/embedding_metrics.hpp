#pragma once
// The embedding scorer's figures: per latent, the ROC AUC of example-to-explanation similarity,
// activating against not; over a run, the mean and distribution of those AUCs.

#include <autointerp/score/metrics.hpp>
#include <autointerp/score/score_sample.hpp>
#include <autointerp/score/summary.hpp>

#include <boost/json/object.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

namespace autointerp::score {

/// The ROC AUC of the samples' similarity, activating = positive (samples without one are left
/// out); null with one class only. Neuronpedia's embedding score. Pure.
inline std::optional<double> similarity_auc(std::span<score_sample const> samples) {
  std::vector<scored_label> v;
  for (auto const& s : samples)
    if (s.similarity) v.push_back({*s.similarity, s.activating});
  return roc_auc(std::span<scored_label const>(v));
}

/// The embedding scorer's summary.
struct embedding_summary {
  std::size_t latents = 0;
  std::size_t samples = 0;         ///< samples with a similarity
  std::size_t failed = 0;          ///< samples without one (an empty or zero embedding)
  latent_distribution per_latent;  ///< of the per-latent AUCs; latents with one class excluded
};

/// Summarises embedding score files; the headline `auc` is `per_latent.mean`. Pure.
inline embedding_summary summarize_embedding(std::span<latent_scores const> latents, summary_options const& options = {}) {
  embedding_summary s;
  s.latents = latents.size();
  std::vector<double> aucs;
  std::size_t excluded = 0;
  for (auto const& l : latents) {
    for (auto const& x : l.samples) ++(x.similarity ? s.samples : s.failed);
    if (auto a = similarity_auc(l.samples)) aucs.push_back(*a);
    else ++excluded;
  }
  s.per_latent = distribution_of(std::move(aucs), excluded, options);
  return s;
}

/// `summary --json`'s "embedding" entry: {"latents", "samples", "failed", "auc" (the mean of the
/// per-latent AUCs), "per_latent": {...}}, null where undefined.
inline boost::json::object to_json(embedding_summary const& s) {
  using detail::optional_number;
  boost::json::object o;
  o["latents"] = s.latents;
  o["samples"] = s.samples;
  o["failed"] = s.failed;
  o["auc"] = optional_number(s.per_latent.mean);
  o["per_latent"] = to_json(s.per_latent);
  return o;
}

}  // namespace autointerp::score
