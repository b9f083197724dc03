#pragma once
// Out-of-line parts of neighbour_file.hpp.

#include <autointerp/neighbours/neighbour_file.hpp>
#include <autointerp/pipeline/atomic_file.hpp>
#include <autointerp/records/non_activating.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <system_error>

namespace autointerp::neighbours {

AUTOINTERP_DECL std::string python_float_repr(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  // Shortest round-trip digits in scientific form: [-]d[.ddd]e[+-]xx.
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(r.ptr - buf));
  std::string sign;
  if (sci.front() == '-') {
    sign = "-";
    sci.remove_prefix(1);
  }
  auto e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e))
    if (c != '.') digits += c;
  int const exp = std::atoi(std::string(sci.substr(e + 1)).c_str());
  if (v == 0) return sign + "0.0";
  if (exp < -4 || exp >= 16) {
    std::string m = digits.substr(0, 1);
    if (digits.size() > 1) m += "." + digits.substr(1);
    std::string ex = std::to_string(std::abs(exp));
    if (ex.size() < 2) ex = "0" + ex;
    return sign + m + "e" + (exp < 0 ? "-" : "+") + ex;
  }
  std::string s;
  if (exp < 0) {
    s = "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
  } else {
    auto const point = static_cast<std::size_t>(exp) + 1;
    if (digits.size() <= point) s = digits + std::string(point - digits.size(), '0') + ".0";
    else s = digits.substr(0, point) + "." + digits.substr(point);
  }
  return sign + s;
}

AUTOINTERP_DECL std::string format_neighbour_json(neighbour_lists const& lists) {
  std::string out;
  out.reserve(lists.lists.size() * 16);
  out += '{';
  char num[16];
  for (std::size_t l = 0; l < lists.lists.size(); ++l) {
    if (l) out += ", ";
    out += '"';
    out.append(num, static_cast<std::size_t>(std::to_chars(num, num + sizeof num, l).ptr - num));
    out += "\": [";
    bool first = true;
    for (auto const& e : lists.lists[l]) {
      if (!first) out += ", ";
      first = false;
      out += '[';
      out += python_float_repr(static_cast<double>(e.score));
      out += ", ";
      out.append(num, static_cast<std::size_t>(std::to_chars(num, num + sizeof num, e.latent).ptr - num));
      out += ']';
    }
    out += ']';
  }
  out += '}';
  return out;
}

AUTOINTERP_DECL std::filesystem::path neighbour_file_path(std::filesystem::path const& dir, std::string const& module,
                                                          method m) {
  return records::neighbour_file(dir, module, std::string(file_type(m)));
}

AUTOINTERP_DECL result<std::filesystem::path> write_neighbour_file(std::filesystem::path const& dir,
                                                                   std::string const& module, method m,
                                                                   neighbour_lists const& lists) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(errc::write_failed, dir.string() + ": cannot create the output folder: " + ec.message());
  auto path = neighbour_file_path(dir, module, m);
  if (auto r = pipeline::write_file_atomically(path, format_neighbour_json(lists)); !r) return r.error();
  return path;
}

}  // namespace autointerp::neighbours
