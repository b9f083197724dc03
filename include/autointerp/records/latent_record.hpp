#pragma once
// What an explainer gets for one latent: sampled activating windows, non-activating windows and
// frequencies, built from the latent's activations the way delphi builds them.

#include <autointerp/cache/latent_activations.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace autointerp::records {

/// A window of `example_ctx_len` tokens in which the latent fires.
struct activating_example {
  std::vector<std::uint32_t> tokens;
  std::vector<float> activations;       ///< one per token; 0 where the latent is silent
  std::vector<std::uint8_t> levels;     ///< delphi's "normalized": ceil(10 * a / max), 0..10
  std::uint32_t quantile = 0;           ///< quantile the sampler drew it from (0 for top/random)
  std::vector<std::string> str_tokens;  ///< per-token text, filled when a tokenizer is given
  float max_activation() const noexcept {
    float m = 0;
    for (float a : activations) m = a > m ? a : m;
    return m;
  }
};

/// A window in which the latent never fires.
struct non_activating_example {
  std::vector<std::uint32_t> tokens;
  float distance = 0;                   ///< delphi's: minus the neighbour's score for neighbour windows, -1 for random ones
  std::vector<std::string> str_tokens;
};

/// Everything built for one latent.
struct latent_record {
  cache::latent_id latent;
  std::uint32_t n_examples = 0;          ///< activating windows built (before sampling)
  std::uint64_t n_activations = 0;       ///< tokens where the latent fires in the cache (its firing count)
  double per_token_frequency = 0;        ///< activations / tokens in the cache
  double per_context_frequency = 0;      ///< windows with activity / all windows
  std::vector<float> examples_max_activation;  ///< maxima of the first (up to) 50 windows, in order
  std::vector<activating_example> train;
  std::vector<activating_example> test;
  std::vector<non_activating_example> non_activating;
};

}  // namespace autointerp::records
