#pragma once
// Reading a run's score files back: every `scores/<scorer>/<module>_latent<i>.txt` of an output
// folder, with the firing counts its run.jsonl recorded, ready for `summarize`.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/error.hpp>
#include <autointerp/pipeline/run_store.hpp>
#include <autointerp/score/score_file.hpp>
#include <autointerp/score/summary.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace autointerp::score {

/// The scores of one output folder.
struct run_scores {
  /// Scorer name -> its latents, ordered by module and latent.
  std::map<std::string, std::vector<latent_scores>> by_scorer;
  /// Score files that could not be read (one line each: which file, why); they are left out.
  std::vector<std::string> unreadable;
  /// Firing counts that run.jsonl recorded for scored latents (by the scorer's lines).
  std::map<std::pair<std::string, std::uint32_t>, std::uint64_t> firing;

  firing_counts counts() const {
    return [this](cache::latent_id const& id) -> std::optional<std::uint64_t> {
      auto it = firing.find({id.module, id.index});
      if (it == firing.end()) return std::nullopt;
      return it->second;
    };
  }
};

/// The scorers of an output folder: the names of the folders under `store.root()/scores/`, sorted.
/// Empty when nothing was scored (no `scores/` folder). Reads the folder only. Thread-safe.
inline std::vector<std::string> list_scorers(pipeline::run_store const& store) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(store.root() / "scores", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::error_code dec;
    if (it->is_directory(dec)) out.push_back(it->path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// One latent's scores under `scorer`, from `scores/<scorer>/<module>_latent<i>.txt` (read in
/// that scorer's format, `parse_scored_file`):
/// nothing when that file does not exist (the latent was not scored, or not yet). Input is
/// untrusted. Errors: `errc::unreadable_file` when the file exists but cannot be read,
/// `errc::bad_score_file` (see `parse_score_file`, with the file's path first) when it is damaged.
/// Thread-safe.
inline result<std::optional<scored_file>> read_latent_scores(pipeline::run_store const& store, std::string_view scorer,
                                                             cache::latent_id const& id) {
  auto const path = store.score_path(scorer, id);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::optional<scored_file>{};
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(errc::unreadable_file, "cannot open " + path.string());
  std::stringstream ss;
  ss << f.rdbuf();
  auto scores = parse_scored_file(scorer, ss.str(), path.string());
  if (!scores) return scores.error();
  return std::optional<scored_file>(std::move(*scores));
}

/// Reads every score file under `store.root()/scores/` (a folder per scorer; other names are
/// skipped) and the firing counts of the store's lines. A damaged file is listed in `unreadable`,
/// never a reason to fail. Errors: `errc::file_not_found` when the folder has no `scores/`.
inline result<run_scores> read_run_scores(pipeline::run_store const& store) {
  auto const dir = store.root() / "scores";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return make_error(errc::file_not_found, dir.string() + " does not exist: nothing was scored in " +
                                                store.root().string() + " (run explain or score with scorers)");
  run_scores out;
  for (auto const& line : store.lines())
    if (line.stage != "explain" && line.n_activations)
      out.firing[{line.latent.module, line.latent.index}] = *line.n_activations;
  for (auto sit = std::filesystem::directory_iterator(dir, ec); !ec && sit != std::filesystem::directory_iterator();
       sit.increment(ec)) {
    if (!sit->is_directory()) continue;
    auto const scorer = sit->path().filename().string();
    auto& latents = out.by_scorer[scorer];
    std::error_code fec;
    for (auto it = std::filesystem::directory_iterator(sit->path(), fec); !fec && it != std::filesystem::directory_iterator();
         it.increment(fec)) {
      auto const name = it->path().filename().string();
      if (name.size() < 5 || name.compare(name.size() - 4, 4, ".txt") != 0) continue;
      auto id = pipeline::run_store::parse_stem(std::string_view(name).substr(0, name.size() - 4));
      if (!id) continue;
      std::ifstream f(it->path(), std::ios::binary);
      std::stringstream ss;
      ss << f.rdbuf();
      auto scores = parse_scored_file(scorer, ss.str(), it->path().string());
      if (!scores) {
        out.unreadable.push_back(scores.error().what());
        continue;
      }
      latents.push_back({std::move(*id), std::move(scores->samples), std::move(scores->trials)});
    }
    std::sort(latents.begin(), latents.end(), [](auto const& a, auto const& b) {
      return std::tie(a.latent.module, a.latent.index) < std::tie(b.latent.module, b.latent.index);
    });
  }
  return out;
}

}  // namespace autointerp::score
