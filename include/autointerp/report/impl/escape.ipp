#pragma once
// Out-of-line part of report/escape.hpp.

#include <autointerp/report/escape.hpp>

#include <cstdint>

namespace autointerp::report {

namespace detail {

inline void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Calls fn(code_point) for each character of `text`, with U+FFFD for ill-formed parts (WHATWG).
template <class Fn>
void for_each_code_point(std::string_view text, Fn&& fn) {
  unsigned needed = 0, seen = 0;
  std::uint32_t cp = 0;
  unsigned char lower = 0x80, upper = 0xBF;
  for (std::size_t i = 0; i < text.size();) {
    auto b = static_cast<unsigned char>(text[i]);
    if (needed == 0) {
      ++i;
      if (b <= 0x7F) {
        fn(std::uint32_t{b});
      } else if (b >= 0xC2 && b <= 0xDF) {
        needed = 1;
        cp = b & 0x1F;
      } else if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0) lower = 0xA0;
        if (b == 0xED) upper = 0x9F;  // no surrogates
        needed = 2;
        cp = b & 0x0F;
      } else if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0) lower = 0x90;
        if (b == 0xF4) upper = 0x8F;  // nothing past U+10FFFF
        needed = 3;
        cp = b & 0x07;
      } else {
        fn(std::uint32_t{0xFFFD});
      }
      continue;
    }
    if (b < lower || b > upper) {
      // The sequence broke off: one U+FFFD for it, and this byte starts afresh (not consumed).
      needed = seen = 0;
      cp = 0;
      lower = 0x80;
      upper = 0xBF;
      fn(std::uint32_t{0xFFFD});
      continue;
    }
    ++i;
    lower = 0x80;
    upper = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
    if (++seen == needed) {
      fn(cp);
      needed = seen = 0;
      cp = 0;
    }
  }
  if (needed != 0) fn(std::uint32_t{0xFFFD});
}

inline bool is_bidi_control(std::uint32_t cp) noexcept {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F ||
         cp == 0x061C;
}

}  // namespace detail

AUTOINTERP_DECL std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  detail::for_each_code_point(text, [&](std::uint32_t cp) { detail::append_utf8(out, cp); });
  return out;
}

AUTOINTERP_DECL std::string visible_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  detail::for_each_code_point(text, [&](std::uint32_t cp) {
    if (cp == '\n' || cp == 0x2028 || cp == 0x2029) cp = 0x21B5;
    else if (cp == '\t') cp = 0x21E5;
    else if (cp < 0x20) cp = 0x2400 + cp;
    else if (cp == 0x7F) cp = 0x2421;
    else if ((cp >= 0x80 && cp <= 0x9F) || detail::is_bidi_control(cp)) cp = 0xFFFD;
    detail::append_utf8(out, cp);
  });
  return out;
}

AUTOINTERP_DECL std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  detail::for_each_code_point(text, [&](std::uint32_t cp) {
    switch (cp) {
      case '&': out += "&amp;"; return;
      case '<': out += "&lt;"; return;
      case '>': out += "&gt;"; return;
      case '"': out += "&quot;"; return;
      case '\'': out += "&#39;"; return;
      case '\t': case '\n': case '\r': break;
      default:
        if (cp < 0x20 || cp == 0x7F) cp = 0xFFFD;
    }
    detail::append_utf8(out, cp);
  });
  return out;
}

AUTOINTERP_DECL void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  auto u_escape = [&](std::uint32_t cp) {
    out += "\\u";
    out += hex[(cp >> 12) & 0xF];
    out += hex[(cp >> 8) & 0xF];
    out += hex[(cp >> 4) & 0xF];
    out += hex[cp & 0xF];
  };
  out += '"';
  detail::for_each_code_point(text, [&](std::uint32_t cp) {
    switch (cp) {
      case '"': out += "\\\""; return;
      case '\\': out += "\\\\"; return;
      case '\n': out += "\\n"; return;
      case '\t': out += "\\t"; return;
      case '\r': out += "\\r"; return;
      case '<': case '>': case '&': case 0x2028: case 0x2029: u_escape(cp); return;
      default:
        if (cp < 0x20 || cp == 0x7F) return u_escape(cp);
        detail::append_utf8(out, cp);
    }
  });
  out += '"';
}

}  // namespace autointerp::report
