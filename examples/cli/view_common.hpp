#pragma once
// What `show` and `report` share: opening the cache, choosing the module, finding the tokenizer
// and the options that say which windows a view shows.

#include "cache_selection.hpp"

#include <autointerp/cache/dataset.hpp>
#include <autointerp/records/record_options.hpp>
#include <autointerp/report/load_view.hpp>
#include <autointerp/pipeline/run_store.hpp>
#include <autointerp/score/run_scores.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cli::views {

/// Options common to both commands.
struct source_args {
  std::string cache, module, tokenizer, tokens_file, run, windows = "max";
  std::size_t memory_budget_mib = 1024;
  autointerp::report::view_options view;
};

inline void add_source_options(CLI::App* cmd, source_args& a) {
  cmd->add_option("cache", a.cache, "the latent cache folder (delphi's layout or native)")->required();
  cmd->add_option("--module", a.module, "module (folder); may be omitted when the cache has one");
  cmd->add_option("--n", a.view.n_windows, "windows shown per latent (the strongest)")->capture_default_str();
  cmd->add_option("--windows", a.windows, "max or centered (delphi's window kinds)")->capture_default_str();
  cmd->add_option("--example-ctx-len", a.view.example_ctx_len,
                  "tokens per window (default: 32 when it divides the cache's context, else a whole row)");
  cmd->add_option("--run,--explanations", a.run,
                  "a run's output folder (--out of explain or score): explanations, status and scores; or delphi's "
                  "explanations folder");
  cmd->add_option("--tokenizer", a.tokenizer, "tokenizer.json or its folder (default: beside or inside the cache, else the Hugging Face hub cache)");
  cmd->add_option("--tokens-file", a.tokens_file, "token matrix (.npy or .safetensors) for caches without tokens");
  cmd->add_option("--memory-budget", a.memory_budget_mib, "MiB of decoded delphi shards kept in memory")
      ->capture_default_str();
}

/// An open source of views, or the exit code to return.
struct source {
  autointerp::cache::dataset data;
  autointerp::cache::module_info const* module = nullptr;
  std::shared_ptr<autointerp::tokenizer::tokenizer const> tok;
  std::optional<autointerp::pipeline::run_store> results;  ///< --run, read only
  std::vector<std::string> scorers;                         ///< the run's scorers (folders under scores/)
  autointerp::report::view_options view;
};

inline int usage_error(std::string_view command, std::string const& message) { return fail(command, message, 2); }

/// Opens everything `a` names. On failure prints one line and returns the exit code (2).
inline std::variant<source, int> open_source(std::string_view command, source_args& a) {
  namespace ai = autointerp;
  auto kind = ai::records::parse_window_kind(a.windows);
  if (!kind) return usage_error(command, "--windows '" + a.windows + "': use max or centered");
  a.view.windows = *kind;
  auto opened = open_module(a.cache, a.tokens_file, a.module, a.memory_budget_mib);
  if (!opened) return usage_error(command, opened.error().what());
  auto* data = &opened->data;
  auto const* module = opened->module;
  source s{*data, module, nullptr, std::nullopt, {}, a.view};

  auto tok = load_module_tokenizer(command, *data, *module, a.tokenizer, false);
  if (!tok) return usage_error(command, tok.error().what());
  s.tok = std::move(*tok);
  if (!a.run.empty()) {
    auto r = ai::pipeline::run_store::open(a.run, ai::pipeline::store_mode::read);
    if (!r) return usage_error(command, r.error().what());
    s.results = std::move(*r);
    s.scorers = ai::score::list_scorers(*s.results);
  }
  return s;
}

/// The view of one latent with its explanation, status and scores filled from the run, if any: one
/// entry per scorer with a score file for the latent (a damaged file is an entry with its error, so
/// one bad file never stops a report).
inline autointerp::result<autointerp::report::latent_view> load_view(source const& s, std::uint32_t index) {
  namespace ai = autointerp;
  auto v = ai::report::load_latent_view(s.data, s.tok.get(), {s.module->name, index}, s.view);
  if (v && s.results) {
    if (auto e = s.results->find(v->latent)) {
      v->explanation = std::move(e->explanation);
      v->status = std::string(ai::pipeline::to_string(e->status));
    }
    v->scores = ai::report::load_scorer_figures(*s.results, s.scorers, v->latent);
  }
  return v;
}

}  // namespace cli::views
