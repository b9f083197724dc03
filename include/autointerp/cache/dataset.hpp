#pragma once
// A latent cache on disk (delphi's layout, with plain or .zst shards, or autointerp's native
// format): its modules, token matrices, and each latent's activations.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/cache/module_info.hpp>
#include <autointerp/cache/shard_cache.hpp>
#include <autointerp/cache/token_matrix.hpp>
#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/run_on.hpp>

#include <boost/asio/deferred.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace autointerp::cache {

/// How to open a cache.
struct open_options {
  /// Bytes of decoded shards the shared shard cache keeps (default 1 GiB). A single delphi shard
  /// must fit: it is decompressed and decoded within this budget, else loading fails with
  /// `errc::memory_budget`. Native caches decode per latent and need little of it.
  std::size_t memory_budget = std::size_t{1} << 30;
  /// Token matrix for caches whose shards have no `tokens` tensor (`.npy` or `.safetensors`).
  /// When set, it is used for every module, even if the shards carry tokens. Empty = none.
  std::filesystem::path tokens_file;
};

/// Per-latent figures that need no activation values: the count, and the largest activation.
struct latent_summary {
  std::uint32_t count = 0;
  float max = 0;
};

/// What `open` reads from a delphi module's `config.json`.
struct module_config {
  std::uint32_t ctx_len = 0;   ///< `cache_ctx_len` (or `ctx_len` in older caches): tokens per row
  std::uint64_t n_tokens = 0;  ///< `n_tokens` when a positive integer, else 0
  std::string model_name;      ///< `model_name`; empty when absent
};

/// Parses the text of a module's `config.json`; `file` names it in messages. Other keys are
/// ignored. Error: `errc::bad_config` (not a JSON object, no positive 32-bit context length, a
/// `model_name` that is not a string). Pure, thread-safe.
AUTOINTERP_DECL result<module_config> parse_module_config(std::string_view json, std::filesystem::path const& file);

namespace detail {
struct dataset_state;
}

/// An open latent cache. Cheap to copy (copies share state, including the shard cache); every
/// const member is thread-safe, so many latent tasks may load from one dataset at once.
class dataset {
 public:
  /// Opens the cache at `root`: a folder of module folders, a single module folder, or a native
  /// cache written by `convert` (recognised by its `autointerp-cache.json` marker). Reads only
  /// config files, shard names and the first shard's header (native: header and index).
  ///
  /// Errors: `errc::file_not_found` (no such folder), `errc::no_shards` (no module folder with
  /// shards; the message lists the folders seen), `errc::config_missing` (names the file looked
  /// for and the module folders found), `errc::bad_config`, `errc::bad_shape` (overlapping shard
  /// ranges, context lengths that disagree), header errors of the first shard or native file.
  static AUTOINTERP_DECL result<dataset> open(std::filesystem::path root, open_options opts = {});

  /// `open` on the executor `cpu`.
  /// - Handler signature: `void(error_code, dataset)`; pass `diagnostics& diag` before the token to
  ///   keep the error's text, or use `with_diagnostics(token)`.
  /// - Completion executor: the handler's associated executor; without one, `cpu`.
  /// - Lifetimes: `root` and `opts` are copied.
  /// - Cancellation: `terminal` before the work starts completes with `errc::cancelled`.
  /// - Errors: those of `open`. Thread-safety: safe to call from any thread.
  template <class Executor, class CompletionToken = boost::asio::deferred_t>
    requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
  static auto async_open(Executor const& cpu, std::filesystem::path const& root, open_options const& opts,
                         CompletionToken&& token = {}) {
    return async_run_on(cpu, [root, opts]() -> result<dataset> { return open(root, opts); },
                        std::forward<CompletionToken>(token));
  }
  template <class Executor, class CompletionToken = boost::asio::deferred_t>
  static auto async_open(Executor const& cpu, std::filesystem::path const& root, open_options const& opts,
                         diagnostics& diag, CompletionToken&& token = {}) {
    return async_run_on(cpu, [root, opts]() -> result<dataset> { return open(root, opts); }, diag,
                        std::forward<CompletionToken>(token));
  }
  /// `async_open` with default options. (An overload rather than a default argument: g++ 12
  /// mishandles class-type default arguments inside `co_await` expressions.)
  template <class Executor, class CompletionToken = boost::asio::deferred_t>
    requires(!std::is_same_v<std::decay_t<CompletionToken>, open_options> &&
             !std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
  static auto async_open(Executor const& cpu, std::filesystem::path const& root, CompletionToken&& token = {}) {
    return async_run_on(cpu, [root]() -> result<dataset> { return open(root); }, std::forward<CompletionToken>(token));
  }

  AUTOINTERP_DECL std::filesystem::path const& root() const noexcept;
  AUTOINTERP_DECL cache_format format() const noexcept;
  /// Every module, sorted by name.
  AUTOINTERP_DECL std::span<module_info const> modules() const noexcept;
  /// The module called `name`. Errors: `errc::unknown_module` (the message lists the modules).
  AUTOINTERP_DECL result<module_info const*> module(std::string_view name) const;

  /// The module's token matrix, read once and shared. Errors: `errc::unknown_module`,
  /// `errc::tokens_missing` (no tokens in the shards and no `tokens_file`), `errc::bad_shape`
  /// (the matrix disagrees with the module's context length or rows), read/decode errors.
  AUTOINTERP_DECL result<std::shared_ptr<token_matrix const>> tokens(std::string_view module) const;

  /// Every activation of `latent`, sorted by (row, position). Delphi shards are decoded through the
  /// shared shard cache (one decode serves every latent of the shard while it stays cached); native
  /// caches read only the latent's block. A latent that never fires gives empty activations.
  /// Errors: `errc::unknown_module`, `errc::latent_out_of_range`, `errc::no_shards` (no shard holds
  /// the latent), `errc::memory_budget`, and file/decode errors naming the file. Blocks the calling
  /// thread while decoding: use `async_load_latent` from an I/O thread.
  AUTOINTERP_DECL result<latent_activations> load_latent(std::string_view module, std::uint32_t latent) const;

  /// `load_latent` on the executor `cpu`. Handler signature `void(error_code, latent_activations)`;
  /// completion executor, cancellation and diagnostics as for `async_open`. The dataset is shared
  /// (a copy of this handle is kept until the work ends). Thread-safe.
  template <class Executor, class CompletionToken = boost::asio::deferred_t>
    requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
  auto async_load_latent(Executor const& cpu, std::string_view module, std::uint32_t latent,
                         CompletionToken&& token = {}) const {
    return async_run_on(
        cpu, [self = *this, module = std::string(module), latent]() { return self.load_latent(module, latent); },
        std::forward<CompletionToken>(token));
  }
  template <class Executor, class CompletionToken = boost::asio::deferred_t>
  auto async_load_latent(Executor const& cpu, std::string_view module, std::uint32_t latent, diagnostics& diag,
                         CompletionToken&& token = {}) const {
    return async_run_on(
        cpu, [self = *this, module = std::string(module), latent]() { return self.load_latent(module, latent); },
        diag, std::forward<CompletionToken>(token));
  }

  /// Count and maximum of every latent of `module` (index = latent). Native caches answer from
  /// their index without decoding activations; delphi caches decode every shard. Errors as for
  /// `load_latent`.
  AUTOINTERP_DECL result<std::vector<latent_summary>> summaries(std::string_view module) const;

  /// Counters of the shared shard cache.
  AUTOINTERP_DECL shard_cache_stats cache_stats() const;
  /// Bytes read from native files so far (0 for delphi caches), for benchmarks.
  AUTOINTERP_DECL std::uint64_t native_bytes_read() const;

 private:
  std::shared_ptr<detail::dataset_state const> state_;
};

}  // namespace autointerp::cache

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/cache/impl/dataset.ipp>
#endif
