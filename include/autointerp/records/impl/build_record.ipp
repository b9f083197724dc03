#pragma once
// Out-of-line parts of build_record.hpp.

#include <autointerp/records/build_record.hpp>
#include <autointerp/records/example_windows.hpp>
#include <autointerp/records/samplers.hpp>

#include <string>

namespace autointerp::records {

namespace detail {
inline activating_example materialise(cache::token_matrix const& tokens, example_windows const& w,
                                      sampled_example s, float max_activation, cache::activation_dtype dtype) {
  activating_example ex;
  std::uint32_t const len = w.ctx_len();
  auto begin = tokens.ids.begin() + static_cast<std::ptrdiff_t>(w.token_offset(s.index));
  ex.tokens.assign(begin, begin + len);
  ex.activations.resize(len);
  w.activations(s.index, ex.activations);
  ex.levels.resize(len);
  activation_levels(ex.activations, max_activation, dtype, ex.levels);
  ex.quantile = s.quantile;
  return ex;
}
}  // namespace detail

AUTOINTERP_DECL result<latent_record> build_record(cache::token_matrix const& tokens,
                                                   cache::latent_activations const& latent,
                                                   record_options const& o,
                                                   std::span<neighbour_activity const> neighbours) {
  if (auto v = validate(o); !v) return v.error();
  auto built = make_example_windows(tokens, latent, o.windows, o.example_ctx_len, o.max_examples);
  if (!built) return built.error();
  example_windows const& w = *built;

  latent_record rec;
  rec.latent = latent.latent;
  rec.n_activations = latent.size();
  rec.n_examples = static_cast<std::uint32_t>(w.size());
  if (w.size() < o.min_examples)
    return make_error(errc::too_few_examples,
                      "latent " + latent.latent.module + ":" + std::to_string(latent.latent.index) + " has " +
                          std::to_string(w.size()) + " activating windows, fewer than min_examples " +
                          std::to_string(o.min_examples) + "; skipped");
  rec.per_token_frequency =
      tokens.size() ? static_cast<double>(latent.size()) / static_cast<double>(tokens.size()) : 0.0;
  rec.per_context_frequency =
      w.n_windows() ? static_cast<double>(w.n_active_windows()) / static_cast<double>(w.n_windows()) : 0.0;

  std::size_t const listed = w.size() < max_activation_listed ? w.size() : max_activation_listed;
  rec.examples_max_activation.reserve(listed);
  std::vector<float> scratch(w.ctx_len());
  for (std::size_t i = 0; i < listed; ++i) rec.examples_max_activation.push_back(w.max_activation(i, scratch));
  // delphi normalises against the first example's maximum.
  float const max_activation = listed ? rec.examples_max_activation.front() : 0.0f;

  for (sampled_example s : sample_train(w.size(), o))
    rec.train.push_back(detail::materialise(tokens, w, s, max_activation, latent.dtype));
  for (sampled_example s : sample_test(w.size(), o))
    rec.test.push_back(detail::materialise(tokens, w, s, max_activation, latent.dtype));

  if (o.non_activating_source == non_activating_kind::neighbours)
    rec.non_activating = neighbour_non_activating(tokens, w.active_windows(), o.example_ctx_len, o.n_non_activating,
                                                  neighbours, o.non_activating_seed);
  else
    rec.non_activating =
        random_non_activating(tokens, w.active_windows(), o.example_ctx_len, o.n_non_activating, o.non_activating_seed);
  return rec;
}

}  // namespace autointerp::records
