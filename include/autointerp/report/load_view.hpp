#pragma once
// Gathering a latent's view from a cache: its activations, its strongest windows (built the way
// delphi builds them) and their token text; and its scores from a run folder.

#include <autointerp/cache/dataset.hpp>
#include <autointerp/error.hpp>
#include <autointerp/pipeline/run_store.hpp>
#include <autointerp/records/load_record.hpp>
#include <autointerp/records/record_options.hpp>
#include <autointerp/report/latent_view.hpp>
#include <autointerp/score/run_scores.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::report {

/// Which windows a view shows.
struct view_options {
  std::uint32_t n_windows = 10;                                ///< strongest windows shown; 0 = none
  records::window_kind windows = records::window_kind::max;    ///< delphi's max or centered windows
  /// Tokens per window. 0 = 32 when that divides the cache's context length (delphi's default),
  /// else the whole row.
  std::uint32_t example_ctx_len = 0;
  std::size_t histogram_bins = 20;
};

/// The window length `options` asks for, for a cache context of `ctx_len` tokens.
inline std::uint32_t effective_window_length(view_options const& options, std::uint32_t ctx_len) noexcept {
  if (options.example_ctx_len) return options.example_ctx_len;
  return ctx_len % 32 == 0 ? 32 : ctx_len;
}

/// Loads `latent` and makes its view: every activation (for the maximum, count and histogram), the
/// `n_windows` strongest windows (records built with delphi's constructor, train type `top`,
/// `min_examples` 0, no test or non-activating windows) and their per-token text from `tok` (null:
/// tokens show as "[id]"). Explanation and status are left empty.
///
/// Errors: those of `dataset::tokens` and `dataset::load_latent` (unknown module, latent out of
/// range, unreadable shards), `errc::bad_option` when the window length does not divide the
/// context length, `errc::token_out_of_range` when cache and tokenizer do not belong together.
/// Blocks while decoding; thread-safe (the dataset and tokenizer are shared read-only).
inline result<latent_view> load_latent_view(cache::dataset const& data, tokenizer::tokenizer const* tok,
                                            cache::latent_id const& latent, view_options const& options = {}) {
  auto matrix = data.tokens(latent.module);
  if (!matrix) return matrix.error();
  records::load_options lo;
  auto& ro = lo.records;
  ro.example_ctx_len = effective_window_length(options, static_cast<std::uint32_t>((*matrix)->ctx));
  ro.min_examples = 0;
  ro.max_examples = 0;
  ro.n_examples_train = options.n_windows;
  ro.train_type = records::train_sampler::top;
  ro.n_examples_test = 0;
  ro.n_non_activating = 0;
  ro.windows = options.windows;
  cache::latent_activations acts;
  auto record = records::load_record(data, latent, lo, tok, &acts);
  if (!record) return record.error();
  return make_latent_view(*record, acts, options.histogram_bins);
}

/// The latent's figures under each of `scorers` (e.g. `score::list_scorers(store)`), from its score
/// files in `store`: one entry per scorer with a file for the latent, in the order of `scorers`
/// (none for a scorer without one). A file that cannot be read is an entry with `error` set and
/// no figures, so one damaged file never stops a report. Blocks on file reads; thread-safe.
inline std::vector<scorer_figures> load_scorer_figures(pipeline::run_store const& store,
                                                       std::span<std::string const> scorers,
                                                       cache::latent_id const& latent) {
  std::vector<scorer_figures> out;
  for (auto const& scorer : scorers) {
    auto samples = score::read_latent_scores(store, scorer, latent);
    if (!samples) {
      scorer_figures f;
      f.scorer = scorer;
      f.error = samples.error().what();
      out.push_back(std::move(f));
    } else if (*samples) {
      out.push_back(make_scorer_figures(scorer, **samples));
    }
  }
  return out;
}

}  // namespace autointerp::report
