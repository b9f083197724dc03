#pragma once
// The records flags shared by the commands that build records (`records`, `explain`): delphi's
// window and sampler settings, given as words on the command line, and its neighbour files.

#include "cache_selection.hpp"

#include <autointerp/error.hpp>
#include <autointerp/records/non_activating.hpp>
#include <autointerp/records/record_options.hpp>

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

namespace cli {

struct record_args {
  autointerp::records::record_options options;
  std::string windows = "max", train_type = "quantiles", test_type = "quantiles", non_activating_source = "random";
  std::string neighbours, neighbours_type = "co-occurrence";
};

inline void add_record_options(CLI::App* cmd, record_args& a) {
  auto& o = a.options;
  cmd->add_option("--example-ctx-len", o.example_ctx_len, "tokens per window; must divide the cache context")
      ->capture_default_str();
  cmd->add_option("--min-examples", o.min_examples, "skip latents with fewer activating windows")->capture_default_str();
  cmd->add_option("--max-examples", o.max_examples, "keep at most this many top windows (0 = all)")->capture_default_str();
  cmd->add_option("--n-examples-train", o.n_examples_train, "examples shown to the explainer")->capture_default_str();
  cmd->add_option("--n-examples-test", o.n_examples_test, "test examples sampled for scoring (0 = none)")
      ->capture_default_str();
  cmd->add_option("--n-quantiles", o.n_quantiles, "quantiles of the quantiles and mix samplers")->capture_default_str();
  cmd->add_option("--train-type", a.train_type, "top, random, quantiles or mix")->capture_default_str();
  cmd->add_option("--test-type", a.test_type, "quantiles")->capture_default_str();
  cmd->add_option("--ratio-top", o.ratio_top, "mix: share of train examples from the top")->capture_default_str();
  cmd->add_option("--n-non-activating", o.n_non_activating, "non-activating windows, shown by the contrastive explainer (0 = none)")
      ->capture_default_str();
  cmd->add_option("--non-activating-source", a.non_activating_source, "random or neighbours (FAISS is not supported yet)")
      ->capture_default_str();
  cmd->add_option("--neighbours", a.neighbours, "delphi's neighbour JSON, or the folder holding <module>-<type>.json");
  cmd->add_option("--neighbours-type", a.neighbours_type, "neighbour file type when --neighbours is a folder")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "sampler seed (Python random)")->capture_default_str();
  cmd->add_option("--non-activating-seed", o.non_activating_seed, "seed of the random non-activating draw")
      ->capture_default_str();
  cmd->add_option("--windows", a.windows, "max or centered")->capture_default_str();
}

/// Turns the words into `a.options` and checks them. Errors: `errc::bad_option`, one line naming the flag.
inline autointerp::result<void> resolve_record_options(record_args& a) {
  namespace rec = autointerp::records;
  auto bad = [](std::string msg) { return autointerp::make_error(autointerp::errc::bad_option, std::move(msg)); };
  auto w = rec::parse_window_kind(a.windows);
  auto tt = rec::parse_train_sampler(a.train_type);
  auto st = rec::parse_test_sampler(a.test_type);
  auto ns = rec::parse_non_activating_kind(a.non_activating_source);
  if (!w) return bad("--windows '" + a.windows + "': use max or centered");
  if (!tt) return bad("--train-type '" + a.train_type + "': use top, random, quantiles or mix");
  if (!st) return bad("--test-type '" + a.test_type + "': only quantiles is supported");
  if (!ns)
    return bad("--non-activating-source '" + a.non_activating_source +
               "': use random or neighbours (delphi's FAISS source is not supported yet)");
  a.options.windows = *w;
  a.options.train_type = *tt;
  a.options.test_type = *st;
  a.options.non_activating_source = *ns;
  return rec::validate(a.options);
}

/// The module's neighbour lists when the neighbours source is chosen, else null.
inline autointerp::result<std::shared_ptr<autointerp::records::neighbour_table const>> neighbours_for(
    record_args const& a, std::string const& module) {
  if (a.options.non_activating_source != autointerp::records::non_activating_kind::neighbours)
    return std::shared_ptr<autointerp::records::neighbour_table const>{};
  return load_neighbour_table(a.neighbours, module, a.neighbours_type);
}

}  // namespace cli
