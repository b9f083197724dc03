#pragma once
// What an explainer gives back for one latent.

#include <autointerp/llm/token_usage.hpp>

#include <cstdint>
#include <string>

namespace autointerp::explain {

/// How an explainer's answer ended.
enum class answer_kind {
  explained,  ///< `text` holds the explanation
  unparsed,   ///< the LLM answered without an `[EXPLANATION]:` line; `raw_answer` keeps its text
  dry_run,    ///< nothing was asked: `request` holds the body that would have been sent
};

/// One latent's explanation and what it took.
struct explanation {
  answer_kind kind = answer_kind::explained;
  std::string text;        ///< the explanation; empty unless explained
  std::string raw_answer;  ///< the LLM's whole answer when unparsed (kept so nothing is lost)
  std::string request;     ///< dry runs: the JSON request body
  std::uint32_t attempts = 0;  ///< HTTP attempts, retries included (0 without an LLM call)
  llm::token_usage usage;      ///< dry runs: `prompt_tokens` is the estimate
};

}  // namespace autointerp::explain
