// `autointerp explain`: the main job. Every selected latent of one module is loaded, turned into a
// record, explained (by an LLM, the statistical baseline, or a dry run that only writes prompts) and
// saved, at most --concurrency at once. Ctrl-C once drains (in-flight latents finish and are
// saved), twice cancels them.
#include "cache_selection.hpp"
#include "commands.hpp"
#include "record_args.hpp"

#include <autointerp/cache/dataset.hpp>
#include <autointerp/cache/latent_spec.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/llm/client_options.hpp>
#include <autointerp/llm/endpoint.hpp>
#include <autointerp/explain/dry_run_explainer.hpp>
#include <autointerp/explain/llm_explainer.hpp>
#include <autointerp/explain/statistical_explainer.hpp>
#include <autointerp/pipeline/explain_stage.hpp>
#include <autointerp/pipeline/job.hpp>
#include <autointerp/pipeline/run.hpp>
#include <autointerp/pipeline/shard.hpp>
#include <autointerp/records/record_options.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

namespace asio = boost::asio;
namespace ai = autointerp;

namespace {

struct explain_args {
  std::string cache, module, latents, out;
  std::string provider, model, base_url, tokenizer, tokens_file, shard = "0/1";
  std::string explainer = "default";
  std::size_t concurrency = 16;
  std::size_t memory_budget_mib = 1024;
  bool resume = false, show_levels = false, cot = false;
  float threshold = 0.3f;
  std::optional<std::uint32_t> max_tokens;
  std::optional<double> temperature;
  cli::record_args rec;
};

int usage_error(std::string const& message) { return cli::fail("explain", message, 2); }

// Progress on stderr: one redrawn bar on a terminal, a plain line every 10 s otherwise (logs, CI, a
// Job's output).
ai::pipeline::progress_sink stderr_progress(bool tty) {
  return [tty](ai::pipeline::progress_report const& r) {
    if (tty) {
      constexpr std::size_t width = 30;
      std::size_t const filled = r.total ? std::min(width, r.done * width / r.total) : width;
      std::string bar(filled, '#');
      bar.resize(width, '.');
      std::fprintf(stderr, "\r\x1b[K[%s] %s%s", bar.c_str(), r.status.c_str(), r.final ? "\n" : "");
    } else {
      std::fprintf(stderr, "autointerp: %s\n", r.status.c_str());
    }
    std::fflush(stderr);
  };
}

int run_explain(explain_args& a) {
  namespace pl = ai::pipeline;
  namespace ex = ai::explain;
  if (auto v = cli::resolve_record_options(a.rec); !v) return usage_error(v.error().what());
  if (a.concurrency == 0) return usage_error("--concurrency must be at least 1");

  ex::llm_explainer_options eo;
  eo.prompt.threshold = a.threshold;
  eo.prompt.show_levels = a.show_levels;
  eo.prompt.chain_of_thought = a.cot;
  if (a.explainer == "default") eo.prompt.kind = ex::explainer_kind::standard;
  else if (a.explainer == "contrastive") eo.prompt.kind = ex::explainer_kind::contrastive;
  else if (a.explainer == "single-token") eo.prompt.kind = ex::explainer_kind::single_token;
  else return usage_error("--explainer '" + a.explainer + "': use default, contrastive or single-token");
  eo.model = a.model;
  eo.max_tokens = a.max_tokens;
  eo.temperature = a.temperature;

  // Provider: an explicit choice, else OpenRouter when its key is set, else the statistical baseline.
  std::string provider = a.provider;
  bool const stats_by_default = provider.empty() && !(std::getenv("OPENROUTER_API_KEY") && *std::getenv("OPENROUTER_API_KEY"));
  if (provider.empty()) provider = stats_by_default ? "stats" : "openrouter";
  bool const llm = provider == "openrouter" || provider == "openai" || provider == "local";
  if (!llm && provider != "stats" && provider != "dry-run")
    return usage_error("--provider '" + provider + "': use openrouter, openai, local, stats or dry-run");
  if (eo.model.empty()) eo.model = provider == "openai" ? "gpt-4o-mini" : provider == "local" ? "default" : "openai/gpt-4o-mini";

  auto shard = pl::parse_shard(a.shard);
  if (!shard) return usage_error("--" + shard.error().what());

  auto opened = cli::open_module(a.cache, a.tokens_file, a.module, a.memory_budget_mib);
  if (!opened) return usage_error(opened.error().what());
  auto const* module = opened->module;
  auto indices = cli::select_latents(a.latents, module->width);
  if (!indices) return usage_error(indices.error().what());
  std::vector<ai::cache::latent_id> latents;
  latents.reserve(indices->size());
  for (auto i : *indices) latents.push_back({a.module, i});
  latents = pl::select_shard(std::move(latents), *shard);

  auto neighbours = cli::neighbours_for(a.rec, a.module);
  if (!neighbours) return usage_error(neighbours.error().what());
  // Without a tokenizer the job still runs, with token ids in the prompts.
  auto tok = cli::load_module_tokenizer("explain", opened->data, *module, a.tokenizer, false);
  if (!tok) return usage_error(tok.error().what());

  asio::io_context io;
  asio::thread_pool cpu(std::max(1u, std::thread::hardware_concurrency()));
  pl::job_sources const sources{.data = opened->data, .tokens = *tok, .cpu = cpu.get_executor()};

  std::unique_ptr<ai::llm::client> client;
  std::unique_ptr<ex::explainer> explainer;
  if (llm) {
    auto ep = ai::llm::preset(provider, a.base_url);
    if (!ep) return usage_error(ep.error().what());
    ai::llm::client_options co;
    co.endpoint = std::move(*ep);
    co.max_connections = a.concurrency;
    co.limits.max_in_flight = a.concurrency;  // the scheduler prepares as many latents again ahead
    client = std::make_unique<ai::llm::client>(io.get_executor(), std::move(co));
    if (auto const* e = client->config_error()) return usage_error(e->what());
    explainer = std::make_unique<ex::llm_explainer>(*client, eo);
  } else if (provider == "dry-run") {
    explainer = std::make_unique<ex::dry_run_explainer>(io.get_executor(), eo);
  } else {
    explainer = std::make_unique<ex::statistical_explainer>(io.get_executor(), eo.prompt.threshold);
  }
  pl::stage_list const stages{std::make_shared<pl::explain_stage>(*explainer)};

  if (stats_by_default)  // said once the inputs are known to be good, so usage errors stay one line
    std::cerr << "autointerp: no LLM configured (OPENROUTER_API_KEY is unset), so the statistical baseline "
                 "explains; set the key or pass --provider openai|local for LLM explanations\n";
  bool const tty = ::isatty(::fileno(stderr));
  pl::job_options const options{.out = a.out,
                                .resume = a.resume,
                                .records = {.records = a.rec.options, .neighbours = std::move(*neighbours)},
                                .progress = stderr_progress(tty),
                                .progress_interval = tty ? std::chrono::milliseconds(100) : std::chrono::seconds(10)};
  auto job = pl::make_job(sources, options, stages, latents.size());
  if (!job) return usage_error(job.error().what());
  if (a.resume) {  // a killed run may have left explanation files without their run.jsonl line
    auto repaired = job->store->repair_run_log();
    if (!repaired) return usage_error(repaired.error().what());
  }

  // First Ctrl-C (or SIGTERM): drain; second: cancel what is in flight.
  asio::cancellation_signal stop;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  int interrupts = 0;
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec, int) {
    if (ec) return;
    if (++interrupts == 1) {
      std::cerr << "\nautointerp: stopping: finishing the latents in flight (Ctrl-C again to cancel them)\n";
      stop.emit(asio::cancellation_type::partial);
      signals.async_wait(on_signal);
    } else {
      std::cerr << "\nautointerp: cancelling the latents in flight\n";
      stop.emit(asio::cancellation_type::terminal);
    }
  };
  signals.async_wait(on_signal);

  std::optional<pl::run_summary> summary;
  ai::diagnostics diag;
  boost::system::error_code run_ec;
  auto const started = std::chrono::steady_clock::now();
  pl::async_run(io.get_executor(), std::move(latents), job->hooks, pl::job_run_options(stages, a.concurrency), diag,
                asio::bind_cancellation_slot(stop.slot(), [&](boost::system::error_code ec, pl::run_summary s) {
                  run_ec = ec;
                  summary = std::move(s);
                  signals.cancel();
                  if (client) client->close_idle_connections();
                }));
  io.run();
  job->progress->finish();
  if (run_ec || !summary) return cli::fail("explain", run_ec ? diag.to_error(run_ec).what() : "the run did not complete", 1);
  auto const& s = *summary;
  double const secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cerr << "autointerp: " << s.explained << " explained, " << s.unparsed << " unparsed, " << s.failed
            << " failed, " << s.skipped << " skipped";
  if (s.already_done) std::cerr << ", " << s.already_done << " already done";
  std::cerr << " in " << static_cast<long long>(secs * 1000) << " ms -> " << a.out << "\n";
  // A fatal error after a good start (key rejected, no credit, disk full) is a runtime failure: 1.
  if (s.stop == pl::stop_reason::fatal && s.fatal) return cli::fail("explain", "stopped: " + s.fatal->what(), 1);
  if (s.failed > 0 || *job->write_error || s.stop != pl::stop_reason::completed) return 1;
  return 0;
}

}  // namespace

void cli::add_explain_command(CLI::App& app, cli::action& run) {
  auto a = std::make_shared<explain_args>();
  auto* cmd = app.add_subcommand("explain", "explain the latents of a module (LLM, statistical baseline or dry run)");
  cmd->add_option("cache", a->cache, "the latent cache folder (delphi's layout or native)")->required();
  cmd->add_option("--module", a->module, "module (folder) to explain; may be omitted when the cache has one");
  cmd->add_option("--latents", a->latents, "latents to explain, e.g. 0-9,17,100-199 (default: all)");
  cmd->add_option("--out", a->out, "output folder: explanations/, run.jsonl (and prompts/ for dry runs)")->required();
  cmd->add_option("--provider", a->provider,
                  "openrouter, openai, local, stats or dry-run (default: openrouter when OPENROUTER_API_KEY is set, else stats)");
  cmd->add_option("--model", a->model, "model name sent to the provider");
  cmd->add_option("--base-url", a->base_url, "OpenAI-compatible base URL (required for local), e.g. http://127.0.0.1:8000/v1");
  cmd->add_option("--concurrency", a->concurrency, "latents explained at once (LLM calls in flight; as many more are prepared ahead)")->capture_default_str();
  cmd->add_flag("--resume", a->resume, "skip latents already explained in --out; never call the LLM for them again");
  cmd->add_option("--shard", a->shard, "K/N: explain only the K-th of N deterministic slices (0 <= K < N)")->capture_default_str();
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.json (default: one beside or inside the cache)");
  cmd->add_option("--tokens-file", a->tokens_file, "token matrix (.npy or .safetensors) for caches without tokens");
  cmd->add_option("--memory-budget", a->memory_budget_mib, "MiB of decoded delphi shards kept in memory")
      ->capture_default_str();
  cmd->add_option("--explainer", a->explainer, "default, contrastive or single-token")->capture_default_str();
  cmd->add_option("--threshold", a->threshold, "a token is highlighted above this fraction of its example's maximum")
      ->capture_default_str();
  cmd->add_flag("--show-levels", a->show_levels, "list each highlighted token with its 0..10 level");
  cmd->add_flag("--cot", a->cot, "ask the model to reason step by step before its answer");
  cmd->add_option("--max-tokens", a->max_tokens, "cap on the answer's length in tokens");
  cmd->add_option("--temperature", a->temperature, "sampling temperature sent to the provider");
  add_record_options(cmd, a->rec);
  cmd->callback([a, &run] { run = [a] { return run_explain(*a); }; });
}
