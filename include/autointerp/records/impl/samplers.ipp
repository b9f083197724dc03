#pragma once
// Out-of-line parts of samplers.hpp.

#include <autointerp/records/float16.hpp>
#include <autointerp/records/python_random.hpp>
#include <autointerp/records/samplers.hpp>

#include <cmath>

namespace autointerp::records {

AUTOINTERP_DECL std::vector<sampled_example> split_quantiles(std::size_t first, std::size_t count,
                                                             std::uint32_t n_quantiles, std::uint32_t n_samples,
                                                             std::uint64_t seed) {
  std::vector<sampled_example> out;
  if (n_quantiles == 0) return out;
  python_random rng(seed);
  std::size_t const slice = count / n_quantiles;
  std::size_t const per_quantile = n_samples / n_quantiles;
  out.reserve(per_quantile * n_quantiles);
  for (std::uint32_t q = 0; q < n_quantiles; ++q) {
    std::size_t const base = first + q * slice;
    if (slice < per_quantile) {
      for (std::size_t i = 0; i < slice; ++i) out.push_back({static_cast<std::uint32_t>(base + i), q});
    } else {
      for (std::size_t i : rng.sample_indices(slice, per_quantile))
        out.push_back({static_cast<std::uint32_t>(base + i), q});
    }
  }
  return out;
}

AUTOINTERP_DECL std::vector<sampled_example> sample_train(std::size_t n_examples, record_options const& o) {
  std::vector<sampled_example> out;
  std::size_t const n_train = o.n_examples_train;
  switch (o.train_type) {
    case train_sampler::top: {
      std::size_t k = n_train < n_examples ? n_train : n_examples;
      for (std::size_t i = 0; i < k; ++i) out.push_back({static_cast<std::uint32_t>(i), 0});
      return out;
    }
    case train_sampler::random: {
      if (n_examples < n_train) {
        for (std::size_t i = 0; i < n_examples; ++i) out.push_back({static_cast<std::uint32_t>(i), 0});
        return out;
      }
      python_random rng(o.seed);
      for (std::size_t i : rng.sample_indices(n_examples, n_train)) out.push_back({static_cast<std::uint32_t>(i), 0});
      return out;
    }
    case train_sampler::quantiles:
      return split_quantiles(0, n_examples, o.n_quantiles, o.n_examples_train, o.seed);
    case train_sampler::mix: {
      // Python's int() of a float product truncates toward zero.
      auto n_top = static_cast<std::size_t>(static_cast<double>(n_train) * o.ratio_top);
      auto n_rest = static_cast<std::uint32_t>(static_cast<double>(n_train) * (1.0 - o.ratio_top));
      std::size_t k = n_top < n_examples ? n_top : n_examples;
      for (std::size_t i = 0; i < k; ++i) out.push_back({static_cast<std::uint32_t>(i), 0});
      auto rest = split_quantiles(k, n_examples - k, o.n_quantiles, n_rest, o.seed);
      out.insert(out.end(), rest.begin(), rest.end());
      return out;
    }
  }
  return out;
}

AUTOINTERP_DECL std::vector<sampled_example> sample_test(std::size_t n_examples, record_options const& o) {
  if (o.n_examples_test == 0) return {};
  return split_quantiles(0, n_examples, o.n_quantiles, o.n_examples_test, o.seed);
}

AUTOINTERP_DECL std::uint8_t activation_level(float a, float max_activation, cache::activation_dtype dtype) noexcept {
  // max(max_activation, 1e-6) as Python compares them; the divisor then becomes a float scalar.
  if (a == 0.0f) return 0;  // most of a window: 0 * 10 / m is 0 in every dtype
  float m = (max_activation > 1e-6 || std::isnan(max_activation)) ? max_activation : static_cast<float>(1e-6);
  float q = 0;
  switch (dtype) {
    case cache::activation_dtype::f16: q = round_to_half(round_to_half(a * 10.0f) / m); break;
    case cache::activation_dtype::bf16: q = round_to_bfloat16(round_to_bfloat16(a * 10.0f) / m); break;
    case cache::activation_dtype::f32: q = (a * 10.0f) / m; break;
  }
  if (std::isnan(q) || q <= 0.0f) return 0;
  if (q > 9.0f) return 10;
  return static_cast<std::uint8_t>(std::ceil(q));
}

AUTOINTERP_DECL void activation_levels(std::span<float const> activations, float max_activation,
                                       cache::activation_dtype dtype, std::span<std::uint8_t> out) noexcept {
  for (std::size_t i = 0; i < activations.size() && i < out.size(); ++i)
    out[i] = activation_level(activations[i], max_activation, dtype);
}

}  // namespace autointerp::records
