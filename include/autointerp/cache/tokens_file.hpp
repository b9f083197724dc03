#pragma once
// Token matrices from a file the user names, for caches whose shards carry no `tokens` tensor:
// NumPy `.npy` (C order, little-endian integers) or safetensors (a tensor named "tokens", or the
// only tensor in the file).

#include <autointerp/cache/token_matrix.hpp>
#include <autointerp/config.hpp>
#include <autointerp/error.hpp>

#include <cstddef>
#include <filesystem>
#include <span>
#include <string_view>

namespace autointerp::cache {

/// Reads a [rows, ctx] token matrix from `path` (`.npy`, `.safetensors` or `.safetensors.zst`).
/// Errors (naming the file): `errc::file_not_found`, `errc::unreadable_file`, `errc::bad_option`
/// (other extension), `errc::bad_header`, `errc::bad_dtype`, `errc::bad_shape`,
/// `errc::token_out_of_range`. Thread-safe.
AUTOINTERP_DECL result<token_matrix> read_tokens_file(std::filesystem::path const& path);

/// Parses a whole `.npy` file held in memory (exposed for tests and fuzzing).
AUTOINTERP_DECL result<token_matrix> parse_npy_tokens(std::span<std::byte const> bytes, std::string_view file);

}  // namespace autointerp::cache

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/cache/impl/tokens_file.ipp>
#endif
