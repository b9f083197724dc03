// `autointerp records CACHE --module M [--latents SPEC] [options]`: builds each selected latent's
// record the way delphi does and prints it as one line of JSON (the schema of delphi's reference
// fixtures), in latent order. Latents with fewer than --min-examples windows are skipped and
// counted on stderr.
#include "cache_selection.hpp"
#include "commands.hpp"
#include "record_args.hpp"

#include <autointerp/cache/dataset.hpp>
#include <autointerp/cache/latent_spec.hpp>
#include <autointerp/records/build_record.hpp>
#include <autointerp/records/load_neighbour_activity.hpp>
#include <autointerp/records/non_activating.hpp>
#include <autointerp/records/record_json.hpp>
#include <autointerp/records/record_options.hpp>
#include <autointerp/tokenizer/find_tokenizer.hpp>
#include <autointerp/tokenizer/str_tokens.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <iostream>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ai = autointerp;
namespace rec = autointerp::records;

namespace {

struct records_args {
  std::string cache, module, latents, tokens_file;
  std::string tokenizer;     ///< --tokenizer PATH (else found beside the cache or in the Hugging Face cache)
  bool str_tokens = false;  ///< --str-tokens
  cli::record_args rec;
  unsigned threads = 0;
  std::size_t memory_budget_mib = 1024;
};

int usage_error(std::string const& message) {
  std::cerr << "autointerp records: " << message << "\n";
  return 2;
}

// One latent's outcome: a JSON line, a skip (too few windows) or an error.
struct outcome {
  std::string line;
  bool skipped = false;
  std::string error;
};

int run_records(records_args& a) {
  if (auto v = cli::resolve_record_options(a.rec); !v) return usage_error(v.error().what());
  auto const& options = a.rec.options;

  auto opened = cli::open_module(a.cache, a.tokens_file, a.module, a.memory_budget_mib);
  if (!opened) return usage_error(opened.error().what());
  auto* data = &opened->data;
  auto const* module = opened->module;
  auto tokens = data->tokens(a.module);
  if (!tokens) return usage_error(tokens.error().what());
  if (auto c = rec::check_example_ctx_len(options.example_ctx_len, (*tokens)->ctx); !c)
    return usage_error(c.error().what());

  auto selected = cli::select_latents(a.latents, module->width);
  if (!selected) return usage_error(selected.error().what());
  std::vector<std::uint32_t> latents = std::move(*selected);

  auto neighbours = cli::neighbours_for(a.rec, a.module);
  if (!neighbours) return usage_error(neighbours.error().what());

  // Steps applied to each built record before it is printed (the tokenizer's --str-tokens fills
  // `str_tokens` here).
  std::vector<std::function<void(rec::latent_record&)>> finish;
  std::shared_ptr<ai::tokenizer::tokenizer const> tok;
  if (a.str_tokens) {
    auto path = ai::tokenizer::find_tokenizer_for_module(a.cache, *module, a.tokenizer);
    if (!path) return usage_error(path.error().what());
    auto loaded = ai::tokenizer::load_tokenizer(*path);
    if (!loaded) return usage_error(loaded.error().what());
    tok = std::make_shared<ai::tokenizer::tokenizer const>(std::move(*loaded));
    // Checked once here, so filling a record cannot fail later.
    auto const& ids = (*tokens)->ids;
    if (auto top = std::max_element(ids.begin(), ids.end()); top != ids.end() && *top >= tok->size())
      return usage_error("the cache holds token id " + std::to_string(*top) + " but " + path->string() + " has " +
                         std::to_string(tok->size()) + " ids: pass the model's own tokenizer with --tokenizer PATH");
    finish.push_back([tok](rec::latent_record& r) { (void)ai::tokenizer::add_str_tokens(*tok, r); });
  }

  auto build_one = [&](std::uint32_t latent) -> outcome {
    auto acts = data->load_latent(a.module, latent);
    if (!acts) return {{}, false, acts.error().what()};
    std::vector<rec::neighbour_activity> nbs;
    if (*neighbours) {
      auto loaded = rec::load_neighbour_activity(*data, a.module, **neighbours, latent);
      if (!loaded) return {{}, false, loaded.error().what()};
      nbs = std::move(*loaded);
    }
    auto r = rec::build_record(**tokens, *acts, options, nbs);
    if (!r) {
      if (r.error() == ai::errc::too_few_examples) return {{}, true, {}};
      return {{}, false, r.error().what()};
    }
    for (auto const& f : finish) f(*r);
    return {rec::to_json_line(*r), false, {}};
  };

  unsigned threads = a.threads ? a.threads : std::max(1u, std::thread::hardware_concurrency());
  boost::asio::thread_pool pool(threads);
  std::size_t const batch = 256;
  std::size_t skipped = 0, failed = 0;
  std::string first_error;
  std::vector<outcome> results;
  for (std::size_t begin = 0; begin < latents.size(); begin += batch) {
    std::size_t const end = std::min(latents.size(), begin + batch);
    results.assign(end - begin, outcome{});
    std::latch done(static_cast<std::ptrdiff_t>(end - begin));
    for (std::size_t i = begin; i < end; ++i)
      boost::asio::post(pool, [&, i] {
        try {
          results[i - begin] = build_one(latents[i]);
        } catch (std::exception const& e) {
          results[i - begin] = {{}, false, e.what()};
        }
        done.count_down();
      });
    done.wait();
    for (auto& r : results) {
      if (r.skipped) ++skipped;
      else if (!r.error.empty()) {
        ++failed;
        if (first_error.empty()) first_error = r.error;
      } else std::cout << r.line;
    }
  }
  std::cout.flush();
  pool.join();
  if (skipped)
    std::cerr << "autointerp records: skipped " << skipped << " of " << latents.size()
              << " latents with fewer than " << options.min_examples << " activating windows (--min-examples)\n";
  if (failed) {
    std::cerr << "autointerp records: " << failed << " latents failed; first: " << first_error << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

namespace cli {

void add_records_command(CLI::App& app, action& run) {
  auto args = std::make_shared<records_args>();
  auto* cmd = app.add_subcommand("records", "print each latent's record (delphi's windows and samples) as JSON Lines");
  cmd->add_option("cache", args->cache, "cache folder (delphi layout or native)")->required();
  cmd->add_option("--module", args->module, "module (required when the cache has several)");
  cmd->add_option("--latents", args->latents, "latents, e.g. 0-9,17,100-199 (default: all)");
  add_record_options(cmd, args->rec);
  cmd->add_option("--tokens-file", args->tokens_file, "token matrix (.npy/.safetensors) for caches without tokens");
  cmd->add_option("--memory-budget", args->memory_budget_mib, "MiB of decoded delphi shards kept in memory")
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "worker threads (default: all cores)");
  cmd->add_flag("--str-tokens", args->str_tokens,
                "add \"str_tokens\" (each token decoded alone, as Hugging Face does) beside \"tokens\"");
  cmd->add_option("--tokenizer", args->tokenizer,
                  "tokenizer.json for --str-tokens (default: beside the cache, else the Hugging Face cache of "
                  "config.json's model_name)");
  cmd->callback([args, &run] { run = [args] { return run_records(*args); }; });
}

}  // namespace cli
