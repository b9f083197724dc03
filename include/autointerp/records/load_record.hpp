#pragma once
// The one record source: a latent of a cache becomes its record (delphi's windows and samples)
// with per-token strings, on a CPU executor. Explaining, scoring, `records`, `show` and `report`
// all get their records here.

#include <autointerp/cache/dataset.hpp>
#include <autointerp/error.hpp>
#include <autointerp/records/build_record.hpp>
#include <autointerp/records/latent_record.hpp>
#include <autointerp/records/load_neighbour_activity.hpp>
#include <autointerp/records/non_activating.hpp>
#include <autointerp/records/record_options.hpp>
#include <autointerp/run_on.hpp>
#include <autointerp/tokenizer/str_tokens.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>

#include <boost/asio/deferred.hpp>

#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace autointerp::records {

/// What a record is built from besides the cache: delphi's settings and, for
/// `non_activating_source == neighbours`, the module's neighbour lists.
struct load_options {
  record_options records;
  /// delphi's neighbour lists of the module; null (or a latent without an entry) falls back to
  /// random non-activating windows.
  std::shared_ptr<neighbour_table const> neighbours;
};

/// Builds the record of `id`: loads its activations, its neighbours' activity when asked, builds
/// the windows and samples (`build_record`) and, when `tok` is not null, fills `str_tokens` of every
/// train, test and non-activating example. `activations`, when given, receives the latent's
/// activations (views draw their histogram from them).
///
/// Errors: those of the cache (`dataset::tokens`, `load_latent`), of `build_record`
/// (`errc::too_few_examples` among them, which callers report as skipped) and
/// `errc::token_out_of_range` when cache and tokenizer do not belong together. Blocks while it
/// decodes; thread-safe (dataset, table and tokenizer are only read).
inline result<latent_record> load_record(cache::dataset const& data, cache::latent_id const& id,
                                         load_options const& options, tokenizer::tokenizer const* tok,
                                         cache::latent_activations* activations = nullptr) {
  auto matrix = data.tokens(id.module);
  if (!matrix) return matrix.error();
  auto acts = data.load_latent(id.module, id.index);
  if (!acts) return acts.error();
  std::vector<neighbour_activity> neighbours;
  if (options.neighbours && options.records.non_activating_source == non_activating_kind::neighbours &&
      options.records.n_non_activating > 0) {
    auto loaded = load_neighbour_activity(data, id.module, *options.neighbours, id.index);
    if (!loaded) return loaded.error();
    neighbours = std::move(*loaded);
  }
  auto record = build_record(**matrix, *acts, options.records, neighbours);
  if (!record) return record.error();
  if (tok)
    if (auto r = tokenizer::add_str_tokens(*tok, *record); !r) return r.error();
  if (activations) *activations = std::move(*acts);
  return record;
}

/// `load_record` on the executor `cpu` (for example an `asio::thread_pool`'s).
///
/// - Handler signature: `void(error_code, latent_record)`.
/// - Completion executor: the handler's associated executor (a coroutine's own); without one, `cpu`.
/// - Lifetimes: `data`, `id` and `options` are copied (the dataset is a shared handle); `tok` must
///   stay alive until the operation completes.
/// - Cancellation: `terminal` before the work starts completes with `errc::cancelled`; once started,
///   the (short) work runs to the end.
/// - Errors: those of `load_record`; their text goes to `diag` when given (or use
///   `with_diagnostics(token)`).
/// - Thread-safety: safe to start from any thread, any number at once.
template <class Executor, class CompletionToken = boost::asio::deferred_t>
  requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
auto async_load_record(cache::dataset const& data, cache::latent_id const& id, load_options const& options,
                       tokenizer::tokenizer const* tok, Executor const& cpu, CompletionToken&& token = {}) {
  return async_run_on(cpu, [data, id, options, tok] { return load_record(data, id, options, tok); },
                      std::forward<CompletionToken>(token));
}

/// `async_load_record` keeping the error's text in `diag`.
template <class Executor, class CompletionToken = boost::asio::deferred_t>
auto async_load_record(cache::dataset const& data, cache::latent_id const& id, load_options const& options,
                       tokenizer::tokenizer const* tok, Executor const& cpu, diagnostics& diag,
                       CompletionToken&& token = {}) {
  return async_run_on(cpu, [data, id, options, tok] { return load_record(data, id, options, tok); }, diag,
                      std::forward<CompletionToken>(token));
}

}  // namespace autointerp::records
