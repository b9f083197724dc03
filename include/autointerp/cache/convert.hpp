#pragma once
// Converting a cache (delphi or native) into autointerp's native indexed format.

#include <autointerp/cache/dataset.hpp>
#include <autointerp/config.hpp>
#include <autointerp/error.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string_view>

namespace autointerp::cache {

struct convert_options {
  int zstd_level = 3;        ///< zstd level of the latent blocks and tokens (1..19)
  std::size_t threads = 1;   ///< threads that compress blocks (1 = the calling thread only)
  /// Called after each chunk of latents: (module, latents done, module width). May be empty.
  std::function<void(std::string_view, std::uint32_t, std::uint32_t)> progress;
  /// Replace an output folder that holds an earlier (finished or unfinished) conversion. Only a
  /// folder holding nothing but what convert writes is removed; anything else is refused.
  bool replace = false;
};

struct convert_report {
  std::size_t modules = 0;
  std::uint64_t latents = 0;
  std::uint64_t activations = 0;
  std::uint64_t bytes_in = 0;   ///< size of the source files
  std::uint64_t bytes_out = 0;  ///< size of the native files
};

/// Writes `in` as a native cache into the folder `out` (created; must not exist or be empty):
/// `out/<module>/latents.ain` per module, the delphi config.json copied beside it, and the marker
/// `out/autointerp-cache.json` last, so a folder without the marker is an unfinished conversion.
/// Every file is written atomically. Errors: `errc::bad_option` (`out` is not empty and `replace`
/// is off, or it holds files convert did not write, or it is or holds the source cache),
/// `errc::write_failed`, and every read error of `in`. Blocks the calling thread.
AUTOINTERP_DECL result<convert_report> convert_cache(dataset const& in, std::filesystem::path const& out,
                                                     convert_options const& opts = {});

}  // namespace autointerp::cache

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/cache/impl/convert.ipp>
#endif
