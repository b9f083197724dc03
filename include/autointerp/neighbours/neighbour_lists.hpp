#pragma once
// What a neighbour computation produces: for every latent of a module, its nearest latents, best
// first, as delphi's neighbour files list them.

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace autointerp::neighbours {

/// How neighbours are found (delphi's three methods).
enum class method : std::uint8_t {
  cooccurrence,  ///< Jaccard index of the token sets where two latents are active
  decoder,       ///< cosine similarity of the latents' decoder vectors
  encoder,       ///< cosine similarity of the latents' encoder vectors
};

/// The type delphi puts in the file name `<module>-<type>.json`: "co-occurrence",
/// "decoder_similarity" or "encoder_similarity".
constexpr std::string_view file_type(method m) noexcept {
  switch (m) {
    case method::cooccurrence: return "co-occurrence";
    case method::decoder: return "decoder_similarity";
    case method::encoder: return "encoder_similarity";
  }
  return "co-occurrence";
}

/// One neighbour: its score (Jaccard index or cosine, float32 as delphi computes it) and latent.
struct neighbour_entry {
  float score = 0;
  std::uint32_t latent = 0;
  friend bool operator==(neighbour_entry const&, neighbour_entry const&) = default;
};

/// Every latent's neighbours, index = latent, best first. A latent that never fires
/// (co-occurrence) or whose weight row is NaN or zero (similarity) has an empty list.
struct neighbour_lists {
  std::vector<std::vector<neighbour_entry>> lists;
  std::uint32_t skipped = 0;  ///< latents given an empty list: dead latents, or NaN / zero weight rows
  std::uint64_t pairs = 0;    ///< co-occurrence: (token, latent, latent) triples counted, each unordered pair once
};

/// Progress of a long computation: `phase` ("reading", "counting", "similarity"), `done` of `total`
/// units (latents). Called from the thread that runs the computation, never concurrently.
using progress_callback = std::function<void(std::string_view phase, std::uint64_t done, std::uint64_t total)>;

}  // namespace autointerp::neighbours
