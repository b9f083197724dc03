#pragma once
// UTF-8 checks and the lossy conversion Hugging Face tokenizers applies (Rust's
// String::from_utf8_lossy): every maximal invalid subpart becomes one U+FFFD.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace autointerp::tokenizer::detail {

inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

/// Length of the valid UTF-8 sequence at `s[i]`, or 0 when none starts there. When it returns 0,
/// `*subpart` (if given) receives the length of the maximal subpart to replace with one U+FFFD
/// (at least 1), following the Unicode "best practice" that Rust implements.
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i, std::size_t* subpart = nullptr) noexcept {
  auto const b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char const lead = b(i);
  if (lead < 0x80) return 1;
  std::size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the first continuation byte
  if (lead >= 0xC2 && lead <= 0xDF) need = 1;
  else if (lead == 0xE0) need = 2, lo = 0xA0;
  else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) need = 2;
  else if (lead == 0xED) need = 2, hi = 0x9F;
  else if (lead == 0xF0) need = 3, lo = 0x90;
  else if (lead >= 0xF1 && lead <= 0xF3) need = 3;
  else if (lead == 0xF4) need = 3, hi = 0x8F;
  if (need == 0) {
    if (subpart) *subpart = 1;
    return 0;
  }
  std::size_t k = 1;
  for (; k <= need; ++k) {
    if (i + k >= s.size()) break;
    unsigned char const c = b(i + k);
    unsigned char const l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (c < l || c > h) break;
  }
  if (k == need + 1) return need + 1;
  if (subpart) *subpart = k;
  return 0;
}

/// True when `s` is well-formed UTF-8.
inline bool is_valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t const n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

/// Appends `bytes` to `out`, replacing each maximal invalid subpart with U+FFFD.
inline void append_utf8_lossy(std::string& out, std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size();) {
    std::size_t bad = 0;
    std::size_t const n = utf8_sequence_length(bytes, i, &bad);
    if (n != 0) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      out.append(replacement_character);
      i += bad;
    }
  }
}

/// The code point of the one-character UTF-8 string `s`, or -1 when `s` is not exactly one
/// well-formed character.
inline std::int32_t single_code_point(std::string_view s) noexcept {
  if (s.empty()) return -1;
  std::size_t const n = utf8_sequence_length(s, 0);
  if (n == 0 || n != s.size()) return -1;
  auto const b = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[k])); };
  switch (n) {
    case 1: return static_cast<std::int32_t>(b(0));
    case 2: return static_cast<std::int32_t>(((b(0) & 0x1F) << 6) | (b(1) & 0x3F));
    case 3: return static_cast<std::int32_t>(((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F));
    default:
      return static_cast<std::int32_t>(((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) |
                                       (b(3) & 0x3F));
  }
}

/// Appends the UTF-8 encoding of code point `cp` (< 0x110000, not a surrogate).
inline void append_code_point(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace autointerp::tokenizer::detail
