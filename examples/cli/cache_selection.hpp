#pragma once
// What every command that reads latents does first: open the cache it names, choose the module
// (--module may be left out when the cache has one), and turn --latents into indices.

#include <autointerp/cache/dataset.hpp>
#include <autointerp/cache/latent_spec.hpp>
#include <autointerp/records/non_activating.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

namespace cli {

struct opened_module {
  autointerp::cache::dataset data;
  autointerp::cache::module_info const* module = nullptr;
};

/// Opens `cache` and its module `module`; an empty `module` is set to the cache's only one.
/// `memory_budget_mib` bounds the decoded delphi shards kept in memory (--memory-budget).
inline autointerp::result<opened_module> open_module(std::string const& cache,
                                                     std::filesystem::path const& tokens_file,
                                                     std::string& module, std::size_t memory_budget_mib) {
  autointerp::cache::open_options oo;
  oo.tokens_file = tokens_file;
  oo.memory_budget = memory_budget_mib << 20;
  auto data = autointerp::cache::dataset::open(cache, oo);
  if (!data) return data.error();
  if (module.empty()) {
    if (data->modules().size() != 1) {
      std::string names;
      for (auto const& m : data->modules()) names += (names.empty() ? "" : ", ") + m.name;
      return autointerp::make_error(autointerp::errc::unknown_module,
                                    "the cache has several modules (" + names + "); choose one with --module");
    }
    module = data->modules().front().name;
  }
  auto info = data->module(module);
  if (!info) return info.error();
  return opened_module{std::move(*data), *info};
}

/// The latents `spec` selects ("0-9,17"), or every latent of the module when `spec` is empty.
inline autointerp::result<std::vector<std::uint32_t>> select_latents(std::string const& spec, std::uint32_t width) {
  if (!spec.empty()) return autointerp::cache::parse_latent_spec(spec, width);
  std::vector<std::uint32_t> all(width);
  std::iota(all.begin(), all.end(), std::uint32_t{0});
  return all;
}

/// delphi's neighbour lists for `module`: `path` names the JSON file itself, or the folder holding
/// `<module>-<type>.json`. An empty `path` is a usage error: the neighbours source needs the file.
inline autointerp::result<std::shared_ptr<autointerp::records::neighbour_table const>> load_neighbour_table(
    std::string const& path, std::string const& module, std::string const& type) {
  if (path.empty())
    return autointerp::make_error(autointerp::errc::bad_option,
                                  "--non-activating-source neighbours needs --neighbours PATH (delphi's "
                                  "<module>-<type>.json, or the folder holding it)");
  std::filesystem::path p = path;
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) p = autointerp::records::neighbour_file(p, module, type);
  auto table = autointerp::records::load_neighbours(p);
  if (!table) return table.error();
  return std::make_shared<autointerp::records::neighbour_table const>(std::move(*table));
}

}  // namespace cli
