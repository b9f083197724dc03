#pragma once
// Finding the tokenizer.json that belongs to a latent cache: an explicit path, else a file beside
// the cache, else the Hugging Face hub cache for the cache's model_name.

#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/cache/module_info.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace autointerp::tokenizer {

/// Where to look for a tokenizer.json. Every member is optional.
struct tokenizer_search {
  /// A file, or a folder holding tokenizer.json (the CLI's `--tokenizer PATH`). When set it is the
  /// only place looked at: a wrong explicit path is an error, never silently replaced.
  std::filesystem::path explicit_path;
  /// A module folder of the cache (holds config.json and the shards); looked at first.
  std::filesystem::path module_dir;
  /// The cache folder (holds one folder per module).
  std::filesystem::path cache_root;
  /// The model the cache was built from (config.json's `model_name`, e.g. "EleutherAI/pythia-70m"),
  /// or a local folder holding tokenizer.json. Empty: read from config.json of `module_dir`, or of
  /// the first module of `cache_root` that has one.
  std::string model_name;
  /// Hugging Face hub cache folders (each holding models--ORG--NAME/). Empty: `default_hub_caches()`.
  std::vector<std::filesystem::path> hub_caches;
};

/// The hub cache folders named by the environment, in huggingface_hub's order, duplicates removed:
/// `$HF_HUB_CACHE`, `$HF_HOME/hub`, `$XDG_CACHE_HOME/huggingface/hub`, `~/.cache/huggingface/hub`.
/// Reads environment variables: do not call while another thread calls setenv.
AUTOINTERP_DECL std::vector<std::filesystem::path> default_hub_caches();

/// The tokenizer.json to use, looked for in this order: `explicit_path`; `module_dir/tokenizer.json`;
/// `cache_root/tokenizer.json`; `tokenizer.json` beside the cache folder (in its parent, as in
/// examples/data); `model_name` as a local folder; for each hub cache,
/// `models--ORG--NAME/snapshots/<refs/main>/tokenizer.json`, then the newest other snapshot.
/// Errors: `errc::file_not_found` when the explicit path does not exist; `errc::tokenizer_not_found`
/// otherwise, with one line listing the places tried and how to get the file
/// (`huggingface-cli download ORG/NAME tokenizer.json`, or `--tokenizer PATH`).
/// Thread-safe apart from reading the environment when `hub_caches` is empty.
AUTOINTERP_DECL result<std::filesystem::path> find_tokenizer(tokenizer_search const& search);

/// The short form for tools: `cache` is a cache folder or one of its module folders, `model_name`
/// may be empty (then config.json says it), `explicit_path` may be empty.
AUTOINTERP_DECL result<std::filesystem::path> find_tokenizer_for_cache(std::filesystem::path const& cache,
                                                                       std::string_view model_name,
                                                                       std::filesystem::path const& explicit_path = {});

/// The form for code that opened the cache: `module` is what `cache::dataset` reports (its folder
/// and config.json's model_name), `cache_root` the folder given to `dataset::open`.
AUTOINTERP_DECL result<std::filesystem::path> find_tokenizer_for_module(std::filesystem::path const& cache_root,
                                                                        cache::module_info const& module,
                                                                        std::filesystem::path const& explicit_path = {});

}  // namespace autointerp::tokenizer

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/tokenizer/impl/find_tokenizer.ipp>
#endif
