#pragma once
// What every command that reads latents does first: open the cache it names, choose the module
// (--module may be left out when the cache has one), turn --latents into indices, find the
// tokenizer, and say SDK messages in the tool's own words (flags instead of option fields).

#include <autointerp/cache/dataset.hpp>
#include <autointerp/cache/latent_spec.hpp>
#include <autointerp/records/non_activating.hpp>
#include <autointerp/tokenizer/find_tokenizer.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>
#include <string_view>
#include <utility>
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

/// `message` with the SDK's option fields named by the flags that set them: the SDK names fields
/// (`record_options::min_examples`), the tool's users know flags (`--min-examples`).
inline std::string in_flags(std::string message) {
  static constexpr std::pair<std::string_view, std::string_view> names[] = {
      {"record_options::example_ctx_len", "--example-ctx-len"},
      {"record_options::min_examples", "--min-examples"},
      {"record_options::max_examples", "--max-examples"},
      {"record_options::n_examples_train", "--n-examples-train"},
      {"record_options::n_examples_test", "--n-examples-test"},
      {"record_options::n_quantiles", "--n-quantiles"},
      {"record_options::train_type", "--train-type"},
      {"record_options::ratio_top", "--ratio-top"},
      {"record_options::n_non_activating", "--n-non-activating"},
      {"record_options::non_activating_source", "--non-activating-source"},
      {"open_options::tokens_file", "--tokens-file"},
      {"open_options::memory_budget", "--memory-budget"},
      {"cooccurrence_options::memory_budget", "--memory-budget"},
      {"compute_options::sae", "--sae"},
      {"compute_options::k", "--k"},
      {"tokenizer_search::explicit_path", "--tokenizer PATH"},
      {"convert_options::replace", "--force"},
      {"job_options::out", "--out"},
      {"run_options::max_concurrent", "--concurrency"},
  };
  for (auto const& [field, flag] : names)
    for (auto at = message.find(field); at != std::string::npos; at = message.find(field, at + flag.size()))
      message.replace(at, field.size(), flag);
  return message;
}

/// Prints `autointerp COMMAND: message` (in flags) and returns `code`.
inline int fail(std::string_view command, std::string const& message, int code = 2) {
  std::cerr << "autointerp " << command << ": " << in_flags(message) << "\n";
  return code;
}

/// The module's tokenizer, found once for every command: `explicit_path` (--tokenizer), else
/// beside or inside the cache, else the Hugging Face hub cache of config.json's model. Not found
/// and not `required`: a note on stderr and a null tokenizer (token ids are shown instead).
inline autointerp::result<std::shared_ptr<autointerp::tokenizer::tokenizer const>> load_module_tokenizer(
    std::string_view command, autointerp::cache::dataset const& data, autointerp::cache::module_info const& module,
    std::filesystem::path const& explicit_path, bool required) {
  namespace tk = autointerp::tokenizer;
  auto path = tk::find_tokenizer_for_module(data.root(), module, explicit_path);
  if (!path) {
    if (required || !explicit_path.empty()) return path.error();
    std::cerr << "autointerp " << command << ": " << in_flags(path.error().what()) << "; token ids are shown instead\n";
    return std::shared_ptr<tk::tokenizer const>();
  }
  auto loaded = tk::load_tokenizer(*path);
  if (!loaded) return loaded.error();
  return std::make_shared<tk::tokenizer const>(std::move(*loaded));
}

}  // namespace cli
