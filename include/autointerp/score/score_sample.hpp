#pragma once
// One example a scorer shows the LLM, with its label and, once asked, the LLM's prediction; and one
// prompt of the intruder scorer.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace autointerp::score {

/// One example of a scoring prompt: what is shown, what the truth is, and what the LLM said. It is
/// also one entry of a score file (`score_file.hpp`), whose fields carry delphi's names.
struct score_sample {
  std::vector<std::string> str_tokens;  ///< per-token text (a `[#id]` placeholder when not decoded)
  std::vector<std::uint32_t> tokens;    ///< token ids; empty for samples read back from a score file
  std::vector<float> activations;       ///< one per token; zeros for non-activating windows
  /// delphi's `distance`: the quantile for activating samples; -1 for random non-activating
  /// windows (and for the fuzz scorer's `active` copies); minus the neighbour score for neighbour windows.
  double distance = 0;
  bool activating = false;              ///< the truth: the latent fires in this example
  std::uint32_t quantile = 0;           ///< the quantile an activating sample was drawn from; 0 otherwise
  std::vector<std::uint32_t> highlighted;  ///< token indices shown between << >>, ascending (fuzz only)
  std::size_t batch = 0;                ///< the 0-based number of the prompt showing this sample
  std::optional<bool> prediction;       ///< the LLM's answer; nullopt until asked, or when never parsed
  std::optional<double> probability;    ///< P(activating) from logprobs, when the provider gave them
  /// Simulation: the true level of each token, 0..10 (the record's levels; zeros for non-activating
  /// windows). Empty for the other scorers.
  std::vector<std::uint8_t> true_levels;
  /// Simulation: the level the LLM predicted for each token (expected values with logprobs);
  /// nullopt until asked, or when no answer parsed.
  std::optional<std::vector<double>> simulated;
  /// Embedding: the cosine similarity of this example's text with the explanation's query.
  std::optional<double> similarity;

  /// delphi's `correct`: prediction == activating, or nullopt without a prediction.
  std::optional<bool> correct() const noexcept {
    if (!prediction) return std::nullopt;
    return *prediction == activating;
  }

  /// The example's text: every token string, concatenated.
  std::string text() const {
    std::string s;
    for (auto const& t : str_tokens) s += t;
    return s;
  }
};

/// One prompt of the intruder scorer: activating examples of one quantile and one intruder among
/// them, shown as `Example 1:` ... in this order (Example k is position k - 1).
struct intruder_trial {
  std::vector<score_sample> examples;  ///< in prompt order; the intruder is `examples[intruder]`
  std::size_t intruder = 0;            ///< 0-based position of the intruder
  std::uint32_t quantile = 0;          ///< the quantile the other examples come from
  std::optional<std::size_t> prediction;  ///< 0-based position the LLM named; nullopt when never parsed

  /// Whether the LLM named the intruder; nullopt without a prediction.
  std::optional<bool> correct() const noexcept {
    if (!prediction) return std::nullopt;
    return *prediction == intruder;
  }
};

}  // namespace autointerp::score
