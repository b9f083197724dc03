#pragma once
// How records are built: delphi's constructor and sampler settings, with delphi's names and
// defaults.

#include <autointerp/error.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace autointerp::records {

/// How activating windows are cut (`--windows`).
enum class window_kind : std::uint8_t {
  max,       ///< the fixed windows of the token matrix that contain activity, ranked by their maximum
  centered,  ///< 3/4 before and 1/4 after each window's maximum, stitched from the neighbouring windows
};

/// Train sampler (`--train-type`).
enum class train_sampler : std::uint8_t { top, random, quantiles, mix };

/// Test sampler (`--test-type`); delphi implements only quantiles.
enum class test_sampler : std::uint8_t { quantiles };

/// Where non-activating windows come from (`--non-activating-source`).
///
/// delphi's third source, "FAISS" (hard negatives found by sentence-embedding similarity), is not
/// supported yet: it needs an embedding model at record-building time.
enum class non_activating_kind : std::uint8_t {
  random,      ///< uniformly drawn windows (with replacement) where the latent never fires
  neighbours,  ///< windows where neighbour latents fire and this one does not; random when none
};

/// Settings for building one latent's record. The defaults are delphi's (ConstructorConfig and
/// SamplerConfig); field names are delphi's, CLI options are the same names with dashes.
struct record_options {
  /// Tokens per window; must divide the cache's context length.
  std::uint32_t example_ctx_len = 32;
  /// Latents with fewer activating windows are skipped (`errc::too_few_examples`). 0 keeps all.
  std::uint32_t min_examples = 200;
  /// Only the first (highest ranked) `max_examples` windows are kept. 0 = no limit.
  std::uint32_t max_examples = 10'000;
  /// Activating examples to sample for explanation.
  std::uint32_t n_examples_train = 40;
  /// Activating examples to sample for scoring; 0 = no test set.
  std::uint32_t n_examples_test = 50;
  /// Quantiles for the `quantiles` and `mix` samplers (must be >= 1 when they are used).
  std::uint32_t n_quantiles = 10;
  train_sampler train_type = train_sampler::quantiles;
  test_sampler test_type = test_sampler::quantiles;
  /// `mix`: fraction of `n_examples_train` taken from the top; the rest is sampled by quantiles.
  double ratio_top = 0.2;
  /// Non-activating windows per latent; 0 = none.
  std::uint32_t n_non_activating = 50;
  non_activating_kind non_activating_source = non_activating_kind::random;
  /// Seed of the train/test samplers (delphi re-seeds Python's `random` with it at every call).
  std::uint64_t seed = 22;
  /// Seed of the random non-activating draw (delphi seeds torch with 42; see `non_activating.hpp`).
  std::uint64_t non_activating_seed = 42;
  window_kind windows = window_kind::max;
};

/// Checks settings that do not depend on the data. Errors: `errc::bad_option` naming the setting.
inline result<void> validate(record_options const& o) {
  auto bad = [](std::string msg) { return make_error(errc::bad_option, std::move(msg)); };
  if (o.example_ctx_len == 0) return bad("example_ctx_len must be at least 1 (delphi's default is 32)");
  bool quantiles_used = o.train_type == train_sampler::quantiles || o.train_type == train_sampler::mix ||
                        o.n_examples_test > 0;
  if (quantiles_used && o.n_quantiles == 0)
    return bad("n_quantiles must be at least 1 for the quantiles and mix samplers and the test set");
  if (!(o.ratio_top >= 0.0 && o.ratio_top <= 1.0))
    return bad("ratio_top must be between 0 and 1 (delphi's default is 0.2)");
  return {};
}

/// Names as the CLI and delphi spell them.
inline std::string_view to_string(window_kind k) noexcept { return k == window_kind::max ? "max" : "centered"; }
inline std::string_view to_string(train_sampler t) noexcept {
  switch (t) {
    case train_sampler::top: return "top";
    case train_sampler::random: return "random";
    case train_sampler::quantiles: return "quantiles";
    case train_sampler::mix: return "mix";
  }
  return "quantiles";
}
inline std::string_view to_string(non_activating_kind k) noexcept {
  return k == non_activating_kind::random ? "random" : "neighbours";
}

inline std::optional<window_kind> parse_window_kind(std::string_view s) noexcept {
  if (s == "max") return window_kind::max;
  if (s == "centered") return window_kind::centered;
  return std::nullopt;
}
inline std::optional<train_sampler> parse_train_sampler(std::string_view s) noexcept {
  if (s == "top") return train_sampler::top;
  if (s == "random") return train_sampler::random;
  if (s == "quantiles") return train_sampler::quantiles;
  if (s == "mix") return train_sampler::mix;
  return std::nullopt;
}
inline std::optional<test_sampler> parse_test_sampler(std::string_view s) noexcept {
  if (s == "quantiles") return test_sampler::quantiles;
  return std::nullopt;
}
inline std::optional<non_activating_kind> parse_non_activating_kind(std::string_view s) noexcept {
  if (s == "random") return non_activating_kind::random;
  if (s == "neighbours" || s == "neighbors") return non_activating_kind::neighbours;
  return std::nullopt;
}

}  // namespace autointerp::records
