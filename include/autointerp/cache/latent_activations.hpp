#pragma once
// One latent's activations as read from a cache: parallel arrays in (row, position) order.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace autointerp::cache {

/// The storage type of activations in a shard. Values are always handed out as `float` (exact for
/// all three); records need the original type to compute levels the way delphi does.
enum class activation_dtype : std::uint8_t { f16, bf16, f32 };

/// A latent of one module of a cache.
struct latent_id {
  std::string module;
  std::uint32_t index = 0;
  friend bool operator==(latent_id const&, latent_id const&) = default;
};

/// Every nonzero activation of one latent, sorted by (row, position).
/// `rows[i]`, `positions[i]` and `values[i]` describe the i-th activation; all three have equal size.
/// An empty latent (never fires) is a valid value, not an error.
struct latent_activations {
  latent_id latent;
  std::vector<std::uint32_t> rows;       ///< row of the token matrix
  std::vector<std::uint32_t> positions;  ///< position inside the row, < context length
  std::vector<float> values;             ///< activation, exactly representable in `dtype`
  activation_dtype dtype = activation_dtype::f16;

  std::size_t size() const noexcept { return values.size(); }
  bool empty() const noexcept { return values.empty(); }
};

}  // namespace autointerp::cache
