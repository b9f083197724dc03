#pragma once
// A baseline explainer that needs no LLM: what the strongest activations have in common, counted.

#include <autointerp/config.hpp>
#include <autointerp/records/latent_record.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace autointerp::explain {

/// A token (or class of tokens) and how often it was seen.
struct token_share {
  std::string text;  ///< token text as decoded (or `[#id]`), or a class name such as "digits"
  double share = 0;  ///< fraction of the counted occurrences, 0..1
};

/// The counts behind the statistical explanation, for programs that want numbers, not prose.
struct token_statistics {
  std::size_t examples = 0;              ///< activating examples looked at
  std::size_t active_tokens = 0;         ///< active tokens counted over them
  std::vector<token_share> dominant;     ///< most frequent active tokens, at most 3, largest first
  std::vector<token_share> before;       ///< most frequent token right before a run of active tokens
  std::vector<token_share> after;        ///< most frequent token right after a run
  std::vector<token_share> classes;      ///< classes covering most active tokens (digits, capitalized...)
  double median_position = 0;            ///< of the strongest token, as a fraction of the window (0..1)
};

/// Counts over the record's train examples; a token is active above `threshold` x its example's max.
AUTOINTERP_DECL token_statistics compute_token_statistics(records::latent_record const& record, float threshold = 0.3f);

/// One line that says it is a statistical baseline and describes the dominant active tokens and
/// their share, frequent neighbours, token classes and where the strongest token sits. No LLM, no
/// I/O; pure and thread-safe. A record without examples gives a line saying so (never an error).
AUTOINTERP_DECL std::string statistical_explanation(records::latent_record const& record, float threshold = 0.3f);

}  // namespace autointerp::explain

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/explain/impl/statistical.ipp>
#endif
