#pragma once
// Non-activating examples: windows in which the latent never fires, shown to scorers as
// negatives.
//
// Sources: `random` (uniform draws, with replacement, from the windows where the latent is
// silent) and `neighbours` (windows where the latent's neighbour latents fire and it does not,
// delphi's "neighbours" source). delphi's third source, `FAISS` (windows whose sentence embedding
// is close to the activating examples'), is not supported yet.
//
// The random draw uses our Python-compatible generator seeded with `non_activating_seed`, not
// torch's generator, so the windows are not delphi's; they have the same properties (uniform over
// the silent windows, with replacement, as many as asked) and are reproducible for a given seed.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/cache/token_matrix.hpp>
#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/records/example_windows.hpp>
#include <autointerp/records/latent_record.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace autointerp::records {

/// One entry of delphi's neighbour file: `[score, latent]`.
struct neighbour {
  double distance = 0;
  std::uint32_t latent = 0;
};

/// A module's neighbour lists, by latent: the parsed `<module>-<type>.json`.
using neighbour_table = std::unordered_map<std::uint32_t, std::vector<neighbour>>;

/// A neighbour and its activations (null or empty when the neighbour never fires; it is then
/// skipped, as delphi skips neighbours missing from its data).
struct neighbour_activity {
  double distance = 0;
  std::shared_ptr<cache::latent_activations const> activity;
};

/// delphi caps the windows taken from each neighbour at this many.
inline constexpr std::size_t max_windows_per_neighbour = 10;

/// Reads delphi's neighbour JSON, `{"<latent>": [[score, neighbour_latent], ...], ...}`.
/// Errors: `errc::file_not_found`, `errc::unreadable_file`, `errc::bad_config` (not that shape;
/// the message names the file and the offending key). Thread-safe.
AUTOINTERP_DECL result<neighbour_table> load_neighbours(std::filesystem::path const& file);

/// Parses the neighbour JSON text itself (`source` names it in error messages).
AUTOINTERP_DECL result<neighbour_table> parse_neighbours(std::string_view json, std::string const& source);

/// The file delphi reads for `module`: `<dir>/<module>-<type>.json` (type such as
/// "co-occurrence" or "decoder_similarity").
inline std::filesystem::path neighbour_file(std::filesystem::path const& dir, std::string const& module,
                                            std::string const& type) {
  return dir / (module + "-" + type + ".json");
}

/// `n` windows drawn uniformly, with replacement, from the windows not set in `active`, using a
/// Python-compatible generator seeded with `seed`. Empty when `n` is 0 or fewer than `n` windows
/// are silent (delphi's rule: a latent active almost everywhere gets no negatives). Distance is
/// -1, as delphi sets it. Thread-safe (pure function).
AUTOINTERP_DECL std::vector<non_activating_example> random_non_activating(cache::token_matrix const& tokens,
                                                                          window_mask const& active,
                                                                          std::uint32_t example_ctx_len,
                                                                          std::uint32_t n, std::uint64_t seed);

/// delphi's neighbour source: for each neighbour in order, until `n` windows are collected
/// (checked before each neighbour, so the last one may overshoot), the windows where the
/// neighbour fires and this latent (`active`) does not, ranked by the neighbour's maximum, at most
/// `max_windows_per_neighbour` of them, with distance = -score. Falls back to
/// `random_non_activating` when no neighbour gives a window. Activations outside the token matrix
/// are ignored. Thread-safe (pure function).
AUTOINTERP_DECL std::vector<non_activating_example> neighbour_non_activating(
    cache::token_matrix const& tokens, window_mask const& active, std::uint32_t example_ctx_len, std::uint32_t n,
    std::span<neighbour_activity const> neighbours, std::uint64_t seed);

}  // namespace autointerp::records

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/records/impl/non_activating.ipp>
#endif
