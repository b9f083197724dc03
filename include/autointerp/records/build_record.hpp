#pragma once
// One latent's activations -> its record: windows, train/test samples, levels, non-activating
// windows and frequencies, as delphi's LatentDataset builds them.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/cache/token_matrix.hpp>
#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/records/latent_record.hpp>
#include <autointerp/records/non_activating.hpp>
#include <autointerp/records/record_options.hpp>


#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace autointerp::records {

/// How many windows `examples_max_activation` lists (delphi's fixtures keep the first 50).
inline constexpr std::size_t max_activation_listed = 50;

/// Builds `latent`'s record from the module's token matrix, the way delphi's constructor and
/// sampler do (see DESIGN.md, "Behaviour to match delphi"):
/// - `n_examples` windows per `options.windows`, ranked and cut to `max_examples`;
/// - `per_token_frequency` = activations / tokens, `per_context_frequency` = windows with
///   activity / all windows (counted before centered windows drop row ends);
/// - train/test per the samplers, levels against the first (highest) example's maximum;
/// - `non_activating` per `non_activating_source`; `neighbours` is used only by the
///   `neighbours` source and should list the latent's neighbours in file order.
///
/// Documented behaviour for degenerate inputs: a latent with no activations has 0 examples (so it
/// is skipped unless `min_examples` is 0; then train/test are empty); fewer examples than
/// `n_quantiles` give an empty quantile sample; an all-zero latent gets levels 0 (the maximum is
/// raised to 1e-6); `n_examples_train` 0 gives an empty train set; a latent active in every window
/// gets no random non-activating windows.
///
/// Errors: `errc::too_few_examples` when fewer than `min_examples` windows remain (the message
/// gives the count; callers report the latent as skipped); `errc::bad_option` for invalid options
/// or an `example_ctx_len` that does not divide the cache context; `errc::bad_shape` for
/// activations outside the token matrix. Thread-safe (pure function).
AUTOINTERP_DECL result<latent_record> build_record(cache::token_matrix const& tokens,
                                                   cache::latent_activations const& latent,
                                                   record_options const& options,
                                                   std::span<neighbour_activity const> neighbours = {});

}  // namespace autointerp::records

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/records/impl/build_record.ipp>
#endif
