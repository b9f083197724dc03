#pragma once
// Latent selections such as "0-9,17,100-199": the `--latents` syntax of the CLI.

#include <autointerp/error.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace autointerp::cache {

namespace detail {
inline std::string_view trim_spaces(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace detail

/// Parses a comma-separated list of latent indices and inclusive ranges ("0-9,17,100-199") for a
/// module of `width` latents. Returns the selected latents sorted ascending without duplicates.
///
/// Errors: `errc::bad_latent_spec` for empty input, an item that is not `N` or `N-M`, or a range
/// whose end is before its start; `errc::latent_out_of_range` for an index >= `width`. The message
/// quotes the offending item. Thread-safe (pure function).
inline result<std::vector<std::uint32_t>> parse_latent_spec(std::string_view spec, std::uint32_t width) {
  auto bad = [&](std::string_view item, std::string_view why) {
    return make_error(errc::bad_latent_spec, "latent selection \"" + std::string(spec) + "\": \"" +
                                                 std::string(item) + "\" " + std::string(why) +
                                                 " (write indices and inclusive ranges, e.g. 0-9,17,100-199)");
  };
  auto number = [](std::string_view s, std::uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && end == s.data() + s.size();
  };
  if (detail::trim_spaces(spec).empty()) return bad(spec, "is empty");
  std::vector<std::uint32_t> out;
  std::string_view rest = spec;
  while (true) {
    auto comma = rest.find(',');
    std::string_view item = detail::trim_spaces(rest.substr(0, comma));
    if (item.empty()) return bad(item, "is an empty item");
    std::uint64_t lo = 0, hi = 0;
    auto dash = item.find('-');
    if (dash == std::string_view::npos) {
      if (!number(item, lo)) return bad(item, "is not a number");
      hi = lo;
    } else {
      if (!number(detail::trim_spaces(item.substr(0, dash)), lo) ||
          !number(detail::trim_spaces(item.substr(dash + 1)), hi))
        return bad(item, "is not a range of two numbers");
      if (hi < lo) return bad(item, "ends before it starts");
    }
    if (hi >= width)
      return make_error(errc::latent_out_of_range,
                        "latent selection \"" + std::string(spec) + "\": " + std::to_string(hi) +
                            " is past the module's width " + std::to_string(width) +
                            (width ? " (latents are 0-" + std::to_string(width - 1) + ")" : std::string()));
    for (std::uint64_t i = lo; i <= hi; ++i) out.push_back(static_cast<std::uint32_t>(i));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace autointerp::cache
