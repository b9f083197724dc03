#pragma once
// An SAE's encoder or decoder vectors, one float row per latent, read straight from the
// safetensors files the trainers write (no Python, no sparsify `Sae` class).
//
// Layouts recognised by their tensor names:
// - sparsify: `<root>/<hookpoint>/sae.safetensors` with `encoder.weight` [n, d] and `W_dec` [n, d],
//   `cfg.json` beside it;
// - SAELens: `sae_weights.safetensors` with `W_enc` [d, n] and `W_dec` [n, d], `cfg.json` beside it.
// Dtypes F32, BF16 and F16 are converted to float exactly.

#include <autointerp/cache/safetensors.hpp>
#include <autointerp/config.hpp>
#include <autointerp/error.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace autointerp::neighbours {

/// Which trainer's layout a weight file has.
enum class sae_layout : std::uint8_t { sparsify, saelens };

/// "sparsify" or "SAELens".
constexpr std::string_view layout_name(sae_layout l) noexcept { return l == sae_layout::sparsify ? "sparsify" : "SAELens"; }

/// Which vectors to read.
enum class weight_kind : std::uint8_t { encoder, decoder };

/// One vector per latent, row-major: latent i's vector is `values[i * dim, (i + 1) * dim)`.
struct weight_rows {
  sae_layout layout = sae_layout::sparsify;
  std::filesystem::path file;
  std::string tensor;  ///< the tensor read, e.g. "W_dec"
  cache::tensor_dtype dtype = cache::tensor_dtype::f32;
  std::uint32_t latents = 0;
  std::uint32_t dim = 0;
  std::vector<float> values;
  /// "sparsify layout, W_dec [16384, 768] BF16 in /path/sae.safetensors", for messages and logs.
  AUTOINTERP_DECL std::string describe() const;
};

/// The weight file `path` names: the file itself; a folder holding `sae.safetensors` (sparsify)
/// or `sae_weights.safetensors` (SAELens); or a sparsify root holding `<module>/sae.safetensors`.
/// Errors: `errc::file_not_found`, naming every place looked at.
AUTOINTERP_DECL result<std::filesystem::path> find_sae_file(std::filesystem::path const& path, std::string_view module);

/// Detects the layout of an open weight file and converts the `kind` vectors to float rows.
/// Errors (one line naming the file and tensor): `errc::bad_header` (neither layout's tensors:
/// the message lists the tensors found; or the wanted tensor is missing), `errc::bad_dtype` (not
/// F32, BF16 or F16), `errc::bad_shape` (not 2-D, or encoder and decoder shapes disagree). Pure
/// over the mapped bytes; thread-safe.
AUTOINTERP_DECL result<weight_rows> read_sae_weights(cache::safetensors_file const& file, weight_kind kind);

/// `find_sae_file`, open it, then `read_sae_weights`. Errors: theirs and the file's. Blocks.
AUTOINTERP_DECL result<weight_rows> load_sae_weights(std::filesystem::path const& path, std::string_view module,
                                                     weight_kind kind);

}  // namespace autointerp::neighbours

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/neighbours/impl/sae_weights.ipp>
#endif
