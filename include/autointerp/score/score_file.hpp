#pragma once
// Score files: one latent's scored samples as delphi's JSON list, written and read back.
//
// A score file (`scores/<scorer>/<module>_latent<i>.txt`) is a JSON list with one object per
// sample, in prompt order. Every sample has delphi's "str_tokens", "activations", "distance" and
// "activating". Detection and fuzz add delphi's "prediction" (bool or null), "probability" (number
// or null), "correct" (bool or null) and ours, which delphi's reader ignores: "highlighted" (token
// indices shown between << >>) and "batch" (the 0-based prompt number). Simulation, embedding and
// intruder files have their own fields (`to_simulation_file`, `to_embedding_file`,
// `to_intruder_file`); `score_file_text` and `parse_scored_file` pick the format by scorer name.

#include <autointerp/detail/json_number.hpp>
#include <autointerp/error.hpp>
#include <autointerp/records/record_json.hpp>
#include <autointerp/score/score_sample.hpp>
#include <autointerp/score/simulation_metrics.hpp>

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

namespace detail {

// "str_tokens", "activations", "distance" and "activating" of `s`, the fields every file shares.
inline void append_sample_fields(std::string& out, score_sample const& s) {
  out += "\"str_tokens\":[";
  for (std::size_t k = 0; k < s.str_tokens.size(); ++k) {
    if (k) out += ',';
    records::detail::append_json_string(out, s.str_tokens[k]);
  }
  out += "],\"activations\":[";
  for (std::size_t k = 0; k < s.activations.size(); ++k) {
    if (k) out += ',';
    append_json_float(out, s.activations[k]);
  }
  out += "],\"distance\":";
  append_json_number(out, s.distance);
  out += ",\"activating\":";
  out += s.activating ? "true" : "false";
}

inline void append_optional_number(std::string& out, std::optional<double> v) {
  if (v) records::detail::append_python_float(out, *v);  // null when not finite
  else out += "null";
}

inline void append_highlighted(std::string& out, std::span<std::uint32_t const> highlighted) {
  out += "\"highlighted\":[";
  for (std::size_t k = 0; k < highlighted.size(); ++k) {
    if (k) out += ',';
    out += std::to_string(highlighted[k]);
  }
  out += ']';
}

// A JSON list with one `item(out, i)` object per line.
template <class Item>
std::string json_lines_list(std::size_t n, Item item) {
  std::string out = "[";
  for (std::size_t i = 0; i < n; ++i) {
    out += i ? ",\n{" : "\n{";
    item(out, i);
    out += '}';
  }
  out += n == 0 ? "]\n" : "\n]\n";
  return out;
}

}  // namespace detail

/// `samples` as a detection or fuzz score file: a JSON list, one object per line, keys in the
/// order of the file comment above. Activations are written in their shortest float form;
/// integral distances as integers; non-finite numbers as null; strings escaped to ASCII (invalid
/// UTF-8 becomes U+FFFD), so Python's and orjson's readers accept every file. Ends with a
/// newline. Pure, thread-safe.
inline std::string to_score_file(std::span<score_sample const> samples) {
  return detail::json_lines_list(samples.size(), [&](std::string& out, std::size_t i) {
    auto const& s = samples[i];
    detail::append_sample_fields(out, s);
    out += ",\"prediction\":";
    detail::append_optional_bool(out, s.prediction);
    out += ",\"probability\":";
    detail::append_optional_number(out, s.probability);
    out += ",\"correct\":";
    detail::append_optional_bool(out, s.correct());
    out += ',';
    detail::append_highlighted(out, s.highlighted);
    out += ",\"batch\":" + std::to_string(s.batch);
  });
}

/// `samples` as a simulation score file: per sample the shared fields, then "true_levels" (0..10
/// per token), "predicted" (the simulated level per token, or null when no answer parsed),
/// "correlation" (of the two; null when undefined) and "batch". Pure.
inline std::string to_simulation_file(std::span<score_sample const> samples) {
  return detail::json_lines_list(samples.size(), [&](std::string& out, std::size_t i) {
    auto const& s = samples[i];
    detail::append_sample_fields(out, s);
    out += ",\"true_levels\":[";
    for (std::size_t k = 0; k < s.true_levels.size(); ++k) {
      if (k) out += ',';
      out += std::to_string(s.true_levels[k]);
    }
    out += "],\"predicted\":";
    if (s.simulated) {
      out += '[';
      for (std::size_t k = 0; k < s.simulated->size(); ++k) {
        if (k) out += ',';
        detail::append_json_number(out, (*s.simulated)[k]);
      }
      out += ']';
    } else {
      out += "null";
    }
    out += ",\"correlation\":";
    detail::append_optional_number(out, sample_correlation(s));
    out += ",\"batch\":" + std::to_string(s.batch);
  });
}

/// `samples` as an embedding score file: the shared fields, then "similarity" (or null). Pure.
inline std::string to_embedding_file(std::span<score_sample const> samples) {
  return detail::json_lines_list(samples.size(), [&](std::string& out, std::size_t i) {
    detail::append_sample_fields(out, samples[i]);
    out += ",\"similarity\":";
    detail::append_optional_number(out, samples[i].similarity);
  });
}

/// `trials` as an intruder score file: one object per prompt, "examples" (each with the shared
/// fields and "highlighted"), "intruder" (its 0-based position), "quantile", "prediction" (the
/// 0-based position named, or null) and "correct" (or null). Pure.
inline std::string to_intruder_file(std::span<intruder_trial const> trials) {
  return detail::json_lines_list(trials.size(), [&](std::string& out, std::size_t i) {
    auto const& t = trials[i];
    out += "\"examples\":[";
    for (std::size_t k = 0; k < t.examples.size(); ++k) {
      out += k ? ",{" : "{";
      detail::append_sample_fields(out, t.examples[k]);
      out += ',';
      detail::append_highlighted(out, t.examples[k].highlighted);
      out += '}';
    }
    out += "],\"intruder\":" + std::to_string(t.intruder) + ",\"quantile\":" + std::to_string(t.quantile) +
           ",\"prediction\":" + (t.prediction ? std::to_string(*t.prediction) : std::string("null")) + ",\"correct\":";
    detail::append_optional_bool(out, t.correct());
  });
}

namespace detail {

inline std::optional<std::uint64_t> count_of(boost::json::value const& v) {
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  if (v.is_uint64()) return v.get_uint64();
  return std::nullopt;
}

}  // namespace detail

namespace detail {

// Reads the fields of `o` that every file shares ("activating" required; "str_tokens",
// "activations", "distance", "highlighted", "batch" optional) into `s`; the problem, or empty.
inline std::string read_sample_fields(boost::json::object const& o, score_sample& s) {
  auto const* activating = o.if_contains("activating");
  if (!activating || !activating->is_bool()) return "\"activating\" must be true or false";
  s.activating = activating->get_bool();
  if (auto const* v = o.if_contains("str_tokens"); v && !v->is_null()) {
    auto const* a = v->if_array();
    if (!a) return "\"str_tokens\" must be a list of strings";
    for (auto const& t : *a) {
      if (!t.is_string()) return "\"str_tokens\" must be a list of strings";
      s.str_tokens.emplace_back(t.get_string());
    }
  }
  if (auto const* v = o.if_contains("activations"); v && !v->is_null()) {
    auto const* a = v->if_array();
    if (!a) return "\"activations\" must be a list of numbers";
    for (auto const& x : *a) {
      if (x.is_null()) {  // orjson writes NaN as null
        s.activations.push_back(std::numeric_limits<float>::quiet_NaN());
        continue;
      }
      auto n = autointerp::detail::finite_number(x);
      if (!n) return "\"activations\" must be a list of numbers";
      s.activations.push_back(static_cast<float>(*n));
    }
  }
  if (auto const* v = o.if_contains("distance"); v && !v->is_null()) {
    auto n = autointerp::detail::finite_number(*v);
    if (!n) return "\"distance\" must be a number";
    s.distance = *n;
  }
  if (auto const* v = o.if_contains("highlighted"); v && !v->is_null()) {
    auto const* a = v->if_array();
    if (!a) return "\"highlighted\" must be a list of token indices";
    for (auto const& x : *a) {
      auto c = count_of(x);
      if (!c || *c > std::numeric_limits<std::uint32_t>::max()) return "\"highlighted\" must be a list of token indices";
      s.highlighted.push_back(static_cast<std::uint32_t>(*c));
    }
  }
  if (auto const* v = o.if_contains("batch"); v && !v->is_null()) {
    auto c = count_of(*v);
    if (!c) return "\"batch\" must be a non-negative integer";
    s.batch = static_cast<std::size_t>(*c);
  }
  if (s.activating && s.distance >= 0 && s.distance <= 4294967295.0 && s.distance == std::floor(s.distance))
    s.quantile = static_cast<std::uint32_t>(s.distance);
  return {};
}

// An optional finite number field: true and `out` set (or left null) when fine.
inline bool read_optional_number(boost::json::object const& o, std::string_view key, std::optional<double>& out) {
  auto const* v = o.if_contains(key);
  if (!v || v->is_null()) return true;
  out = autointerp::detail::finite_number(*v);
  return out.has_value();
}

// Parses `text` as a JSON list and calls `item(object, "sample i: ")` for each entry, which
// returns the problem or empty. Errors name `where`.
template <class Item>
result<void> read_json_list(std::string_view text, std::string_view where, char const* entry, Item item) {
  auto fail = [&](std::string what) { return make_error(errc::bad_score_file, std::string(where) + ": " + what); };
  boost::system::error_code ec;
  boost::json::value const doc = boost::json::parse(text, ec);
  if (ec) return make_error(errc::bad_score_file, std::string(where) + ": not valid JSON", ec.message());
  auto const* list = doc.if_array();
  if (!list) return fail(std::string("expected a JSON list of ") + entry + "s");
  for (std::size_t i = 0; i < list->size(); ++i) {
    std::string const at = std::string(entry) + " " + std::to_string(i) + ": ";
    auto const* o = (*list)[i].if_object();
    if (!o) return fail(at + "expected an object");
    if (auto problem = item(*o); !problem.empty()) return fail(at + problem);
  }
  return {};
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
  std::vector<score_sample> out;
  auto ok = detail::read_json_list(text, where, "sample", [&](boost::json::object const& o) -> std::string {
    score_sample s;
    if (auto problem = detail::read_sample_fields(o, s); !problem.empty()) return problem;
    if (auto const* v = o.if_contains("prediction"); v && !v->is_null()) {
      if (v->is_bool()) s.prediction = v->get_bool();
      else if (auto c = detail::count_of(*v); c && *c <= 1) s.prediction = *c == 1;
      else return "\"prediction\" must be true, false or null";
    }
    if (!detail::read_optional_number(o, "probability", s.probability)) return "\"probability\" must be a number or null";
    out.push_back(std::move(s));
    return {};
  });
  if (!ok) return ok.error();
  return out;
}

/// Reads a simulation score file (`to_simulation_file`): the shared fields, "true_levels" (a list
/// of integers 0..10; optional), "predicted" (a list of numbers or null). "correlation" is not read:
/// it follows from the two. Errors as `parse_score_file`. Pure.
inline result<std::vector<score_sample>> parse_simulation_file(std::string_view text, std::string_view where = "score file") {
  std::vector<score_sample> out;
  auto ok = detail::read_json_list(text, where, "sample", [&](boost::json::object const& o) -> std::string {
    score_sample s;
    if (auto problem = detail::read_sample_fields(o, s); !problem.empty()) return problem;
    if (auto const* v = o.if_contains("true_levels"); v && !v->is_null()) {
      auto const* a = v->if_array();
      if (!a) return "\"true_levels\" must be a list of integers 0..10";
      for (auto const& x : *a) {
        auto c = detail::count_of(x);
        if (!c || *c > 10) return "\"true_levels\" must be a list of integers 0..10";
        s.true_levels.push_back(static_cast<std::uint8_t>(*c));
      }
    }
    if (auto const* v = o.if_contains("predicted"); v && !v->is_null()) {
      auto const* a = v->if_array();
      if (!a) return "\"predicted\" must be a list of numbers or null";
      std::vector<double> levels;
      for (auto const& x : *a) {
        auto n = autointerp::detail::finite_number(x);
        if (!n) return "\"predicted\" must be a list of numbers or null";
        levels.push_back(*n);
      }
      s.simulated = std::move(levels);
    }
    out.push_back(std::move(s));
    return {};
  });
  if (!ok) return ok.error();
  return out;
}

/// Reads an embedding score file (`to_embedding_file`): the shared fields and "similarity" (a
/// number or null). Errors as `parse_score_file`. Pure.
inline result<std::vector<score_sample>> parse_embedding_file(std::string_view text, std::string_view where = "score file") {
  std::vector<score_sample> out;
  auto ok = detail::read_json_list(text, where, "sample", [&](boost::json::object const& o) -> std::string {
    score_sample s;
    if (auto problem = detail::read_sample_fields(o, s); !problem.empty()) return problem;
    if (!detail::read_optional_number(o, "similarity", s.similarity)) return "\"similarity\" must be a number or null";
    out.push_back(std::move(s));
    return {};
  });
  if (!ok) return ok.error();
  return out;
}

/// Reads an intruder score file (`to_intruder_file`). "examples" and "intruder" (a position among
/// them) are required; "prediction" (a position or null) and "quantile" optional; "correct" is
/// not read. Errors as `parse_score_file`, naming the prompt. Pure.
inline result<std::vector<intruder_trial>> parse_intruder_file(std::string_view text, std::string_view where = "score file") {
  std::vector<intruder_trial> out;
  auto ok = detail::read_json_list(text, where, "prompt", [&](boost::json::object const& o) -> std::string {
    intruder_trial t;
    auto const* examples = o.if_contains("examples");
    if (!examples || !examples->is_array()) return "\"examples\" must be a list of examples";
    for (auto const& e : examples->get_array()) {
      auto const* eo = e.if_object();
      if (!eo) return "\"examples\" must be a list of examples";
      score_sample s;
      if (auto problem = detail::read_sample_fields(*eo, s); !problem.empty()) return "an example's " + problem;
      t.examples.push_back(std::move(s));
    }
    auto const* intruder = o.if_contains("intruder");
    auto const position = intruder ? detail::count_of(*intruder) : std::nullopt;
    if (!position || *position >= t.examples.size()) return "\"intruder\" must be the position of one of the examples";
    t.intruder = static_cast<std::size_t>(*position);
    if (auto const* v = o.if_contains("prediction"); v && !v->is_null()) {
      auto c = detail::count_of(*v);
      if (!c || *c >= t.examples.size()) return "\"prediction\" must be the position of one of the examples, or null";
      t.prediction = static_cast<std::size_t>(*c);
    }
    if (auto const* v = o.if_contains("quantile"); v && !v->is_null()) {
      auto c = detail::count_of(*v);
      if (!c || *c > std::numeric_limits<std::uint32_t>::max()) return "\"quantile\" must be a non-negative integer";
      t.quantile = static_cast<std::uint32_t>(*c);
    }
    out.push_back(std::move(t));
    return {};
  });
  if (!ok) return ok.error();
  return out;
}

/// The kinds of score file, by scorer name.
enum class score_file_format { classifier, simulation, intruder, embedding };

/// The format of scorer `name`'s files: "simulation", "intruder" and "embedding" have their own;
/// every other name (detection, fuzz, and delphi's other classifiers) is a classifier's list.
constexpr score_file_format score_file_format_of(std::string_view name) noexcept {
  if (name == "simulation") return score_file_format::simulation;
  if (name == "intruder") return score_file_format::intruder;
  if (name == "embedding") return score_file_format::embedding;
  return score_file_format::classifier;
}

/// What one score file holds: samples, or, for the intruder, its prompts.
struct scored_file {
  std::vector<score_sample> samples;
  std::vector<intruder_trial> trials;
};

/// The text of the score file scorer `name` writes for `samples` (or `trials`). Pure.
inline std::string score_file_text(std::string_view name, std::span<score_sample const> samples,
                                   std::span<intruder_trial const> trials) {
  switch (score_file_format_of(name)) {
    case score_file_format::simulation: return to_simulation_file(samples);
    case score_file_format::intruder: return to_intruder_file(trials);
    case score_file_format::embedding: return to_embedding_file(samples);
    case score_file_format::classifier: break;
  }
  return to_score_file(samples);
}

/// Reads a score file of scorer `name` with the parser of its format. Errors as
/// `parse_score_file`. Pure.
inline result<scored_file> parse_scored_file(std::string_view name, std::string_view text,
                                             std::string_view where = "score file") {
  scored_file out;
  auto const format = score_file_format_of(name);
  if (format == score_file_format::intruder) {
    auto t = parse_intruder_file(text, where);
    if (!t) return t.error();
    out.trials = std::move(*t);
    return out;
  }
  auto s = format == score_file_format::simulation ? parse_simulation_file(text, where)
           : format == score_file_format::embedding ? parse_embedding_file(text, where)
                                                     : parse_score_file(text, where);
  if (!s) return s.error();
  out.samples = std::move(*s);
  return out;
}

}  // namespace autointerp::score
