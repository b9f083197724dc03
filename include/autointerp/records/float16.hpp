#pragma once
// IEEE binary16 and bfloat16 rounding, so levels can be computed the way torch computes them on
// float16 / bfloat16 tensors: every elementwise op is done in float and rounded back to the
// storage type (round to nearest, ties to even).

#include <bit>
#include <cstdint>

namespace autointerp::records {

/// float -> binary16 bits, round to nearest even. Overflow gives infinity; NaN stays NaN (quiet).
constexpr std::uint16_t float_to_half_bits(float f) noexcept {
  std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  std::uint32_t exp = (x >> 23) & 0xffu;
  std::uint32_t man = x & 0x7fffffu;
  if (exp == 0xff) return static_cast<std::uint16_t>(sign | 0x7c00u | (man ? 0x200u : 0u));
  int e = static_cast<int>(exp) - 127 + 15;  // rebiased exponent
  if (e >= 0x1f) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    // Subnormal half (or zero): shift the full significand into place, rounding once.
    if (e < -10) return sign;  // below half the smallest subnormal: rounds to zero
    std::uint32_t sig = man | 0x800000u;
    unsigned shift = static_cast<unsigned>(14 - e);  // 24-bit significand -> 10 bits at e == 1
    std::uint32_t half = sig >> shift;
    std::uint32_t rem = sig & ((1u << shift) - 1u);
    std::uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return static_cast<std::uint16_t>(sign | half);
  }
  std::uint32_t half = (static_cast<std::uint32_t>(e) << 10) | (man >> 13);
  std::uint32_t rem = man & 0x1fffu;
  // A carry out of the mantissa correctly bumps the exponent (and reaches infinity at the top).
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;
  return static_cast<std::uint16_t>(sign | half);
}

/// binary16 bits -> float (exact).
constexpr float half_bits_to_float(std::uint16_t h) noexcept {
  std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t man = h & 0x3ffu;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {
    if (man == 0) return std::bit_cast<float>(sign);
    // Normalise the subnormal.
    int e = -1;
    do {
      man <<= 1;
      ++e;
    } while ((man & 0x400u) == 0);
    man &= 0x3ffu;
    return std::bit_cast<float>(sign | (static_cast<std::uint32_t>(127 - 15 - e) << 23) | (man << 13));
  }
  return std::bit_cast<float>(sign | ((exp + 127 - 15) << 23) | (man << 13));
}

/// `f` rounded to the nearest binary16 value, as a float.
constexpr float round_to_half(float f) noexcept { return half_bits_to_float(float_to_half_bits(f)); }

/// float -> bfloat16 bits, round to nearest even (NaN stays NaN).
constexpr std::uint16_t float_to_bfloat16_bits(float f) noexcept {
  std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu) != 0)
    return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  std::uint32_t lsb = (x >> 16) & 1u;
  x += 0x7fffu + lsb;
  return static_cast<std::uint16_t>(x >> 16);
}

/// bfloat16 bits -> float (exact).
constexpr float bfloat16_bits_to_float(std::uint16_t b) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

/// `f` rounded to the nearest bfloat16 value, as a float.
constexpr float round_to_bfloat16(float f) noexcept { return bfloat16_bits_to_float(float_to_bfloat16_bits(f)); }

}  // namespace autointerp::records
