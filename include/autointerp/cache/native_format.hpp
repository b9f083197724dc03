#pragma once
// autointerp's native indexed cache files (written by `autointerp convert`): latent-major,
// one zstd frame per latent, an index with each latent's offset, size, count and maximum, XXH64
// checksums, and a format version. The byte layout is documented in docs/native_format.md.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/cache/token_matrix.hpp>
#include <autointerp/cache/detail/file_io.hpp>
#include <autointerp/config.hpp>
#include <autointerp/error.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace autointerp::cache {

inline constexpr std::array<char, 8> native_magic{'A', 'I', 'N', 'A', 'T', 'I', 'V', 'E'};
inline constexpr std::uint32_t native_version = 1;
inline constexpr std::size_t native_header_size = 128;
inline constexpr std::size_t native_entry_size = 32;
/// File name of the marker that makes a folder a native cache.
inline constexpr std::string_view native_marker = "autointerp-cache.json";
/// File name of a module's native file inside its folder.
inline constexpr std::string_view native_file_name = "latents.ain";
/// A block may not claim to decompress to more than this many times its compressed size; real
/// blocks stay far below, and the bound keeps a forged index from forcing huge allocations.
inline constexpr std::uint64_t native_max_ratio = 4096;

/// The fixed header at the start of a native file.
struct native_header {
  std::uint32_t version = native_version;
  std::uint32_t first_latent = 0;
  std::uint32_t latent_count = 0;
  std::uint32_t ctx_len = 0;
  activation_dtype dtype = activation_dtype::f16;
  std::uint64_t rows = 0;
  std::uint64_t total_activations = 0;
  std::uint64_t index_offset = 0;
  std::uint64_t index_checksum = 0;
  std::uint64_t tokens_offset = 0;  ///< 0 when the file carries no tokens
  std::uint64_t tokens_size = 0;
  std::uint64_t tokens_checksum = 0;
  std::uint64_t file_size = 0;
};

/// One latent's entry in the index. A latent that never fires has all fields zero.
struct native_index_entry {
  std::uint64_t offset = 0;   ///< file offset of the latent's zstd frame
  std::uint32_t size = 0;     ///< compressed bytes
  std::uint32_t count = 0;    ///< activations
  float max = 0;              ///< largest activation (0 when count is 0)
  std::uint64_t checksum = 0; ///< XXH64 (seed 0) of the compressed bytes
};

/// A latent's compressed block before it is placed in a file.
struct native_block {
  std::vector<std::byte> bytes;
  std::uint32_t count = 0;
  float max = 0;
};

/// Serialises a header (computing its checksum).
AUTOINTERP_DECL std::array<std::byte, native_header_size> encode_native_header(native_header const& h);

/// Parses and checks a header read from a file of `file_size` bytes. Errors (naming `file`):
/// `errc::bad_header` (too short, bad magic, checksum, inconsistent fields), `errc::unsupported_version`,
/// `errc::checksum_mismatch`, `errc::bad_offsets` (sections outside the file; truncated file).
AUTOINTERP_DECL result<native_header> decode_native_header(std::span<std::byte const> bytes, std::uint64_t file_size,
                                                           std::string_view file);

/// Parses and checks the index (`latent_count` entries at `index_offset`) against the header.
/// Errors: `errc::checksum_mismatch`, `errc::bad_offsets`, `errc::bad_header`.
AUTOINTERP_DECL result<std::vector<native_index_entry>> decode_native_index(std::span<std::byte const> bytes,
                                                                            native_header const& h,
                                                                            std::string_view file);

/// Compresses one latent's activations (sorted by (row, position), values exactly representable in
/// `a.dtype`). Errors: `errc::bad_option` for unsorted input or a value not representable in the dtype.
AUTOINTERP_DECL result<native_block> encode_native_block(latent_activations const& a, int zstd_level = 3);

/// Decompresses and checks one block (checksum, size, order, ranges, count and maximum).
/// Appends to `out`. Errors: `errc::checksum_mismatch`, `errc::corrupt_zstd`, `errc::bad_shape`.
AUTOINTERP_DECL result<void> decode_native_block(std::span<std::byte const> compressed, native_index_entry const& e,
                                                 native_header const& h, std::uint32_t latent,
                                                 latent_activations& out, std::string_view file);

/// Reads a native file: the header and index at open, then one block per latent on demand with a
/// positioned read (no mapping, so only the latent's own bytes are read). Cheap to copy; all const
/// members are thread-safe.
class native_shard {
 public:
  /// Opens and validates header and index. Errors: those of the decode functions above, plus
  /// `errc::file_not_found`, `errc::unreadable_file`.
  static AUTOINTERP_DECL result<native_shard> open(std::filesystem::path const& path);
  /// The same over bytes in memory (tests, fuzzing); `bytes` must outlive the result.
  static AUTOINTERP_DECL result<native_shard> from_memory(std::span<std::byte const> bytes, std::string name);

  native_header const& header() const noexcept { return header_; }
  std::span<native_index_entry const> index() const noexcept { return *index_; }
  std::string const& name() const noexcept { return source_->name; }

  /// Reads latent `latent` (absolute index). Errors: `errc::latent_out_of_range`, block errors,
  /// read errors. A latent that never fires gives empty activations.
  AUTOINTERP_DECL result<latent_activations> read_latent(std::uint32_t latent, std::string module = {}) const;
  /// Reads the token matrix. Errors: `errc::tokens_missing` when the file has none, checksum/zstd errors.
  AUTOINTERP_DECL result<token_matrix> read_tokens() const;
  /// Bytes read from the file so far (header, index and blocks), for benchmarks.
  std::uint64_t bytes_read() const noexcept { return source_->bytes_read.load(std::memory_order_relaxed); }

 private:
  struct source {
    std::string name;
    detail::unique_fd fd;
    std::span<std::byte const> memory;
    std::uint64_t size = 0;
    mutable std::atomic<std::uint64_t> bytes_read{0};
    AUTOINTERP_DECL result<void> read_at(std::uint64_t offset, std::span<std::byte> out) const;
  };
  static AUTOINTERP_DECL result<native_shard> load(std::shared_ptr<source> src);

  std::shared_ptr<source> source_;
  native_header header_;
  std::shared_ptr<std::vector<native_index_entry> const> index_;
};

/// Writes a native file: blocks in latent order, then tokens, index and header; the file appears
/// at `path` only when `finish()` succeeds (written under a temporary name, then renamed).
/// Not thread-safe.
class native_shard_writer {
 public:
  /// `meta` supplies first_latent, latent_count, ctx_len, rows and dtype; the rest is computed.
  static AUTOINTERP_DECL result<native_shard_writer> create(std::filesystem::path const& path, native_header meta);
  /// Appends the next latent's block (latents are added in order, `latent_count` in all).
  AUTOINTERP_DECL result<void> add(native_block const& block);
  /// Stores the token matrix (optional; at most once).
  AUTOINTERP_DECL result<void> set_tokens(token_matrix const& tokens, int zstd_level = 3);
  /// Writes index and header and renames the file into place. Errors: `errc::write_failed`,
  /// `errc::bad_option` when not every latent was added.
  AUTOINTERP_DECL result<void> finish();
  std::uint64_t bytes_written() const noexcept { return file_.end(); }

 private:
  std::filesystem::path path_;
  detail::atomic_file file_;
  native_header header_;
  std::vector<native_index_entry> index_;
};

}  // namespace autointerp::cache

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/cache/impl/native_format.ipp>
#endif
