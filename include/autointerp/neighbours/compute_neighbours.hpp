#pragma once
// The one entry point: a module's neighbours by any of delphi's three methods, from the cache
// (co-occurrence) or the SAE's weight file (decoder or encoder similarity), on a CPU executor.
// The SDK prints nothing: progress goes to the callback given.

#include <autointerp/cache/dataset.hpp>
#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/neighbours/cooccurrence.hpp>
#include <autointerp/neighbours/neighbour_lists.hpp>
#include <autointerp/neighbours/weight_similarity.hpp>
#include <autointerp/run_on.hpp>

#include <boost/asio/deferred.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <type_traits>
#include <utility>

namespace autointerp::neighbours {

/// What to compute, and how.
struct compute_options {
  neighbours::method method = neighbours::method::cooccurrence;
  /// Neighbours per latent (delphi's default 10).
  std::uint32_t k = 10;
  /// decoder / encoder: the SAE weights, a .safetensors file or the folder holding it
  /// (`find_sae_file`). Unused for co-occurrence.
  std::filesystem::path sae;
  /// co-occurrence: bytes the token sets may take (`cooccurrence_options::memory_budget`).
  std::size_t memory_budget = std::size_t{1} << 30;
  /// Threads, the one running the operation included (1 = that thread only).
  std::size_t threads = 1;
  /// decoder / encoder: the matrix product (`similarity_options::gemm`); empty = the plain loop.
  gemm_function gemm;
  /// Called as the work advances (phase, done, total); may be empty.
  progress_callback progress;
};

/// The lists and where they came from.
struct computed_neighbours {
  neighbour_lists lists;
  /// "co-occurrence of 1,048,576 tokens" or `weight_rows::describe()`, for logs.
  std::string source;
};

/// Computes the neighbours of every latent of `module`. Co-occurrence reads the cache;
/// similarity reads `options.sae` and checks its width against the module's.
///
/// Errors: `errc::unknown_module`; the cache's read errors and `errc::memory_budget`
/// (co-occurrence); those of `load_sae_weights` and `errc::bad_shape` when the weights have
/// another width than the module (similarity); `errc::bad_option` (k = 0, no `sae` for a
/// similarity method). Blocks the calling thread; thread-safe (the dataset is only read).
AUTOINTERP_DECL result<computed_neighbours> compute_neighbours(cache::dataset const& data, std::string const& module,
                                                               compute_options const& options);

/// `compute_neighbours` on the executor `cpu` (for example an `asio::thread_pool`'s).
///
/// - Handler signature: `void(error_code, computed_neighbours)`.
/// - Completion executor: the handler's associated executor (a coroutine's own); without one, `cpu`.
/// - Lifetimes: `data`, `module` and `options` are copied (the dataset is a shared handle).
/// - Cancellation: `terminal` before the work starts completes with `errc::cancelled`; once
///   started, the work runs to the end.
/// - Errors: those of `compute_neighbours`; their text goes to `diag` when given (or use
///   `with_diagnostics(token)`).
/// - Thread-safety: safe to start from any thread; `options.progress` is called on the CPU thread.
template <class Executor, class CompletionToken = boost::asio::deferred_t>
  requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
auto async_compute_neighbours(cache::dataset const& data, std::string const& module, compute_options const& options,
                              Executor const& cpu, CompletionToken&& token = {}) {
  return async_run_on(cpu, [data, module, options] { return compute_neighbours(data, module, options); },
                      std::forward<CompletionToken>(token));
}

/// `async_compute_neighbours` keeping the error's text in `diag`.
template <class Executor, class CompletionToken = boost::asio::deferred_t>
auto async_compute_neighbours(cache::dataset const& data, std::string const& module, compute_options const& options,
                              Executor const& cpu, diagnostics& diag, CompletionToken&& token = {}) {
  return async_run_on(cpu, [data, module, options] { return compute_neighbours(data, module, options); }, diag,
                      std::forward<CompletionToken>(token));
}

}  // namespace autointerp::neighbours

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/neighbours/impl/compute_neighbours.ipp>
#endif
