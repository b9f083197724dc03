#pragma once
// What happened to one latent in a run: one outcome per stage (each is a `run.jsonl` line), and the
// latent's overall outcome that the scheduler counts.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/error.hpp>
#include <autointerp/llm/token_usage.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autointerp::pipeline {

using llm::token_usage;

/// The end state of a stage, or of a latent.
enum class latent_status {
  explained,  ///< an explanation was written
  unparsed,   ///< the LLM answered but no explanation was found; the raw answer is kept
  failed,     ///< an error stopped this latent (the run went on unless the error was fatal)
  skipped,    ///< deliberately not done (too few examples, dry run, nothing to score)
  scored,     ///< a scorer wrote its score file
  deferred,   ///< waiting for a batch's answer (OpenAI Batch API); nothing saved, a later pass finishes it
};

/// The status's name in `run.jsonl`.
inline std::string_view to_string(latent_status s) noexcept {
  switch (s) {
    case latent_status::explained: return "explained";
    case latent_status::unparsed: return "unparsed";
    case latent_status::failed: return "failed";
    case latent_status::skipped: return "skipped";
    case latent_status::scored: return "scored";
    case latent_status::deferred: return "deferred";
  }
  return "failed";
}

/// The status named `name` (as `to_string` writes it), or nothing for an unknown name.
inline std::optional<latent_status> parse_latent_status(std::string_view name) noexcept {
  for (auto s : {latent_status::explained, latent_status::unparsed, latent_status::failed, latent_status::skipped,
                 latent_status::scored, latent_status::deferred})
    if (to_string(s) == name) return s;
  return std::nullopt;
}

/// A file a stage produced, relative to the output folder; the run store writes it atomically
/// before the stage's `run.jsonl` line.
struct output_file {
  std::filesystem::path relative;
  std::string content;
};

/// One stage's result for one latent: its `run.jsonl` line and its files.
struct stage_outcome {
  std::string stage = "explain";  ///< the stage's name
  latent_status status = latent_status::failed;
  std::string explanation;  ///< the explain stage: the explanation (empty unless explained)
  std::string raw_answer;   ///< the LLM's text when unparsed (kept so nothing is lost)
  std::string request;      ///< dry runs: the JSON request body that would have been sent
  unsigned attempts = 0;    ///< HTTP attempts actually made, retries included
  token_usage usage;
  std::chrono::milliseconds latency{0};
  std::optional<autointerp::error> error;  ///< set when failed (and for skipped, the reason)
  std::optional<std::uint64_t> n_activations;  ///< scorers: the latent's firing count (for weighted F1)
  std::vector<output_file> files;
};

/// One latent's result, as the scheduler counts it. A job fills `stages`; a custom `process` hook
/// may set only the summary fields.
struct latent_outcome {
  cache::latent_id latent;
  latent_status status = latent_status::failed;  ///< the first stage's status; `failed` if a later stage failed
  std::string explanation;                       ///< the explanation, when there is one
  unsigned attempts = 0;                         ///< over all stages
  token_usage usage;                             ///< over all stages
  std::chrono::milliseconds latency{0};          ///< the latent's whole job
  std::optional<autointerp::error> error;        ///< the first error of a stage that failed
  std::vector<stage_outcome> stages;             ///< in stage order, for the stages that ran
};

}  // namespace autointerp::pipeline
