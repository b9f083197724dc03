#pragma once
// How an LLM explainer shows examples: which prompt, highlighting and levels.

#include <cstddef>

namespace autointerp::explain {

/// How an LLM explainer shows a latent (delphi's explainer classes). The statistical baseline is not
/// a kind of prompt but an explainer of its own (`statistical_explainer`).
enum class explainer_kind {
  standard,      ///< activating examples, active tokens between << and >> (delphi's default explainer)
  contrastive,   ///< activating examples plus non-activating ones, asking what separates them
  single_token,  ///< only the strongest token of each example, with a little context before it
};

/// How examples are shown. Plain aggregate; defaults follow delphi where it has a setting.
struct explainer_options {
  explainer_kind kind = explainer_kind::standard;
  /// A token is active when its activation is above `threshold` x the example's maximum
  /// (delphi's `threshold`, 0.3). Values outside [0, 1) are clamped.
  float threshold = 0.3f;
  /// After each example, list its active tokens with their 0..10 level (delphi's `activations`).
  bool show_levels = false;
  /// Ask the model to reason step by step before its final line (delphi's `cot`).
  bool chain_of_thought = false;
  /// Include our worked examples as earlier turns of the conversation.
  bool worked_examples = true;
  /// Use at most this many activating examples of the record's train set; 0 = all.
  std::size_t max_examples = 0;
  /// Use at most this many non-activating examples (contrastive only); 0 = all.
  std::size_t max_non_activating = 0;
  /// Tokens of context shown before the strongest token (single-token explainer).
  std::size_t single_token_context = 6;
};

}  // namespace autointerp::explain
