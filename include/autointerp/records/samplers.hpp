#pragma once
// Choosing train and test examples from the ranked windows, and delphi's 0..10 levels.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/config.hpp>
#include <autointerp/records/record_options.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace autointerp::records {

/// An example picked by a sampler: its rank among the latent's windows and the quantile it was
/// drawn from (0 for `top`, `random` and the top part of `mix`).
struct sampled_example {
  std::uint32_t index = 0;
  std::uint32_t quantile = 0;
  friend bool operator==(sampled_example const&, sampled_example const&) = default;
};

/// delphi's `split_quantiles` over the ranked examples [first, first + count): re-seeds the
/// generator with `seed`, cuts the range into `n_quantiles` slices of `count / n_quantiles`
/// examples (the remainder at the end is never used), and draws `n_samples / n_quantiles` from
/// each slice with Python's `random.sample`, or takes the whole slice, in order, when it is
/// smaller than that. `n_quantiles` 0 gives nothing. Thread-safe (pure function).
AUTOINTERP_DECL std::vector<sampled_example> split_quantiles(std::size_t first, std::size_t count,
                                                             std::uint32_t n_quantiles, std::uint32_t n_samples,
                                                             std::uint64_t seed);

/// The train set, as delphi's sampler picks it from `n_examples` ranked examples:
/// - `top`: the first `n_examples_train`;
/// - `random`: `random.sample` of `n_examples_train` after seeding; all examples, in rank order,
///   when there are fewer than that;
/// - `quantiles`: `split_quantiles` of all examples;
/// - `mix`: the first `int(n_examples_train * ratio_top)`, then `split_quantiles` of the rest for
///   `int(n_examples_train * (1 - ratio_top))` more.
/// Thread-safe (pure function).
AUTOINTERP_DECL std::vector<sampled_example> sample_train(std::size_t n_examples, record_options const& options);

/// The test set: `split_quantiles` of all examples for `n_examples_test` (nothing when 0).
AUTOINTERP_DECL std::vector<sampled_example> sample_test(std::size_t n_examples, record_options const& options);

/// delphi's level of one activation: `ceil(10 * a / max)` clamped to [0, 10], where `max` is
/// raised to at least 1e-6. Computed like torch: for `f16` (`bf16`) the product and the quotient
/// are each rounded to float16 (bfloat16); for `f32` both are float operations. NaN gives 0.
AUTOINTERP_DECL std::uint8_t activation_level(float activation, float max_activation, cache::activation_dtype dtype) noexcept;

/// `activation_level` for every value of `activations`, written to `out` (same size).
AUTOINTERP_DECL void activation_levels(std::span<float const> activations, float max_activation,
                                       cache::activation_dtype dtype, std::span<std::uint8_t> out) noexcept;

}  // namespace autointerp::records

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/records/impl/samplers.ipp>
#endif
