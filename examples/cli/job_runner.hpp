#pragma once
// What `explain` and `score` share: the cache and latents they read, the provider they call, the
// scorers they run, and the job itself under the scheduler (progress on stderr, Ctrl-C drains then
// cancels, the closing summary line and exit code).

#include "batch_runner.hpp"
#include "cache_selection.hpp"
#include "record_args.hpp"

#include <autointerp/explain/llm_explainer.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/llm/client_options.hpp>
#include <autointerp/llm/endpoint.hpp>
#include <autointerp/pipeline/dry_run_router.hpp>
#include <autointerp/pipeline/job.hpp>
#include <autointerp/pipeline/run.hpp>
#include <autointerp/pipeline/score_stage.hpp>
#include <autointerp/pipeline/shard.hpp>
#include <autointerp/pipeline/spending.hpp>
#include <autointerp/score/embedding_scorer.hpp>
#include <autointerp/score/intruder_scorer.hpp>
#include <autointerp/score/keyword_scorer.hpp>
#include <autointerp/score/llm_scorer.hpp>
#include <autointerp/score/simulation_scorer.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cli {

/// The flags of a job.
struct job_args {
  std::string cache, module, latents, out, tokenizer, tokens_file, shard = "0/1";
  std::string provider, model, base_url;
  std::size_t concurrency = 16;
  std::size_t memory_budget_mib = 1024;
  bool resume = false;
  std::optional<std::uint32_t> max_tokens;
  std::optional<double> temperature;
  std::string scorers;  ///< comma-separated: detection, fuzz, simulation, intruder, embedding
  std::size_t n_examples_shown = 5;
  unsigned score_retries = 2;
  std::string fuzz_type = "default";
  std::string intruder_type = "default";
  bool logprobs = false;
  std::string embedding_model = "text-embedding-3-small", embedding_base_url;
  std::optional<std::string> embedding_prefix;
  std::size_t embedding_batch = 64;
  std::string price, prices_file;  ///< --price spec, --prices FILE
  std::optional<double> max_cost;
  std::optional<std::uint64_t> max_prompt_tokens;
  std::size_t estimate_explanation_chars = 100;
  bool json = false;  ///< dry runs: print the estimate as JSON
  batch_args batch;   ///< --provider openai-batch

  bool wants_scorer(std::string_view name) const {
    for (std::size_t start = 0; start <= scorers.size();) {
      auto comma = scorers.find(',', start);
      if (comma == std::string::npos) comma = scorers.size();
      if (std::string_view(scorers).substr(start, comma - start) == name) return true;
      start = comma + 1;
    }
    return false;
  }
  record_args rec;
};

/// `verb` says what the job does to latents ("explain", "score") in the help texts.
inline void add_job_options(CLI::App* cmd, job_args& a, std::string const& verb) {
  cmd->add_option("cache", a.cache, "the latent cache folder (delphi's layout or native)")->required();
  cmd->add_option("--module", a.module, "module (folder); may be omitted when the cache has one");
  cmd->add_option("--latents", a.latents, "latents to " + verb + ", e.g. 0-9,17,100-199 (default: all)");
  cmd->add_option("--out", a.out, "output folder: explanations/, scores/<scorer>/, run.jsonl (and prompts/ for dry runs)")
      ->required();
  cmd->add_option("--provider", a.provider,
                  "openrouter, openai, openai-batch (OpenAI's Batch API: half price, results within 24 h), local, "
                  "stats or dry-run (default: openrouter when OPENROUTER_API_KEY is set, else stats)");
  cmd->add_option("--model", a.model, "model name sent to the provider");
  cmd->add_option("--base-url", a.base_url, "OpenAI-compatible base URL (required for local), e.g. http://127.0.0.1:8000/v1");
  cmd->add_option("--concurrency", a.concurrency, "LLM calls in flight (as many more latents are prepared ahead)")
      ->capture_default_str();
  cmd->add_flag("--resume", a.resume, "skip work whose files exist in --out; never call the LLM for it again");
  cmd->add_option("--shard", a.shard, "K/N: only the K-th of N deterministic slices of the latents (0 <= K < N)")
      ->capture_default_str();
  cmd->add_option("--tokenizer", a.tokenizer, "tokenizer.json (default: one beside or inside the cache)");
  cmd->add_option("--tokens-file", a.tokens_file, "token matrix (.npy or .safetensors) for caches without tokens");
  cmd->add_option("--memory-budget", a.memory_budget_mib, "MiB of decoded delphi shards kept in memory")->capture_default_str();
  cmd->add_option("--max-tokens", a.max_tokens, "cap on each answer's length in tokens");
  cmd->add_option("--temperature", a.temperature, "sampling temperature sent to the provider");
  cmd->add_option("--scorers", a.scorers,
                  "scorers run on each explanation: detection, fuzz, simulation, intruder, embedding (comma-separated)");
  cmd->add_option("--n-examples-shown", a.n_examples_shown, "examples per scoring prompt")->capture_default_str();
  cmd->add_option("--score-retries", a.score_retries, "times an unparsable scoring answer is asked again")->capture_default_str();
  cmd->add_option("--fuzz-type", a.fuzz_type, "default or active (wrong highlights inside activating examples)")
      ->capture_default_str();
  cmd->add_option("--intruder-type", a.intruder_type,
                  "intruder: default (a non-activating window) or internal (an activating example of another quantile)")
      ->capture_default_str();
  cmd->add_flag("--logprobs", a.logprobs,
                "ask for logprobs: classifier scores get probabilities (and AUC), simulation expected levels");
  cmd->add_option("--embedding-model", a.embedding_model, "embedding scorer: the model")->capture_default_str();
  cmd->add_option("--embedding-base-url", a.embedding_base_url,
                  "embedding scorer: OpenAI-compatible base URL serving /embeddings (default: the chat endpoint)");
  cmd->add_option("--embedding-batch", a.embedding_batch, "embedding scorer: texts per request")->capture_default_str();
  cmd->add_option("--embedding-prefix", a.embedding_prefix,
                  "embedding scorer: instruction put before the explanation (default: delphi's)");
  auto* price = cmd->add_option("--price", a.price,
                                "USD per million tokens for calls whose answer has no usage.cost, e.g. "
                                "prompt=0.15,completion=0.60,cached=0.075 (cached defaults to prompt)");
  cmd->add_option("--prices", a.prices_file, "JSON prices per model: {\"model\": {\"prompt\", \"completion\", \"cached\"}, \"*\": ...}")
      ->excludes(price);
  cmd->add_option("--max-cost", a.max_cost,
                  "stop before a call would take the folder's spending (earlier runs included) past this many USD; exit 3");
  cmd->add_option("--max-prompt-tokens", a.max_prompt_tokens,
                  "stop before a call would take the folder's prompt tokens (earlier runs included) past this; exit 3");
  cmd->add_option("--estimate-explanation-chars", a.estimate_explanation_chars,
                  "dry runs with --scorers: length of the placeholder explanation the scoring prompts hold")
      ->capture_default_str();
  cmd->add_flag("--json", a.json, "dry runs: print the estimate as one JSON object on stdout");
  add_batch_options(cmd, a.batch);
  add_record_options(cmd, a.rec);
}

/// The provider a job uses.
struct provider_choice {
  std::string name;               ///< openrouter, openai, openai-batch, local, stats or dry-run
  bool llm = false;               ///< an LLM is called
  bool chosen_by_default = false; ///< stats because no key is set: the job says so
};

inline autointerp::result<provider_choice> choose_provider(job_args& a) {
  provider_choice c;
  c.name = a.provider;
  char const* key = std::getenv("OPENROUTER_API_KEY");
  if (c.name.empty()) {
    c.chosen_by_default = !(key && *key);
    c.name = c.chosen_by_default ? "stats" : "openrouter";
  }
  c.llm = c.name == "openrouter" || c.name == "openai" || c.name == "openai-batch" || c.name == "local";
  if (!c.llm && c.name != "stats" && c.name != "dry-run")
    return autointerp::make_error(autointerp::errc::bad_option,
                                  "--provider '" + c.name + "': use openrouter, openai, openai-batch, local, stats or dry-run");
  if (a.model.empty())
    a.model = c.name == "openai" || c.name == "openai-batch" ? "gpt-4o-mini" : c.name == "local" ? "default" : "openai/gpt-4o-mini";
  return c;
}

/// Everything a command's stages may use.
struct job_env {
  boost::asio::any_io_executor io;
  autointerp::llm::client* client = nullptr;  ///< set when the provider is an LLM
  autointerp::llm::client* embedding_client = nullptr;  ///< set when the embedding scorer runs
  provider_choice provider;
  autointerp::pipeline::job_sources const* sources = nullptr;
};

/// The scorers `a.scorers` names: LLM scorers with an LLM provider, the keyword baseline otherwise.
inline autointerp::result<std::vector<std::unique_ptr<autointerp::score::scorer>>> make_scorers(job_args const& a,
                                                                                                job_env const& env) {
  namespace sc = autointerp::score;
  std::vector<std::unique_ptr<sc::scorer>> out;
  auto bad = [](std::string m) { return autointerp::make_error(autointerp::errc::bad_option, std::move(m)); };
  if (a.scorers.empty()) return out;
  if (a.n_examples_shown == 0) return bad("--n-examples-shown must be at least 1");
  auto fuzz = sc::parse_fuzz_type(a.fuzz_type);
  if (!fuzz) return bad("--fuzz-type '" + a.fuzz_type + "': use default or active");
  auto intruder = sc::parse_intruder_type(a.intruder_type);
  if (!intruder) return bad("--intruder-type '" + a.intruder_type + "': use default or internal");
  if (env.provider.name == "dry-run" && a.wants_scorer("embedding"))
    return bad("--scorers embedding with --provider dry-run: embedding calls are not estimated; leave it out of the dry run");
  sc::scoring_options so;
  so.n_examples_shown = a.n_examples_shown;
  so.seed = a.rec.options.seed;
  so.fuzz = *fuzz;
  so.intruder = *intruder;
  so.logprobs = a.logprobs;
  sc::llm_scorer_options lo;
  lo.scoring = so;
  lo.model = a.model;
  lo.max_tokens = a.max_tokens;
  lo.temperature = a.temperature;
  lo.retries = a.score_retries;
  std::vector<std::string> seen;
  for (std::size_t start = 0; start <= a.scorers.size();) {
    auto comma = a.scorers.find(',', start);
    if (comma == std::string::npos) comma = a.scorers.size();
    std::string name = a.scorers.substr(start, comma - start);
    start = comma + 1;
    if (name.empty()) continue;
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    seen.push_back(name);
    if (auto kind = sc::parse_scorer_kind(name)) {
      if (env.client) out.push_back(std::make_unique<sc::llm_scorer>(*env.client, *kind, lo));
      else out.push_back(std::make_unique<sc::keyword_scorer>(env.io, *kind, so));
    } else if (name == "simulation") {
      if (env.client) out.push_back(std::make_unique<sc::simulation_scorer>(*env.client, lo));
      else out.push_back(std::make_unique<sc::keyword_simulation_scorer>(env.io, so));
    } else if (name == "intruder") {
      if (a.n_examples_shown < 2) return bad("--scorers intruder needs --n-examples-shown of at least 2");
      if (!env.client)
        return bad("--scorers intruder needs an LLM (it has no keyword baseline): pass --provider openrouter|openai|local");
      out.push_back(std::make_unique<sc::intruder_scorer>(*env.client, lo));
    } else if (name == "embedding") {
      if (!env.embedding_client)
        return bad("--scorers embedding needs an embedding endpoint: pass --embedding-base-url (or an LLM provider "
                   "whose endpoint serves /embeddings)");
      if (a.embedding_batch == 0) return bad("--embedding-batch must be at least 1");
      sc::embedding_scorer_options eo;
      eo.model = a.embedding_model;
      if (a.embedding_prefix) eo.query_prefix = *a.embedding_prefix;
      eo.batch = a.embedding_batch;
      eo.scoring = so;
      out.push_back(std::make_unique<sc::embedding_scorer>(*env.embedding_client, std::move(eo)));
    } else {
      return bad("--scorers: unknown scorer '" + name + "'; use detection, fuzz, simulation, intruder, embedding");
    }
  }
  return out;
}

// Progress on stderr: one redrawn bar on a terminal, a plain line every 10 s otherwise (logs, CI, a
// Job's output).
inline autointerp::pipeline::progress_sink stderr_progress(bool tty) {
  return [tty](autointerp::pipeline::progress_report const& r) {
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

/// What a job's calls are priced at and may spend: `--price`/`--prices` and the budget flags.
struct job_costs {
  std::shared_ptr<autointerp::llm::price_table const> prices;  ///< null without price flags
  std::shared_ptr<autointerp::llm::spend_budget> budget;       ///< null without budget flags
};

/// Reads the price and budget flags; with `--resume` the budget starts from what `out`'s run.jsonl
/// records. Errors are usage errors.
inline autointerp::result<job_costs> make_costs(job_args const& a) {
  namespace llm = autointerp::llm;
  job_costs c;
  if (!a.price.empty()) {
    auto p = llm::parse_price_spec(a.price);
    if (!p) return p.error();
    llm::price_table t;
    t.fallback = *p;
    c.prices = std::make_shared<llm::price_table const>(std::move(t));
  } else if (!a.prices_file.empty()) {
    auto t = llm::load_price_file(a.prices_file);
    if (!t) return t.error();
    c.prices = std::make_shared<llm::price_table const>(std::move(*t));
  }
  if (a.max_cost && !(*a.max_cost >= 0))
    return autointerp::make_error(autointerp::errc::bad_option, "--max-cost must be a number of USD, 0 or more");
  if (a.max_cost || a.max_prompt_tokens) {
    llm::budget_limits limits;
    limits.max_cost_usd = a.max_cost;
    limits.max_prompt_tokens = a.max_prompt_tokens;
    llm::token_usage before;
    if (a.resume) before = autointerp::pipeline::read_spending(std::filesystem::path(a.out) / "run.jsonl").total;
    c.budget = std::make_shared<llm::spend_budget>(std::move(limits), before);
  }
  return c;
}

/// `OUT/budget.json`: the limits, what the folder spent and by how much calls in flight over-ran
/// the limits, for `autointerp summary`. Written atomically after each run with a budget.
inline autointerp::result<void> write_budget_file(std::filesystem::path const& out,
                                                  autointerp::llm::spend_budget const& b) {
  auto const& l = b.limits();
  auto const& spent = b.spent();
  boost::json::object j{{"max_cost_usd", l.max_cost_usd ? boost::json::value(*l.max_cost_usd) : nullptr},
                        {"max_prompt_tokens", l.max_prompt_tokens ? boost::json::value(*l.max_prompt_tokens) : nullptr},
                        {"spent", boost::json::object{{"prompt_tokens", spent.prompt_tokens},
                                                      {"completion_tokens", spent.completion_tokens},
                                                      {"cached_tokens", spent.cached_tokens},
                                                      {"cost_usd", spent.cost}}},
                        {"reached", b.exhausted()},
                        {"cost_overrun_usd", b.cost_overrun()},
                        {"prompt_token_overrun", b.prompt_token_overrun()}};
  return autointerp::pipeline::write_file_atomically(out / "budget.json", boost::json::serialize(j) + "\n",
                                                     out / ".tmp");
}

/// Prints a dry run's estimate: one line on stderr, or with `--json` one JSON object on stdout.
inline void print_estimate(job_args const& a, autointerp::pipeline::job_estimate const& e, bool priced,
                           std::string const& placeholder_note) {
  if (a.json) {
    std::cout << boost::json::serialize(e.to_json()) << "\n";
    std::cerr << "autointerp: dry run estimate" << placeholder_note << "\n";
    return;
  }
  auto t = e.total();
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "autointerp: dry run estimate for %zu latents: %zu calls, %llu prompt + %llu completion tokens, %s, "
                "cacheable prefix %.1f%% of prompt bytes",
                e.latents, t.calls, static_cast<unsigned long long>(t.prompt_tokens),
                static_cast<unsigned long long>(t.completion_tokens),
                priced ? ("$" + std::to_string(t.cost_usd)).c_str() : "no cost (give --price or --prices)",
                e.cacheable_prefix_share * 100);
  std::cerr << buf << placeholder_note << "\n";
}

/// Builds the stages of a job once the inputs are open. Errors are usage errors (exit code 2).
using stage_factory = std::function<autointerp::result<autointerp::pipeline::stage_list>(job_env const&)>;

/// Opens what `a` names, builds the stages with `make_stages`, runs the job and prints its summary.
/// Exit code: 0 done, 1 some latents failed or the job stopped after a good start, 2 bad input, 3
/// the budget (`--max-cost`, `--max-prompt-tokens`) was reached.
inline int run_job(std::string_view command, job_args& a, stage_factory const& make_stages) {
  namespace ai = autointerp;
  namespace pl = ai::pipeline;
  namespace asio = boost::asio;
  auto usage = [&](std::string const& m) { return fail(command, m, 2); };
  if (auto v = resolve_record_options(a.rec); !v) return usage(v.error().what());
  if (a.concurrency == 0) return usage("--concurrency must be at least 1");
  auto provider = choose_provider(a);
  if (!provider) return usage(provider.error().what());
  auto shard = pl::parse_shard(a.shard);
  if (!shard) return usage("--" + shard.error().what());
  auto costs = make_costs(a);
  if (!costs) return usage(costs.error().what());

  auto opened = open_module(a.cache, a.tokens_file, a.module, a.memory_budget_mib);
  if (!opened) return usage(opened.error().what());
  auto const* module = opened->module;
  auto indices = select_latents(a.latents, module->width);
  if (!indices) return usage(indices.error().what());
  std::vector<ai::cache::latent_id> latents;
  latents.reserve(indices->size());
  for (auto i : *indices) latents.push_back({a.module, i});
  latents = pl::select_shard(std::move(latents), *shard);
  auto neighbours = neighbours_for(a.rec, a.module);
  if (!neighbours) return usage(neighbours.error().what());
  // Without a tokenizer the job still runs, with token ids in the prompts.
  auto tok = load_module_tokenizer(command, opened->data, *module, a.tokenizer, false);
  if (!tok) return usage(tok.error().what());

  asio::io_context io;
  asio::thread_pool cpu(std::max(1u, std::thread::hardware_concurrency()));
  pl::job_sources const sources{.data = opened->data, .tokens = *tok, .cpu = cpu.get_executor()};
  // A dry run with scorers runs the real stages against a router that answers without calling
  // anything, in a scratch folder (removed afterwards), so OUT gains no placeholder explanation.
  bool const estimating = provider->name == "dry-run" && !a.scorers.empty();
  std::shared_ptr<pl::dry_run_router> estimator;
  std::filesystem::path const job_out =
      estimating ? std::filesystem::path(a.out) / ".tmp" / ("dry-run." + std::to_string(::getpid())) : std::filesystem::path(a.out);
  // OpenAI's Batch API: calls are answered from batches, between passes of the job (batch_runner.hpp).
  std::optional<batch_context> batches;
  if (provider->name == "openai-batch") {
    if (a.wants_scorer("embedding"))
      return usage("--scorers embedding with --provider openai-batch: embeddings are not batched; score them in a run of their own");
    auto opened_batches = open_batches(a.out, a.resume, a.batch);
    if (!opened_batches) return usage(opened_batches.error().what());
    batches = std::move(*opened_batches);
  }
  std::unique_ptr<ai::llm::client> client;
  if (provider->llm || estimating) {
    auto ep = estimating ? ai::llm::preset("local", "http://127.0.0.1:9/v1")
              : batches  ? ai::llm::preset("openai", a.base_url)
                         : ai::llm::preset(provider->name, a.base_url);
    if (!ep) return usage(ep.error().what());
    ai::llm::client_options co;
    co.endpoint = std::move(*ep);
    co.max_connections = a.concurrency;
    co.limits.max_in_flight = a.concurrency;  // the scheduler prepares as many latents again ahead
    co.prices = costs->prices;
    co.budget = costs->budget;
    if (estimating) {
      estimator = std::make_shared<pl::dry_run_router>(a.estimate_explanation_chars);
      co.router = estimator;
      co.budget = nullptr;
    }
    if (batches) co.router = batches->router;
    client = std::make_unique<ai::llm::client>(io.get_executor(), std::move(co));
    if (auto const* e = client->config_error()) return usage(e->what());
  }
  std::unique_ptr<ai::llm::client> embedding_client;  // its own only when it has its own endpoint
  if (a.wants_scorer("embedding") && !a.embedding_base_url.empty()) {
    auto ep = ai::llm::preset(provider->llm ? provider->name : "local", a.embedding_base_url);
    if (!ep) return usage("--embedding-base-url: " + ep.error().what());
    ai::llm::client_options co;
    co.endpoint = std::move(*ep);
    co.max_connections = a.concurrency;
    co.limits.max_in_flight = a.concurrency;
    co.prices = costs->prices;
    co.budget = costs->budget;
    embedding_client = std::make_unique<ai::llm::client>(io.get_executor(), std::move(co));
    if (auto const* e = embedding_client->config_error()) return usage("--embedding-base-url: " + e->what());
  }
  job_env const env{io.get_executor(), client.get(), embedding_client ? embedding_client.get() : client.get(), *provider,
                    &sources};
  auto stages = make_stages(env);
  if (!stages) return usage(stages.error().what());

  if (provider->chosen_by_default)  // said once the inputs are known to be good, so usage errors stay one line
    std::cerr << "autointerp: no LLM configured (OPENROUTER_API_KEY is unset), so the statistical baseline "
                 "explains and the keyword baseline scores; set the key or pass --provider openai|local for an LLM\n";
  if (a.max_cost && !costs->prices && provider->llm && provider->name != "openrouter")
    std::cerr << "autointerp: --max-cost without --price or --prices counts only the costs the server reports "
                 "(usage.cost); give the model's prices so every call is costed\n";
  bool const tty = ::isatty(::fileno(stderr));
  pl::job_options const options{.out = job_out,
                                .resume = a.resume && !estimating,
                                .records = {.records = a.rec.options, .neighbours = std::move(*neighbours)},
                                .progress = stderr_progress(tty),
                                .progress_interval = tty ? std::chrono::milliseconds(100) : std::chrono::seconds(10)};
  std::optional<pl::job> job;  // a batched job makes one per pass
  if (!batches) {
    auto made = pl::make_job(sources, options, *stages, latents.size());
    if (!made) return usage(made.error().what());
    job = std::move(*made);
    if (options.resume) {  // a killed run may have left explanation files without their run.jsonl line
      auto repaired = job->store->repair_run_log();
      if (!repaired) return usage(repaired.error().what());
    }
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
  std::optional<ai::result<ai::batch::rounds_report>> rounds;
  if (batches) {
    batch_pass const pass{io.get_executor(), &sources, &options, &*stages, &latents, a.concurrency, &summary};
    // A pass runs only the latents the previous one deferred: the finished and the skipped are not
    // loaded again (nor are skipped latents' lines written once a pass).
    auto tell = [](ai::batch::round_event const& e) { std::cerr << "autointerp: " << e.what << "\n"; };
    asio::co_spawn(io, ai::batch::run_rounds(*client, *batches->log, *batches->router, batches->rounds, pass, tell),
                   asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr ep, ai::result<ai::batch::rounds_report> r) {
                     rounds = ep ? ai::result<ai::batch::rounds_report>(ai::internal_error("the batch rounds")) : std::move(r);
                     signals.cancel();
                     client->close_idle_connections();
                   }));
  } else {
    pl::async_run(io.get_executor(), std::move(latents), job->hooks, pl::job_run_options(*stages, a.concurrency), diag,
                  asio::bind_cancellation_slot(stop.slot(), [&](boost::system::error_code ec, pl::run_summary s) {
                    run_ec = ec;
                    summary = std::move(s);
                    signals.cancel();
                    if (client) client->close_idle_connections();
                    if (embedding_client) embedding_client->close_idle_connections();
                  }));
  }
  io.run();
  if (job) job->progress->finish();
  // A budget reached: OUT/budget.json, then one line with the over-run, exit 3.
  auto budget_stop = [&](ai::error const& why) {
    auto const& b = *costs->budget;
    char over[160];
    std::snprintf(over, sizeof over, "; the calls in flight over-ran it by $%.4f and %llu prompt tokens", b.cost_overrun(),
                  static_cast<unsigned long long>(b.prompt_token_overrun()));
    return fail(command, "stopped: " + why.what() + over, 3);
  };
  if (costs->budget && !estimator)  // (a dry run spends nothing)
    if (auto w = write_budget_file(a.out, *costs->budget); !w) std::cerr << "autointerp: " << w.error().what() << "\n";
  if (rounds) {
    if (!*rounds && costs->budget && rounds->error() == ai::errc::budget_exhausted) return budget_stop(rounds->error());
    if (!*rounds) return fail(command, rounds->error().what(), 1);
    auto const& r = **rounds;
    std::cerr << "autointerp: openai-batch: " << r.passes << " passes, " << r.batches_submitted << " batches ("
              << r.requests_submitted << " requests) submitted, " << r.batches_polled << " polled; client-side work "
              << r.pass_time.count() << " ms preparing and mapping, " << r.submit_time.count() << " ms submitting, "
              << r.download_time.count() << " ms downloading; " << r.last_pass.failed << " requests failed\n";
  }
  if (run_ec || !summary) return fail(command, run_ec ? diag.to_error(run_ec).what() : "the run did not complete", 1);
  auto const& s = *summary;
  if (estimator) {
    pl::job_estimate e;
    e.latents = s.processed() + s.already_done;
    e.cacheable_prefix_share = estimator->cacheable_prefix_share();
    auto const priced = pl::read_spending(job_out / "run.jsonl");  // tokens and cost, as a real run records them
    for (auto const& [name, st] : estimator->stages()) {
      auto& to = e.by_stage[name];
      to.calls = st.calls;
      if (auto it = priced.by_stage.find(name); it != priced.by_stage.end()) {
        to.prompt_tokens = it->second.usage.prompt_tokens;
        to.completion_tokens = it->second.usage.completion_tokens;
        to.cost_usd = it->second.usage.cost;
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(job_out, ec);
    print_estimate(a, e, costs->prices != nullptr,
                   "; the scoring prompts hold a placeholder explanation of " + std::to_string(a.estimate_explanation_chars) +
                       " characters (--estimate-explanation-chars)");
    if (s.stop == pl::stop_reason::fatal && s.fatal) return fail(command, "stopped: " + s.fatal->what(), 1);
    return s.stop == pl::stop_reason::completed ? 0 : 1;
  }
  double const secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cerr << "autointerp: " << s.explained << " explained, ";
  if (s.scored) std::cerr << s.scored << " scored, ";
  std::cerr << s.unparsed << " unparsed, " << s.failed << " failed, " << s.skipped << " skipped";
  if (s.already_done) std::cerr << ", " << s.already_done << " already done";
  std::cerr << " in " << static_cast<long long>(secs * 1000) << " ms -> " << a.out << "\n";
  if (costs->budget && s.fatal && *s.fatal == ai::errc::budget_exhausted) return budget_stop(*s.fatal);
  // A fatal error after a good start (key rejected, no credit, disk full) is a runtime failure: 1.
  if (s.stop == pl::stop_reason::fatal && s.fatal) return fail(command, "stopped: " + s.fatal->what(), 1);
  if (s.failed > 0 || (job && *job->write_error) || s.stop != pl::stop_reason::completed || s.deferred > 0) return 1;
  return 0;
}

}  // namespace cli
