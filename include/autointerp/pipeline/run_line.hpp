#pragma once
// One line of `run.jsonl` read back: the fields that resuming a run and reports use. The line is
// written by `to_json(latent_outcome)` (pipeline/latent_outcome.hpp).

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace autointerp::pipeline {

/// What readers take from a run.jsonl line; other fields (attempts, usage, error, ...) are ignored.
struct run_line {
  std::string module;
  std::uint32_t latent = 0;
  std::string status;       ///< as written: "explained", "unparsed", "failed", "skipped"
  std::string explanation;  ///< empty when absent or not a string
};

/// Parses one run.jsonl line (without its newline). `std::nullopt` for a line that is not a JSON
/// object with a string `module`, a string `status` and a `latent` that is a whole number that
/// fits 32 bits: a torn last line (a power loss mid-write) or a foreign one, which readers skip.
/// Pure, thread-safe; throws nothing but `std::bad_alloc`.
inline std::optional<run_line> parse_run_line(std::string_view line) {
  boost::system::error_code ec;
  auto const v = boost::json::parse(line, ec);
  if (ec || !v.is_object()) return std::nullopt;
  auto const& o = v.get_object();
  auto const* m = o.if_contains("module");
  auto const* l = o.if_contains("latent");
  auto const* s = o.if_contains("status");
  if (!m || !l || !s || !m->is_string() || !s->is_string()) return std::nullopt;
  auto const index = l->to_number<std::uint32_t>(ec);  // an error for non-numbers, fractions, negatives
  if (ec) return std::nullopt;
  run_line r;
  r.module = std::string(m->get_string());
  r.latent = index;
  r.status = std::string(s->get_string());
  if (auto const* x = o.if_contains("explanation"); x && x->is_string()) r.explanation = std::string(x->get_string());
  return r;
}

}  // namespace autointerp::pipeline
