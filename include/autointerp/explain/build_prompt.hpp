#pragma once
// Building the chat messages that ask an LLM to explain one latent.

#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/explain/explainer_options.hpp>
#include <autointerp/explain/prompt.hpp>
#include <autointerp/records/latent_record.hpp>

namespace autointerp::explain {

/// The messages for `record` under `options.kind` (standard, contrastive or single_token): a short
/// system prompt, optionally our worked examples as earlier turns, then the latent's examples. The
/// model is asked to end with a line `[EXPLANATION]: ...`, which `parse_answer` reads.
///
/// Pure and thread-safe. Errors: `errc::too_few_examples` when the record has no train example,
/// or (contrastive) no non-activating example. (The statistical baseline builds no prompt: it is its
/// own explainer, `statistical_explainer`.)
AUTOINTERP_DECL result<prompt> build_prompt(records::latent_record const& record, explainer_options const& options);

/// The system prompt alone (for documentation and tests).
AUTOINTERP_DECL std::string system_prompt(explainer_options const& options);

}  // namespace autointerp::explain

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/explain/impl/build_prompt.ipp>
#endif
