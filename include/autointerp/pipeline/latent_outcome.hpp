#pragma once
// What happened to one latent in a run: the line `run.jsonl` gets for it.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/error.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace autointerp::pipeline {

/// The end state of a latent.
enum class latent_status {
  explained,  ///< an explanation was written
  unparsed,   ///< the LLM answered but no explanation was found; the raw answer is kept
  failed,     ///< an error stopped this latent (the run went on unless the error was fatal)
  skipped,    ///< deliberately not explained (too few examples, dry run)
};

inline std::string_view to_string(latent_status s) noexcept {
  switch (s) {
    case latent_status::explained: return "explained";
    case latent_status::unparsed: return "unparsed";
    case latent_status::failed: return "failed";
    case latent_status::skipped: return "skipped";
  }
  return "failed";
}

/// Tokens an LLM call used, as the provider reported them (0 when it did not).
struct token_usage {
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  double cost = 0;  ///< in the provider's currency (OpenRouter reports USD); 0 when unknown
};

/// One latent's result.
struct latent_outcome {
  cache::latent_id latent;
  latent_status status = latent_status::failed;
  std::string explanation;  ///< empty unless explained
  std::string raw_answer;   ///< the LLM's text when unparsed (kept so nothing is lost)
  std::string request;      ///< dry runs: the JSON request body that would have been sent
  unsigned attempts = 0;    ///< HTTP attempts, retries included (0 when no LLM was called)
  token_usage usage;
  std::chrono::milliseconds latency{0};
  std::optional<autointerp::error> error;  ///< set when failed (and for skipped, the reason)
};

/// Errors after which no new latent should start, because every later call would fail the same way:
/// a rejected or missing API key (401), no credit left (402), and an output that cannot be written
/// (disk full, folder gone: going on would pay for answers that are then lost). 403 is not fatal:
/// providers send it for a single flagged prompt.
inline bool is_fatal(autointerp::error const& e) noexcept {
  return e == errc::unauthorized || e == errc::payment_required || e == errc::missing_api_key ||
         e == errc::write_failed;
}

/// The `run.jsonl` line for an outcome (without the newline): module, latent, status, explanation,
/// attempts, usage {prompt_tokens, completion_tokens}, latency_ms, error (null or one line), plus
/// `raw` for unparsed answers and `cost` inside usage when known.
inline boost::json::object to_json(latent_outcome const& o) {
  boost::json::object usage{{"prompt_tokens", o.usage.prompt_tokens}, {"completion_tokens", o.usage.completion_tokens}};
  if (o.usage.cost > 0) usage["cost"] = o.usage.cost;
  boost::json::object j{{"module", o.latent.module},
                        {"latent", o.latent.index},
                        {"status", to_string(o.status)},
                        {"explanation", o.explanation},
                        {"attempts", o.attempts},
                        {"usage", std::move(usage)},
                        {"latency_ms", o.latency.count()}};
  if (o.error) j["error"] = o.error->what();
  else j["error"] = nullptr;
  if (o.status == latent_status::unparsed) j["raw"] = o.raw_answer;
  return j;
}

}  // namespace autointerp::pipeline
