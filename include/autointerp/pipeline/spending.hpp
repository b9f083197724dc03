#pragma once
// What an output folder's calls cost, summed over every `run.jsonl` line: a resumed job starts its
// budget from it, and `autointerp summary` reports it per stage and per latent. Every line counts,
// not only the latest of a latent's stage: a call that failed and was asked again was paid twice.

#include <autointerp/llm/token_usage.hpp>
#include <autointerp/pipeline/run_line.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <tuple>

namespace autointerp::pipeline {

/// One stage's spending.
struct stage_spending {
  std::size_t lines = 0;    ///< run.jsonl lines of the stage (a latent asked twice counts twice)
  std::size_t latents = 0;  ///< distinct latents with a line of the stage
  token_usage usage;
};

/// A folder's spending.
struct spending {
  std::map<std::string, stage_spending> by_stage;
  token_usage total;
  std::size_t latents = 0;  ///< distinct latents with at least one line

  /// Mean cost per latent (0 without latents).
  double cost_per_latent() const noexcept { return latents ? total.cost / static_cast<double>(latents) : 0; }
  /// Share of prompt tokens the provider served from its prefix cache (0 without prompt tokens).
  double cache_hit_rate() const noexcept {
    return total.prompt_tokens ? static_cast<double>(total.cached_tokens) / static_cast<double>(total.prompt_tokens) : 0;
  }
};

/// Sums `run_log` (a `run.jsonl`), streaming it; torn or foreign lines are skipped. A missing file
/// sums to nothing. Pure apart from reading the file.
inline spending read_spending(std::filesystem::path const& run_log) {
  spending s;
  std::set<std::tuple<std::string, std::uint32_t>> seen;
  std::set<std::tuple<std::string, std::string, std::uint32_t>> seen_in_stage;
  std::ifstream in(run_log, std::ios::binary);
  for (std::string text; std::getline(in, text);) {
    auto line = parse_run_line(text);
    if (!line) continue;
    auto& st = s.by_stage[line->stage];
    ++st.lines;
    st.usage += line->usage;
    s.total += line->usage;
    seen.emplace(line->latent.module, line->latent.index);
    if (seen_in_stage.emplace(line->stage, line->latent.module, line->latent.index).second) ++st.latents;
  }
  s.latents = seen.size();
  return s;
}

}  // namespace autointerp::pipeline
