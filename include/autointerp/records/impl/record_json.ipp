#pragma once
// Out-of-line parts of record_json.hpp.

#include <autointerp/records/record_json.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string_view>

namespace autointerp::records {

namespace detail {

AUTOINTERP_DECL void append_python_float(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
  auto epos = sci.find('e');
  int exp = 0;
  std::from_chars(sci.data() + epos + 1 + (sci[epos + 1] == '+'), sci.data() + sci.size(), exp);
  if (exp < -4 || exp >= 16) {
    out += sci;  // d.ddde-XX, as Python writes it
    return;
  }
  bool neg = sci.front() == '-';
  std::string digits;
  for (char c : sci.substr(neg ? 1 : 0, epos - (neg ? 1 : 0)))
    if (c != '.') digits += c;
  if (neg) out += '-';
  if (exp >= 0) {
    auto int_len = static_cast<std::size_t>(exp) + 1;
    if (digits.size() <= int_len) {
      out += digits;
      out.append(int_len - digits.size(), '0');
      out += ".0";
    } else {
      out.append(digits, 0, int_len);
      out += '.';
      out.append(digits, int_len, std::string::npos);
    }
  } else {
    out += "0.";
    out.append(static_cast<std::size_t>(-exp - 1), '0');
    out += digits;
  }
}

AUTOINTERP_DECL void append_rounded4(std::string& out, double v) {
  if (v == 0.0) {
    out += std::signbit(v) ? "-0.0" : "0.0";
    return;
  }
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  if (std::fabs(v) >= 1e11) {
    // Doubles are sparser than 1e-4 here: print the double nearest the rounded decimal, as
    // Python's repr(round(v, 4)) does.
    char buf[400];
    auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 4);
    double r = v;
    std::from_chars(buf, res.ptr, r);
    append_python_float(out, r);
    return;
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 4);
  std::string_view s(buf, static_cast<std::size_t>(res.ptr - buf));
  while (s.size() > 2 && s.back() == '0' && s[s.size() - 2] != '.') s.remove_suffix(1);
  out += s;
}

AUTOINTERP_DECL void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  auto escape = [&](std::uint32_t cp) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += hex[(cp >> shift) & 0xf];
  };
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20) escape(c);
          else out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // Decode one UTF-8 sequence; anything malformed becomes U+FFFD for one byte.
    std::uint32_t cp = 0xfffd;
    std::size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (n > 1 && i + n <= s.size() && c < 0xf5) {
      std::uint32_t v = c & (0x7f >> n);
      bool ok = true;
      for (std::size_t k = 1; k < n; ++k) {
        auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xc0) != 0x80) ok = false;
        v = (v << 6) | (cc & 0x3f);
      }
      std::uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
      if (ok && v >= min && v <= 0x10ffff && !(v >= 0xd800 && v <= 0xdfff)) cp = v;
      else n = 1;
    } else {
      n = 1;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      escape(0xd800 + (cp >> 10));
      escape(0xdc00 + (cp & 0x3ff));
    } else {
      escape(cp);
    }
    i += n;
  }
  out += '"';
}

inline void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

inline void append_example(std::string& out, activating_example const& ex) {
  out += "{\"tokens\": [";
  for (std::size_t i = 0; i < ex.tokens.size(); ++i) {
    if (i) out += ", ";
    append_uint(out, ex.tokens[i]);
  }
  out += ']';
  if (!ex.str_tokens.empty()) {
    out += ", \"str_tokens\": [";
    for (std::size_t i = 0; i < ex.str_tokens.size(); ++i) {
      if (i) out += ", ";
      append_json_string(out, ex.str_tokens[i]);
    }
    out += ']';
  }
  out += ", \"activations\": [";
  for (std::size_t i = 0; i < ex.activations.size(); ++i) {
    if (i) out += ", ";
    append_rounded4(out, ex.activations[i]);
  }
  out += "], \"normalized\": [";
  for (std::size_t i = 0; i < ex.levels.size(); ++i) {
    if (i) out += ", ";
    append_uint(out, ex.levels[i]);
  }
  out += "], \"quantile\": ";
  append_uint(out, ex.quantile);
  out += '}';
}

}  // namespace detail

AUTOINTERP_DECL void append_json_line(std::string& out, latent_record const& r) {
  out += "{\"module\": ";
  detail::append_json_string(out, r.latent.module);
  out += ", \"latent\": ";
  detail::append_uint(out, r.latent.index);
  out += ", \"n_examples\": ";
  detail::append_uint(out, r.n_examples);
  out += ", \"per_token_frequency\": ";
  detail::append_python_float(out, r.per_token_frequency);
  out += ", \"per_context_frequency\": ";
  detail::append_python_float(out, r.per_context_frequency);
  out += ", \"examples_max_activation\": [";
  for (std::size_t i = 0; i < r.examples_max_activation.size(); ++i) {
    if (i) out += ", ";
    detail::append_rounded4(out, r.examples_max_activation[i]);
  }
  out += "], \"train\": [";
  for (std::size_t i = 0; i < r.train.size(); ++i) {
    if (i) out += ", ";
    detail::append_example(out, r.train[i]);
  }
  out += "], \"test\": [";
  for (std::size_t i = 0; i < r.test.size(); ++i) {
    if (i) out += ", ";
    detail::append_example(out, r.test[i]);
  }
  out += "], \"non_activating\": [";
  for (std::size_t i = 0; i < r.non_activating.size(); ++i) {
    if (i) out += ", ";
    out += '[';
    auto const& toks = r.non_activating[i].tokens;
    for (std::size_t k = 0; k < toks.size(); ++k) {
      if (k) out += ", ";
      detail::append_uint(out, toks[k]);
    }
    out += ']';
  }
  out += "]}\n";
}

}  // namespace autointerp::records
