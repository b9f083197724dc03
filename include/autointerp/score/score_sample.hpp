#pragma once
// One example a scorer shows the LLM, with its label and, once asked, the LLM's prediction.

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

}  // namespace autointerp::score
