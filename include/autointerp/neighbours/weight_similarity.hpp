#pragma once
// Weight-similarity neighbours (delphi's decoder_similarity and encoder_similarity): the cosine
// of two latents' weight vectors; each latent's neighbours are torch's topk of its row of the
// cosine matrix, k + 1 taken and the first (normally the latent itself) dropped.
//
// The matrix is never whole: rows are computed a block at a time (one matrix product of the
// block's normalised rows with all of them), ranked, and dropped. The product is a plain blocked
// loop, or any GEMM the caller plugs in (the `autointerp` tool passes OpenBLAS's `cblas_sgemm`).

#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/neighbours/neighbour_lists.hpp>
#include <autointerp/neighbours/sae_weights.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace autointerp::neighbours {

/// `c[rows][cols] = a[rows][depth] * b[cols][depth]^T`, all row-major float32: what a BLAS
/// `sgemm(RowMajor, NoTrans, Trans, ...)` computes.
using gemm_function = std::function<void(std::size_t rows, std::size_t cols, std::size_t depth, float const* a,
                                         float const* b, float* c)>;

/// How weight-similarity neighbours are computed.
struct similarity_options {
  /// Neighbours per latent (delphi's `number_of_neighbours`, 10).
  std::uint32_t k = 10;
  /// Threads for the plain product and for ranking rows, the calling one included.
  std::size_t threads = 1;
  /// Bytes of one block of cosine rows (default 64 MiB; at least one row is computed at a time).
  std::size_t block_bytes = std::size_t{64} << 20;
  /// The matrix product; empty = autointerp's plain blocked loop. It is called from the calling
  /// thread only and may use threads of its own.
  gemm_function gemm;
};

/// Normalises every row of `w` in place to unit length (each element divided by the float32 norm,
/// as delphi does) and returns the rows that cannot be: any NaN or infinite element, or a zero
/// norm. Those rows are set to zero, so their cosine with any latent is 0, as delphi's
/// `nan_to_num` makes it. Pure, thread-safe on distinct data.
AUTOINTERP_DECL std::vector<std::uint32_t> normalise_rows(weight_rows& w);

/// delphi's similarity neighbours of every latent of `w` (normalised here; the rows are changed).
/// Rows skipped by `normalise_rows` get an empty list and are counted in `skipped`. Errors:
/// `errc::bad_option` (k = 0). Blocks; thread-safe on distinct data.
AUTOINTERP_DECL result<neighbour_lists> similarity_neighbours(weight_rows& w, similarity_options const& options,
                                                              progress_callback const& progress = {});

}  // namespace autointerp::neighbours

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/neighbours/impl/weight_similarity.ipp>
#endif
