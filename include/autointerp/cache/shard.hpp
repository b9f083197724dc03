#pragma once
// A delphi shard decoded into latent-major form: for each latent of the shard's range, its
// activations sorted by (row, position), ready to hand out without further work.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/cache/safetensors.hpp>
#include <autointerp/cache/token_matrix.hpp>
#include <autointerp/config.hpp>
#include <autointerp/error.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace autointerp::cache {

/// What a shard's locations must respect. Zero for `rows` or `ctx_len` means "not known, unchecked".
struct shard_limits {
  std::uint32_t first_latent = 0;
  std::uint32_t last_latent = 0;  ///< inclusive
  std::uint64_t rows = 0;
  std::uint32_t ctx_len = 0;
};

/// The activations of latents `first_latent..last_latent`, grouped by latent (compressed sparse rows).
/// Immutable after decoding; safe to share between threads.
struct decoded_shard {
  std::uint32_t first_latent = 0;
  std::uint32_t last_latent = 0;
  activation_dtype dtype = activation_dtype::f16;
  std::vector<std::uint64_t> offsets;  ///< latent l's activations are [offsets[l-first], offsets[l-first+1])
  std::vector<std::uint32_t> rows;
  std::vector<std::uint32_t> positions;
  std::vector<float> values;

  std::size_t memory_bytes() const noexcept {
    return offsets.size() * sizeof(std::uint64_t) + rows.size() * 4 + positions.size() * 4 + values.size() * 4;
  }
  bool holds(std::uint32_t latent) const noexcept { return latent >= first_latent && latent <= last_latent; }
  /// Number of activations of `latent` (which `holds()`).
  std::uint64_t count(std::uint32_t latent) const noexcept {
    return offsets[latent - first_latent + 1] - offsets[latent - first_latent];
  }
  /// Appends `latent`'s activations (which `holds()`) to `out`.
  void copy_latent(std::uint32_t latent, latent_activations& out) const {
    auto b = offsets[latent - first_latent], e = offsets[latent - first_latent + 1];
    out.rows.insert(out.rows.end(), rows.begin() + static_cast<std::ptrdiff_t>(b), rows.begin() + static_cast<std::ptrdiff_t>(e));
    out.positions.insert(out.positions.end(), positions.begin() + static_cast<std::ptrdiff_t>(b),
                         positions.begin() + static_cast<std::ptrdiff_t>(e));
    out.values.insert(out.values.end(), values.begin() + static_cast<std::ptrdiff_t>(b), values.begin() + static_cast<std::ptrdiff_t>(e));
    out.dtype = dtype;
  }
};

/// Bytes `decode_shard` will need for a shard with this header (for the memory budget), or 0 if
/// the header has no usable `activations` tensor (decode_shard then reports why).
AUTOINTERP_DECL std::uint64_t decoded_shard_bytes(safetensors_header const& h, shard_limits const& limits) noexcept;

/// Decodes the `locations` and `activations` tensors of a delphi shard.
/// Errors (messages name the file): `errc::bad_header` (a tensor is missing), `errc::bad_dtype`
/// (locations not U16/U32/I32/I64/U64, activations not F16/BF16/F32), `errc::bad_shape` (shapes
/// disagree, or a location's latent, row or position is outside the shard's range). Thread-safe.
AUTOINTERP_DECL result<decoded_shard> decode_shard(safetensors_file const& file, shard_limits const& limits);

/// Reads a [rows, ctx] token tensor (I64, I32, U32, U16, I16 or U8). Errors: `errc::bad_dtype`,
/// `errc::bad_shape`, `errc::token_out_of_range` (negative or over 2^32 - 1). Thread-safe.
AUTOINTERP_DECL result<token_matrix> read_token_tensor(std::span<std::byte const> data, tensor_info const& t,
                                                      std::string_view file);

}  // namespace autointerp::cache

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/cache/impl/shard.ipp>
#endif
