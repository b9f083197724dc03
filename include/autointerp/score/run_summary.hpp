#pragma once
// `summary --json` of a whole output folder: each scorer's entry computed by its own summary
// (classifier, simulation, intruder or embedding, by the scorer's name).

#include <autointerp/score/embedding_metrics.hpp>
#include <autointerp/score/intruder_metrics.hpp>
#include <autointerp/score/run_scores.hpp>
#include <autointerp/score/score_file.hpp>
#include <autointerp/score/simulation_metrics.hpp>
#include <autointerp/score/summary.hpp>

#include <boost/json/object.hpp>

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autointerp::score {

/// The summary entry of scorer `name` over `latents`: `to_json` of `summarize` (detection, fuzz and
/// other classifiers, with `counts` for the weighted F1), `summarize_simulation`,
/// `summarize_intruder` or `summarize_embedding`. Pure.
inline boost::json::object summary_entry(std::string_view name, std::span<latent_scores const> latents,
                                         firing_counts const& counts = {}, summary_options const& options = {}) {
  switch (score_file_format_of(name)) {
    case score_file_format::simulation: return to_json(summarize_simulation(latents, options));
    case score_file_format::intruder: return to_json(summarize_intruder(latents, options));
    case score_file_format::embedding: return to_json(summarize_embedding(latents, options));
    case score_file_format::classifier: break;
  }
  return to_json(summarize(latents, counts, options));
}

/// Every scorer's entry of `scores`, by name (the order of `run_scores::by_scorer`).
inline std::vector<std::pair<std::string, boost::json::object>> summary_entries(run_scores const& scores,
                                                                                summary_options const& options = {}) {
  std::vector<std::pair<std::string, boost::json::object>> out;
  for (auto const& [name, latents] : scores.by_scorer) out.emplace_back(name, summary_entry(name, latents, scores.counts(), options));
  return out;
}

}  // namespace autointerp::score
