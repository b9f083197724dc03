#pragma once
// The activations of a latent's neighbours, read from an open cache, for the `neighbours`
// non-activating source.

#include <autointerp/cache/dataset.hpp>
#include <autointerp/error.hpp>
#include <autointerp/records/non_activating.hpp>

#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace autointerp::records {

/// The activations of `latent`'s neighbours, in the order of `table`, for the `neighbours`
/// non-activating source. A neighbour past the module's width is left out, as delphi leaves out
/// neighbours it has no data for; any other error (a corrupt shard) is returned, naming the file.
/// Blocks while shards decode: call it from CPU threads. Thread-safe.
inline result<std::vector<neighbour_activity>> load_neighbour_activity(cache::dataset const& data,
                                                                              std::string_view module,
                                                                              neighbour_table const& table,
                                                                              std::uint32_t latent) {
  std::vector<neighbour_activity> out;
  auto it = table.find(latent);
  if (it == table.end()) return out;
  out.reserve(it->second.size());
  for (auto const& n : it->second) {
    auto acts = data.load_latent(module, n.latent);
    if (!acts) {
      if (acts.error() == errc::latent_out_of_range) continue;
      return acts.error();
    }
    out.push_back({n.distance, std::make_shared<cache::latent_activations const>(std::move(*acts))});
  }
  return out;
}

}  // namespace autointerp::records
