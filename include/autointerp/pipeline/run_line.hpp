#pragma once
// One line of `run.jsonl`: written for every stage of every latent, read back for resume, reports
// and summaries. The format is documented in the README ("Outputs").

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/pipeline/latent_outcome.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace autointerp::pipeline {

/// A `run.jsonl` line as read back.
struct run_line {
  cache::latent_id latent;
  std::string stage = "explain";  ///< lines without "stage" (earlier runs, explain jobs) are the explain stage's
  latent_status status = latent_status::failed;
  std::string explanation;
  unsigned attempts = 0;
  token_usage usage;
  std::int64_t latency_ms = 0;
  std::optional<std::string> error;
  std::string raw;  ///< unparsed answers
  std::optional<std::uint64_t> n_activations;  ///< scorer lines: the latent's firing count
};

/// The line for `o` of latent `id` (without the newline): module, latent, status, explanation,
/// attempts, usage {prompt_tokens, completion_tokens, cached_tokens}, cost_usd (the server's
/// `usage.cost`, else the price table's; 0 when neither is known), latency_ms, error (null or one
/// line), `raw` for unparsed answers, `stage` for stages other than explain, and a scorer's
/// `n_activations`.
inline boost::json::object to_json(cache::latent_id const& id, stage_outcome const& o) {
  boost::json::object usage{{"prompt_tokens", o.usage.prompt_tokens},
                            {"completion_tokens", o.usage.completion_tokens},
                            {"cached_tokens", o.usage.cached_tokens}};
  boost::json::object j{{"module", id.module},
                        {"latent", id.index},
                        {"status", to_string(o.status)},
                        {"explanation", o.explanation},
                        {"attempts", o.attempts},
                        {"usage", std::move(usage)},
                        {"cost_usd", o.usage.cost > 0 ? boost::json::value(o.usage.cost) : boost::json::value(0)},
                        {"latency_ms", o.latency.count()}};
  if (o.error) j["error"] = o.error->what();
  else j["error"] = nullptr;
  if (o.status == latent_status::unparsed) j["raw"] = o.raw_answer;
  if (o.stage != "explain") j["stage"] = o.stage;
  if (o.n_activations) j["n_activations"] = *o.n_activations;
  return j;
}

/// Parses one line. Nothing for a torn, foreign or malformed line (no module, latent or known
/// status), which readers skip; optional fields that have the wrong type are left at their
/// defaults. Never throws; pure.
inline std::optional<run_line> parse_run_line(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  auto const& o = v.get_object();
  auto const* m = o.if_contains("module");
  auto const* l = o.if_contains("latent");
  auto const* s = o.if_contains("status");
  if (!m || !l || !s || !m->is_string() || !s->is_string() || !l->is_number()) return std::nullopt;
  run_line r;
  auto index = l->to_number<std::uint32_t>(ec);
  if (ec) return std::nullopt;
  auto status = parse_latent_status(s->get_string());
  if (!status) return std::nullopt;
  r.latent = {std::string(m->get_string()), index};
  r.status = *status;
  auto uint_of = [](boost::json::value const* x) -> std::uint64_t {
    if (!x) return 0;
    boost::system::error_code e;
    auto n = x->to_number<std::uint64_t>(e);
    return e ? 0 : n;
  };
  if (auto const* x = o.if_contains("stage"); x && x->is_string()) r.stage = std::string(x->get_string());
  if (auto const* x = o.if_contains("explanation"); x && x->is_string()) r.explanation = std::string(x->get_string());
  r.attempts = static_cast<unsigned>(std::min<std::uint64_t>(uint_of(o.if_contains("attempts")), 1u << 30));
  auto cost_of = [](boost::json::value const* c) -> std::optional<double> {
    if (!c || !c->is_number()) return std::nullopt;
    boost::system::error_code e;
    double cost = c->to_number<double>(e);
    if (e || !std::isfinite(cost) || cost < 0) return std::nullopt;
    return cost;
  };
  if (auto const* u = o.if_contains("usage"); u && u->is_object()) {
    r.usage.prompt_tokens = uint_of(u->get_object().if_contains("prompt_tokens"));
    r.usage.completion_tokens = uint_of(u->get_object().if_contains("completion_tokens"));
    r.usage.cached_tokens = std::min(uint_of(u->get_object().if_contains("cached_tokens")), r.usage.prompt_tokens);
    if (auto c = cost_of(u->get_object().if_contains("cost"))) r.usage.cost = *c;  // lines of earlier versions
  }
  if (auto c = cost_of(o.if_contains("cost_usd"))) r.usage.cost = *c;
  if (auto const* x = o.if_contains("latency_ms"); x && x->is_number()) {
    boost::system::error_code e;
    auto n = x->to_number<std::int64_t>(e);
    if (!e) r.latency_ms = n;
  }
  if (auto const* x = o.if_contains("error"); x && x->is_string()) r.error = std::string(x->get_string());
  if (auto const* x = o.if_contains("raw"); x && x->is_string()) r.raw = std::string(x->get_string());
  if (auto const* x = o.if_contains("n_activations"); x && x->is_number()) {
    boost::system::error_code e;
    auto n = x->to_number<std::uint64_t>(e);
    if (!e) r.n_activations = n;
  }
  return r;
}

}  // namespace autointerp::pipeline
