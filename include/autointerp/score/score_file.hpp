#pragma once
// Score files: one latent's scored samples as delphi's JSON list, written and read back.
//
// A score file (`scores/<scorer>/<module>_latent<i>.txt`) is a JSON list with one object per
// sample, in prompt order. delphi's fields: "str_tokens", "activations", "distance", "activating",
// "prediction" (bool or null), "probability" (number or null), "correct" (bool or null); ours,
// which delphi's reader ignores: "highlighted" (token indices shown between << >>) and "batch"
// (the 0-based prompt number).

#include <autointerp/detail/json_number.hpp>
#include <autointerp/error.hpp>
#include <autointerp/records/record_json.hpp>
#include <autointerp/score/score_sample.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace autointerp::score {

namespace detail {

inline void append_json_float(std::string& out, float v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back as the same float
  std::string_view s(buf, static_cast<std::size_t>(res.ptr - buf));
  out += s;
  if (s.find_first_of(".e") == std::string_view::npos) out += ".0";  // a float, as Python would write it
}

inline void append_json_number(std::string& out, double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(v));
    out.append(buf, res.ptr);
    return;
  }
  records::detail::append_python_float(out, v);  // null when not finite
}

inline void append_optional_bool(std::string& out, std::optional<bool> b) {
  out += !b ? "null" : *b ? "true" : "false";
}

}  // namespace detail

/// `samples` as a score file: a JSON list, one object per line, keys in the order of the file
/// comment above. Activations are written in their shortest float form; integral distances as
/// integers; non-finite numbers as null; strings escaped to ASCII (invalid UTF-8 becomes U+FFFD),
/// so Python's and orjson's readers accept every file. Ends with a newline. Pure, thread-safe.
inline std::string to_score_file(std::span<score_sample const> samples) {
  std::string out = "[";
  for (std::size_t i = 0; i < samples.size(); ++i) {
    auto const& s = samples[i];
    out += i ? ",\n{" : "\n{";
    out += "\"str_tokens\":[";
    for (std::size_t k = 0; k < s.str_tokens.size(); ++k) {
      if (k) out += ',';
      records::detail::append_json_string(out, s.str_tokens[k]);
    }
    out += "],\"activations\":[";
    for (std::size_t k = 0; k < s.activations.size(); ++k) {
      if (k) out += ',';
      detail::append_json_float(out, s.activations[k]);
    }
    out += "],\"distance\":";
    detail::append_json_number(out, s.distance);
    out += ",\"activating\":";
    out += s.activating ? "true" : "false";
    out += ",\"prediction\":";
    detail::append_optional_bool(out, s.prediction);
    out += ",\"probability\":";
    if (s.probability) records::detail::append_python_float(out, *s.probability);
    else out += "null";
    out += ",\"correct\":";
    detail::append_optional_bool(out, s.correct());
    out += ",\"highlighted\":[";
    for (std::size_t k = 0; k < s.highlighted.size(); ++k) {
      if (k) out += ',';
      out += std::to_string(s.highlighted[k]);
    }
    out += "],\"batch\":" + std::to_string(s.batch) + "}";
  }
  out += samples.empty() ? "]\n" : "\n]\n";
  return out;
}

namespace detail {

inline std::optional<std::uint64_t> count_of(boost::json::value const& v) {
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  if (v.is_uint64()) return v.get_uint64();
  return std::nullopt;
}

}  // namespace detail

/// Reads a score file written by `to_score_file` or by delphi (which lacks "highlighted" and
/// "batch"; those then stay empty and 0). Only "activating" is required; a missing "str_tokens",
/// "activations" or "distance" reads as empty or 0 (delphi's simulation files lack str_tokens), a
/// missing "prediction" or "probability" as null. "prediction" may also be 0/1. "correct" is not
/// read: it follows from prediction and activating. `tokens` stay empty; `quantile` is the distance
/// of activating samples when it is a whole number in range. `where` (a path, say) starts every
/// error message.
///
/// Input is untrusted: errors, never crashes. Error `errc::bad_score_file` when the text is not
/// JSON (with the parser's message in `remote`), not a list, or a sample or field has the wrong
/// type, naming the sample's index and the field. Pure, thread-safe.
inline result<std::vector<score_sample>> parse_score_file(std::string_view text, std::string_view where = "score file") {
  namespace json = boost::json;
  auto fail = [&](std::string what) { return make_error(errc::bad_score_file, std::string(where) + ": " + what); };
  boost::system::error_code ec;
  json::value const doc = json::parse(text, ec);
  if (ec) return make_error(errc::bad_score_file, std::string(where) + ": not valid JSON", ec.message());
  auto const* list = doc.if_array();
  if (!list) return fail("expected a JSON list of samples");
  std::vector<score_sample> out;
  out.reserve(list->size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    std::string const at = "sample " + std::to_string(i) + ": ";
    auto const* o = (*list)[i].if_object();
    if (!o) return fail(at + "expected an object");
    score_sample s;
    auto const* activating = o->if_contains("activating");
    if (!activating || !activating->is_bool()) return fail(at + "\"activating\" must be true or false");
    s.activating = activating->get_bool();
    if (auto const* v = o->if_contains("str_tokens"); v && !v->is_null()) {
      auto const* a = v->if_array();
      if (!a) return fail(at + "\"str_tokens\" must be a list of strings");
      for (auto const& t : *a) {
        if (!t.is_string()) return fail(at + "\"str_tokens\" must be a list of strings");
        s.str_tokens.emplace_back(t.get_string());
      }
    }
    if (auto const* v = o->if_contains("activations"); v && !v->is_null()) {
      auto const* a = v->if_array();
      if (!a) return fail(at + "\"activations\" must be a list of numbers");
      for (auto const& x : *a) {
        if (x.is_null()) {  // orjson writes NaN as null
          s.activations.push_back(std::numeric_limits<float>::quiet_NaN());
          continue;
        }
        auto n = detail::finite_number(x);
        if (!n) return fail(at + "\"activations\" must be a list of numbers");
        s.activations.push_back(static_cast<float>(*n));
      }
    }
    if (auto const* v = o->if_contains("distance"); v && !v->is_null()) {
      auto n = detail::finite_number(*v);
      if (!n) return fail(at + "\"distance\" must be a number");
      s.distance = *n;
    }
    if (auto const* v = o->if_contains("prediction"); v && !v->is_null()) {
      if (v->is_bool()) s.prediction = v->get_bool();
      else if (auto c = detail::count_of(*v); c && *c <= 1) s.prediction = *c == 1;
      else return fail(at + "\"prediction\" must be true, false or null");
    }
    if (auto const* v = o->if_contains("probability"); v && !v->is_null()) {
      auto n = detail::finite_number(*v);
      if (!n) return fail(at + "\"probability\" must be a number or null");
      s.probability = *n;
    }
    if (auto const* v = o->if_contains("highlighted"); v && !v->is_null()) {
      auto const* a = v->if_array();
      if (!a) return fail(at + "\"highlighted\" must be a list of token indices");
      for (auto const& x : *a) {
        auto c = detail::count_of(x);
        if (!c || *c > std::numeric_limits<std::uint32_t>::max())
          return fail(at + "\"highlighted\" must be a list of token indices");
        s.highlighted.push_back(static_cast<std::uint32_t>(*c));
      }
    }
    if (auto const* v = o->if_contains("batch"); v && !v->is_null()) {
      auto c = detail::count_of(*v);
      if (!c) return fail(at + "\"batch\" must be a non-negative integer");
      s.batch = static_cast<std::size_t>(*c);
    }
    if (s.activating && s.distance >= 0 && s.distance <= 4294967295.0 && s.distance == std::floor(s.distance))
      s.quantile = static_cast<std::uint32_t>(s.distance);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace autointerp::score
