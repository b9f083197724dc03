#pragma once
// The token ids a cache was built from: `rows` sequences of `ctx` tokens, row-major.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace autointerp::cache {

/// Token ids of the cache's dataset. Shared (read-only) by every latent of a module.
struct token_matrix {
  std::size_t rows = 0;
  std::size_t ctx = 0;
  std::vector<std::uint32_t> ids;  ///< rows * ctx ids, row-major

  std::size_t size() const noexcept { return ids.size(); }
  std::span<std::uint32_t const> row(std::size_t r) const noexcept { return {ids.data() + r * ctx, ctx}; }
  std::uint32_t at(std::size_t r, std::size_t p) const noexcept { return ids[r * ctx + p]; }
};

}  // namespace autointerp::cache
