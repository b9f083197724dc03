#pragma once
// Rendering one example as text: the active tokens between << and >>, and their levels.

#include <autointerp/config.hpp>
#include <autointerp/records/latent_record.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace autointerp::explain {

/// The text of token `i` of a window: its decoded string when the record has per-token strings
/// for every token, else a placeholder `[#id]` so the prompt still shows which token it was.
AUTOINTERP_DECL std::string token_text(std::span<std::uint32_t const> ids, std::vector<std::string> const& strings,
                                       std::size_t i);

/// Which tokens of `activations` are active: above `threshold` x the largest activation (and above
/// zero). Clamps `threshold` to [0, 1); an all-zero example has no active token.
AUTOINTERP_DECL std::vector<bool> active_mask(std::span<float const> activations, float threshold);

/// The example's text with each run of consecutive active tokens wrapped in one `<<` `>>` pair.
/// Tolerates mismatched lengths (uses the shorter of tokens and activations; extra tokens inactive).
AUTOINTERP_DECL std::string highlight(records::activating_example const& example, float threshold);

/// The active tokens with their 0..10 levels, e.g. `"June" (8), "March" (10)`; empty when none.
/// Uses the record's levels when present for every token, else computes ceil(10 a / max).
AUTOINTERP_DECL std::string levels_list(records::activating_example const& example, float threshold);

/// A non-activating window's text, without markers.
AUTOINTERP_DECL std::string plain_text(records::non_activating_example const& example);

}  // namespace autointerp::explain

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/explain/impl/highlight.ipp>
#endif
