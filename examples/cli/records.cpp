// `autointerp records CACHE --module M [--latents SPEC] [options]`: builds each selected latent's
// record the way delphi does and prints it as one line of JSON (the schema of delphi's reference
// fixtures), in latent order. Latents with fewer than --min-examples windows are skipped and
// counted on stderr.
#include "cache_selection.hpp"
#include "commands.hpp"
#include "record_args.hpp"

#include <autointerp/cache/dataset.hpp>
#include <autointerp/cache/latent_spec.hpp>
#include <autointerp/pipeline/run.hpp>
#include <autointerp/records/load_record.hpp>
#include <autointerp/records/record_json.hpp>
#include <autointerp/records/record_options.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <iostream>
#include <map>
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

int usage_error(std::string const& message) { return cli::fail("records", message, 2); }

int run_records(records_args& a) {
  namespace pl = ai::pipeline;
  if (auto v = cli::resolve_record_options(a.rec); !v) return usage_error(v.error().what());
  auto const& options = a.rec.options;

  auto opened = cli::open_module(a.cache, a.tokens_file, a.module, a.memory_budget_mib);
  if (!opened) return usage_error(opened.error().what());
  auto const& data = opened->data;
  auto const* module = opened->module;
  auto tokens = data.tokens(a.module);
  if (!tokens) return usage_error(tokens.error().what());
  if (auto c = rec::check_example_ctx_len(options.example_ctx_len, (*tokens)->ctx); !c)
    return usage_error(c.error().what());

  auto selected = cli::select_latents(a.latents, module->width);
  if (!selected) return usage_error(selected.error().what());
  std::vector<ai::cache::latent_id> latents;
  latents.reserve(selected->size());
  for (auto i : *selected) latents.push_back({a.module, i});

  auto neighbours = cli::neighbours_for(a.rec, a.module);
  if (!neighbours) return usage_error(neighbours.error().what());

  std::shared_ptr<ai::tokenizer::tokenizer const> tok;
  if (a.str_tokens) {
    auto loaded = cli::load_module_tokenizer("records", data, *module, a.tokenizer, true);
    if (!loaded) return usage_error(loaded.error().what());
    tok = std::move(*loaded);
    // Checked once here, so that a mismatched tokenizer is one usage error, not one per latent.
    auto const& ids = (*tokens)->ids;
    if (auto top = std::max_element(ids.begin(), ids.end()); top != ids.end() && *top >= tok->size())
      return usage_error("the cache holds token id " + std::to_string(*top) + " but the tokenizer has " +
                         std::to_string(tok->size()) + " ids: pass the model's own tokenizer with --tokenizer PATH");
  }
  rec::load_options const load{.records = options, .neighbours = std::move(*neighbours)};

  // Records are built on the pool under the scheduler, at most 2 x threads at once, and printed in
  // latent order: finished records wait in `pending` until every earlier latent is out.
  unsigned threads = a.threads ? a.threads : std::max(1u, std::thread::hardware_concurrency());
  boost::asio::io_context io;
  boost::asio::thread_pool pool(threads);
  std::map<std::size_t, std::string> pending;  // position in `latents` -> JSON line ("" = nothing to print)
  std::map<std::uint32_t, std::size_t> position;
  for (std::size_t i = 0; i < latents.size(); ++i) position.emplace(latents[i].index, i);
  std::size_t next_out = 0, skipped = 0, failed = 0;
  std::string first_error;

  pl::run_hooks hooks;
  hooks.process = [&](ai::cache::latent_id id) -> boost::asio::awaitable<pl::latent_outcome> {
    pl::latent_outcome out;
    out.latent = id;
    ai::diagnostics diag;
    auto load_one = rec::async_load_record(data, id, load, tok.get(), pool.get_executor(), diag,
                                           boost::asio::as_tuple(boost::asio::use_awaitable));
    auto [ec, record] = co_await std::move(load_one);
    std::string line;
    if (!ec) {
      out.status = pl::latent_status::explained;
      line = rec::to_json_line(record);
    } else {
      out.status = ec == ai::errc::too_few_examples ? pl::latent_status::skipped : pl::latent_status::failed;
      if (out.status == pl::latent_status::failed) out.error = diag.to_error(ec);
    }
    pending[position.at(id.index)] = std::move(line);
    for (auto it = pending.find(next_out); it != pending.end(); it = pending.find(next_out)) {
      std::cout << it->second;
      pending.erase(it);
      ++next_out;
    }
    co_return out;
  };
  hooks.on_finished = [&](pl::latent_outcome const& o) {
    if (o.status == pl::latent_status::skipped) ++skipped;
    if (o.status == pl::latent_status::failed) {
      ++failed;
      if (first_error.empty() && o.error) first_error = o.error->what();
    }
  };
  ai::diagnostics diag;
  boost::system::error_code run_ec;
  pl::async_run(io.get_executor(), std::move(latents), hooks, {.max_concurrent = 2 * std::size_t{threads}}, diag,
                [&](boost::system::error_code ec, pl::run_summary) { run_ec = ec; });
  io.run();
  std::cout.flush();
  pool.join();
  if (run_ec) return cli::fail("records", diag.to_error(run_ec).what(), 1);
  if (skipped)
    std::cerr << "autointerp records: skipped " << skipped << " of " << selected->size()
              << " latents with fewer than " << options.min_examples << " activating windows (--min-examples)\n";
  if (failed) return cli::fail("records", std::to_string(failed) + " latents failed; first: " + first_error, 1);
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
