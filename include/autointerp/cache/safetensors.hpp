#pragma once
// Reading safetensors files: an 8-byte little-endian header length, a JSON header
// `{name: {dtype, shape, data_offsets}}` (plus optional `__metadata__`), then the tensor bytes.
// Files are untrusted: every length, offset, shape and dtype is checked against the file.

#include <autointerp/cache/detail/file_io.hpp>
#include <autointerp/config.hpp>
#include <autointerp/error.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace autointerp::cache {

static_assert(std::endian::native == std::endian::little, "autointerp reads little-endian files on little-endian hosts only");

/// Element types of safetensors tensors.
enum class tensor_dtype : std::uint8_t { boolean, u8, i8, f8_e5m2, f8_e4m3, i16, u16, f16, bf16, i32, u32, f32, f64, i64, u64 };

/// Bytes per element.
constexpr std::size_t dtype_size(tensor_dtype t) noexcept {
  switch (t) {
    case tensor_dtype::boolean:
    case tensor_dtype::u8:
    case tensor_dtype::i8:
    case tensor_dtype::f8_e5m2:
    case tensor_dtype::f8_e4m3: return 1;
    case tensor_dtype::i16:
    case tensor_dtype::u16:
    case tensor_dtype::f16:
    case tensor_dtype::bf16: return 2;
    case tensor_dtype::i32:
    case tensor_dtype::u32:
    case tensor_dtype::f32: return 4;
    case tensor_dtype::f64:
    case tensor_dtype::i64:
    case tensor_dtype::u64: return 8;
  }
  return 1;
}

/// The name safetensors uses for the dtype ("F16", "U32", ...).
AUTOINTERP_DECL std::string_view dtype_name(tensor_dtype t) noexcept;

/// One tensor of the header. `begin`/`end` are byte offsets relative to the start of the data
/// section (that is, after the header).
struct tensor_info {
  std::string name;
  tensor_dtype dtype = tensor_dtype::u8;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;

  std::uint64_t elements() const noexcept {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;  // checked against `end - begin` by the parser, so no overflow
    return n;
  }
  /// "name [12039,3] U16", for messages.
  AUTOINTERP_DECL std::string describe() const;
};

/// A validated safetensors header.
struct safetensors_header {
  std::uint64_t data_start = 0;  ///< 8 + JSON length: file offset of the data section
  std::uint64_t data_size = 0;   ///< bytes of tensor data the header describes (largest end offset)
  std::vector<tensor_info> tensors;

  std::uint64_t file_size() const noexcept { return data_start + data_size; }
  tensor_info const* find(std::string_view name) const noexcept {
    for (auto const& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
};

/// Largest JSON header we accept (the reference implementation's limit).
inline constexpr std::uint64_t max_safetensors_header = 100ull << 20;

/// Decodes the 8-byte length prefix. `file_size` (0 if unknown, e.g. inside a zstd stream) bounds it.
/// Errors: `errc::bad_header` naming `file`.
AUTOINTERP_DECL result<std::uint64_t> parse_safetensors_length(std::span<std::byte const> prefix,
                                                               std::uint64_t file_size, std::string_view file);

/// Parses and validates the JSON header (`json` is the text after the prefix; `data_start` is its
/// end in the file). Errors: `errc::bad_header` (not JSON, wrong structure, unknown dtype),
/// `errc::bad_shape` (shape disagrees with the byte range), `errc::bad_offsets` (reversed or
/// overlapping ranges). Messages name `file` and the tensor.
AUTOINTERP_DECL result<safetensors_header> parse_safetensors_json(std::string_view json, std::uint64_t data_start,
                                                                  std::string_view file);

/// Parses a whole file held in memory and checks its size matches the header exactly.
/// Errors as above plus `errc::bad_offsets` when tensors extend past the end or bytes follow them.
AUTOINTERP_DECL result<safetensors_header> parse_safetensors(std::span<std::byte const> bytes, std::string_view file);

/// The bytes of `t` inside a whole file `bytes` whose header `h` was validated against it.
inline std::span<std::byte const> tensor_bytes(std::span<std::byte const> bytes, safetensors_header const& h,
                                               tensor_info const& t) noexcept {
  return bytes.subspan(static_cast<std::size_t>(h.data_start + t.begin), static_cast<std::size_t>(t.end - t.begin));
}

/// A whole safetensors file in memory: mapped (plain files) or decompressed (`.zst`).
class safetensors_file {
 public:
  /// Opens `path`; a name ending in `.zst` is decompressed with streaming zstd, refusing more than
  /// `max_bytes` of decompressed data. Errors: `errc::file_not_found`, `errc::unreadable_file`,
  /// `errc::corrupt_zstd`, `errc::memory_budget`, and every header error above. Thread-safe to
  /// call; the returned object is immutable.
  static AUTOINTERP_DECL result<safetensors_file> open(std::filesystem::path const& path,
                                                       std::uint64_t max_bytes = ~std::uint64_t{0});

  /// Takes a whole file already in memory (tests, fuzzing, data from elsewhere); `name` is used in
  /// messages. Errors: those of `parse_safetensors`.
  static AUTOINTERP_DECL result<safetensors_file> from_bytes(std::vector<std::byte> bytes, std::filesystem::path name);

  /// Reads only the header (the first bytes of the file, or of the decompressed stream).
  static AUTOINTERP_DECL result<safetensors_header> read_header(std::filesystem::path const& path);

  std::span<std::byte const> bytes() const noexcept {
    if (auto const* m = std::get_if<detail::mapped_file>(&storage_)) return m->bytes();
    return std::get<std::vector<std::byte>>(storage_);
  }
  safetensors_header const& header() const noexcept { return header_; }
  std::filesystem::path const& path() const noexcept { return path_; }
  std::span<std::byte const> tensor(tensor_info const& t) const noexcept { return tensor_bytes(bytes(), header_, t); }

 private:
  std::filesystem::path path_;
  std::variant<detail::mapped_file, std::vector<std::byte>> storage_;
  safetensors_header header_;
};

/// True if `path` names a zstd-compressed file (by its `.zst` suffix).
inline bool is_zstd_path(std::filesystem::path const& path) { return path.extension() == ".zst"; }

namespace detail {
template <class T>
T load_le(std::byte const* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

/// IEEE half to float, exact (subnormals, infinities and NaN included).
inline float half_to_float(std::uint16_t h) noexcept {
  std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | std::uint32_t(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  return std::bit_cast<float>(bits);
}

/// Float to half for values exactly representable as half (callers check the round trip).
inline std::uint16_t float_to_half_exact(float f) noexcept {
  auto bits = std::bit_cast<std::uint32_t>(f);
  auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  std::uint32_t exp = (bits >> 23) & 0xffu, mant = bits & 0x7fffffu;
  if (exp == 0xff) return static_cast<std::uint16_t>(sign | 0x7c00u | (mant ? 0x200u | (mant >> 13) : 0u));
  if (exp == 0) return sign;
  int e = int(exp) - 127 + 15;
  if (e >= 31) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    std::uint32_t shift = 126 - exp;
    return static_cast<std::uint16_t>(sign | (shift < 32 ? (mant | 0x800000u) >> shift : 0u));
  }
  return static_cast<std::uint16_t>(sign | std::uint32_t(e) << 10 | (mant >> 13));
}

inline float bf16_to_float(std::uint16_t b) noexcept { return std::bit_cast<float>(std::uint32_t(b) << 16); }
}  // namespace detail

}  // namespace autointerp::cache

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/cache/impl/safetensors.ipp>
#endif
