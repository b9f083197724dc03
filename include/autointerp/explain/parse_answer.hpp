#pragma once
// Reading the explanation out of an LLM's answer.

#include <autointerp/config.hpp>

#include <string>
#include <string_view>

namespace autointerp::explain {

/// What `parse_answer` found.
struct parsed_answer {
  bool parsed = false;      ///< false: no explanation line was found (status `unparsed`)
  std::string explanation;  ///< the explanation, trimmed and without markdown; empty when not parsed
};

/// Finds the explanation in `answer`: the LAST line carrying an `[EXPLANATION]:` marker (any case,
/// with or without the brackets, inside markdown such as `**[EXPLANATION]:**`, `### Explanation:`,
/// a quote `>` or a list bullet); the text after the marker, or on the next non-empty line when the
/// marker stands alone. Strips markdown emphasis, code ticks, surrounding quotes and a placeholder's
/// angle brackets. Returns `parsed = false` when no marker has any text after it, so the caller keeps
/// the raw answer and marks the latent `unparsed`. Pure, thread-safe, never throws on any input.
AUTOINTERP_DECL parsed_answer parse_answer(std::string_view answer);

}  // namespace autointerp::explain

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/explain/impl/parse_answer.ipp>
#endif
