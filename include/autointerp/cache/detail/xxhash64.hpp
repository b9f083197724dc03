#pragma once
// XXH64 (Yann Collet's 64-bit xxHash), written from the published algorithm description. libzstd
// bundles xxhash but does not export it, so the native format carries its own implementation.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace autointerp::cache::detail {

class xxhash64 {
 public:
  /// XXH64 of `size` bytes at `data` with `seed`. Pure; thread-safe.
  static std::uint64_t hash(void const* data, std::size_t size, std::uint64_t seed = 0) noexcept {
    auto const* p = static_cast<unsigned char const*>(data);
    auto const* const end = p + size;
    std::uint64_t h;
    if (size >= 32) {
      std::uint64_t v1 = seed + p1 + p2, v2 = seed + p2, v3 = seed, v4 = seed - p1;
      auto const* const limit = end - 32;
      do {
        v1 = round(v1, read64(p));
        v2 = round(v2, read64(p + 8));
        v3 = round(v3, read64(p + 16));
        v4 = round(v4, read64(p + 24));
        p += 32;
      } while (p <= limit);
      h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
      h = merge(h, v1);
      h = merge(h, v2);
      h = merge(h, v3);
      h = merge(h, v4);
    } else {
      h = seed + p5;
    }
    h += static_cast<std::uint64_t>(size);
    while (end - p >= 8) {
      h ^= round(0, read64(p));
      h = rotl(h, 27) * p1 + p4;
      p += 8;
    }
    if (end - p >= 4) {
      h ^= static_cast<std::uint64_t>(read32(p)) * p1;
      h = rotl(h, 23) * p2 + p3;
      p += 4;
    }
    while (p < end) {
      h ^= static_cast<std::uint64_t>(*p) * p5;
      h = rotl(h, 11) * p1;
      ++p;
    }
    h ^= h >> 33;
    h *= p2;
    h ^= h >> 29;
    h *= p3;
    h ^= h >> 32;
    return h;
  }

 private:
  static constexpr std::uint64_t p1 = 0x9E3779B185EBCA87ULL;
  static constexpr std::uint64_t p2 = 0xC2B2AE3D27D4EB4FULL;
  static constexpr std::uint64_t p3 = 0x165667B19E3779F9ULL;
  static constexpr std::uint64_t p4 = 0x85EBCA77C2B2AE63ULL;
  static constexpr std::uint64_t p5 = 0x27D4EB2F165667C5ULL;

  static std::uint64_t rotl(std::uint64_t x, int r) noexcept { return (x << r) | (x >> (64 - r)); }
  // Byte-wise little-endian loads: correct on any host and for unaligned input.
  static std::uint64_t read64(unsigned char const* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  static std::uint32_t read32(unsigned char const* p) noexcept {
    return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
  }
  static std::uint64_t round(std::uint64_t acc, std::uint64_t input) noexcept {
    acc += input * p2;
    acc = rotl(acc, 31);
    return acc * p1;
  }
  static std::uint64_t merge(std::uint64_t acc, std::uint64_t v) noexcept {
    acc ^= round(0, v);
    return acc * p1 + p4;
  }
};

}  // namespace autointerp::cache::detail
