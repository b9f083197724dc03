#pragma once
// Co-occurrence neighbours as delphi defines them, without its dense n x n matrix: two latents
// co-occur at a token where both are active; the score is the Jaccard index
// cooc(a, b) / (n(a) + n(b) - cooc(a, b)); each latent's neighbours are torch's topk of its row,
// k + 1 taken and the first (normally the latent itself) dropped.
//
// Memory is sparse: each latent's token set and the same sets by token (about 8 bytes per
// activation in all), plus one dense counter row per thread. A row is counted by walking the
// latent's tokens and, at each, the latents active there, so the work is the sum over tokens of
// (active latents)^2 and never touches pairs that do not co-occur.

#include <autointerp/cache/dataset.hpp>
#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/neighbours/neighbour_lists.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace autointerp::neighbours {

/// How co-occurrence neighbours are computed.
struct cooccurrence_options {
  /// Neighbours per latent (delphi's `number_of_neighbours`, 10).
  std::uint32_t k = 10;
  /// Bytes the token sets may take (both directions, about 8 bytes per activation); a module
  /// with more activations fails with `errc::memory_budget`. 0 = unlimited. Default 1 GiB.
  std::size_t memory_budget = std::size_t{1} << 30;
  /// Threads counting rows, the calling one included (1 = the calling thread only).
  std::size_t threads = 1;
};

/// The tokens at which each latent is active: `tokens[latent]` holds distinct token ids
/// (row * context length + position), ascending.
struct latent_token_sets {
  std::uint64_t n_tokens = 0;  ///< every id is below this
  std::vector<std::vector<std::uint32_t>> tokens;
};

/// Reads the token sets of every latent of `module` (delphi or native cache), `threads` at once.
/// Errors: those of `dataset::module` and `dataset::load_latent`; `errc::memory_budget` when the
/// sets would pass `memory_budget` (the message gives the size needed); `errc::bad_shape` when the
/// module has 2^32 tokens or more. Blocks; thread-safe.
AUTOINTERP_DECL result<latent_token_sets> read_token_sets(cache::dataset const& data, std::string_view module,
                                                          cooccurrence_options const& options,
                                                          progress_callback const& progress = {});

/// delphi's co-occurrence neighbours of every latent of `sets` (pure, sans I/O). Rows have the
/// length delphi gives them, the largest active latent + 1, so its topk sees the same rows; every
/// latent of `sets` gets a list, empty when it never fires. Errors: `errc::memory_budget` (as
/// above), `errc::bad_option` (k = 0). Blocks; runs `options.threads` threads; thread-safe.
AUTOINTERP_DECL result<neighbour_lists> cooccurrence_neighbours(latent_token_sets const& sets,
                                                                cooccurrence_options const& options,
                                                                progress_callback const& progress = {});

/// The Jaccard score exactly as delphi's torch code computes it: the int64 count and denominator
/// each converted to float32, then divided in float32.
constexpr float jaccard_score(std::uint64_t cooc, std::uint64_t n_a, std::uint64_t n_b) noexcept {
  return static_cast<float>(cooc) / static_cast<float>(n_a + n_b - cooc);
}

}  // namespace autointerp::neighbours

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/neighbours/impl/cooccurrence.ipp>
#endif
