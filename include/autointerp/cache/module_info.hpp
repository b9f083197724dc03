#pragma once
// What `dataset::open` learns about each module of a cache without decoding activations.

#include <autointerp/cache/latent_activations.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace autointerp::cache {

/// How a cache is stored on disk.
enum class cache_format : std::uint8_t {
  delphi,  ///< delphi's layout: `<module>/{start}_{end}.safetensors[.zst]` plus `config.json`
  native,  ///< autointerp's indexed, latent-major files written by `convert` (docs/native_format.md)
};

/// One file holding latents `first_latent..last_latent` (inclusive) of a module.
struct shard_info {
  std::uint32_t first_latent = 0;
  std::uint32_t last_latent = 0;
  std::filesystem::path path;
  bool zstd = false;           ///< compressed as a whole (`.safetensors.zst`)
  std::uint64_t file_size = 0; ///< bytes on disk
};

/// A module (one SAE's latents) of a cache.
struct module_info {
  std::string name;             ///< folder name, e.g. "layers.3" or ".model.layers.10"
  std::filesystem::path path;   ///< the module folder
  cache_format format = cache_format::delphi;
  std::uint32_t width = 0;      ///< number of latents
  std::uint32_t ctx_len = 0;    ///< tokens per row of the token matrix
  std::uint64_t rows = 0;       ///< rows of the token matrix (0 if unknown: no tokens anywhere)
  std::string model_name;       ///< from config.json; may be empty
  activation_dtype dtype = activation_dtype::f16;  ///< storage type of the activations
  bool has_tokens = false;      ///< tokens come with the cache (else from open_options::tokens_file)
  std::vector<shard_info> shards;  ///< sorted by first_latent
};

}  // namespace autointerp::cache
