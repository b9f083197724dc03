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
#include <autointerp/run_on.hpp>

#include <boost/asio/deferred.hpp>

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

/// `build_record` run on `cpu` (for example a `boost::asio::thread_pool` executor), completing
/// with `void(result<latent_record>)` on the caller's executor; `co_await` it inside an
/// `asio::awaitable` with the default token.
///
/// The token matrix is shared (kept alive until the work ends); `latent` and `neighbours` are
/// moved in. Cancellation: terminal cancellation before the work starts completes with
/// `errc::cancelled`; once started, the (short) work runs to the end. Thread-safe.
template <class Executor, class CompletionToken = boost::asio::deferred_t>
auto async_build_record(Executor cpu, std::shared_ptr<cache::token_matrix const> tokens,
                        cache::latent_activations latent, record_options options,
                        std::vector<neighbour_activity> neighbours = {}, CompletionToken&& token = {}) {
  return async_run_on(
      std::move(cpu),
      [tokens = std::move(tokens), latent = std::move(latent), options = std::move(options),
       neighbours = std::move(neighbours)]() -> result<latent_record> {
        if (!tokens) return make_error(errc::tokens_missing, "async_build_record: no token matrix given");
        return build_record(*tokens, latent, options, neighbours);
      },
      std::forward<CompletionToken>(token));
}

}  // namespace autointerp::records

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/records/impl/build_record.ipp>
#endif
