#pragma once
// A JSON number read as a finite double. Boost.JSON 1.81 reads a zero mantissa with a huge
// exponent ("0e400") as NaN and an overflow ("1e400") as infinity; no file or server we read
// means either, so both count as "not a number" and reach the caller's error path.
#include <boost/json/value.hpp>

#include <cmath>
#include <optional>

namespace autointerp::detail {

inline std::optional<double> finite_number(boost::json::value const& v) noexcept {
  double d = 0;
  if (v.is_double()) d = v.get_double();
  else if (v.is_int64()) d = static_cast<double>(v.get_int64());
  else if (v.is_uint64()) d = static_cast<double>(v.get_uint64());
  else return std::nullopt;
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

}  // namespace autointerp::detail
