// The main job (`make_explain_job` under `async_run`, as `autointerp explain` runs it), one line
// per figure:
//  1. memory: a dry run (every prompt built and written, nothing called) over 100,000 latents, on a
//     delphi-layout cache and on its native conversion. Anonymous RSS is sampled every 10,000
//     latents; printed beside it are the decoded shards the cache keeps (bounded by its memory
//     budget) and the file-backed RSS (the mapped cache). Target: peak anonymous RSS under 300 MB,
//     and no growth with the number of latents done.
//  2. scheduling: a fake LLM answering after 200 ms, 64 latents in flight, 2,000 latents, against
//     the ideal ceil(2000 / 64) x 200 ms. Target: within 5%.
//  3. scoring: 500 latents explained and scored (detection and fuzz, 100 samples each in prompts of
//     5: 1 + 20 + 20 calls a latent) against the same 200 ms fake, 64 calls in flight, against the
//     ideal ceil(20,500 / 64) x 200 ms. Target: within 5%. Also prints prompt tokens per scored
//     sample (about 4 bytes a token, the client's estimate).
// The cache (100,000 latents, 262,144 tokens, 32 active latents per token spread evenly, so each
// latent has about 84 activations) is generated in a temporary folder and removed at the end. Each
// memory run is a fresh child process, so one run's heap does not colour the other's figures.
//  4. simulation: 200 latents explained and simulated (100 samples each, one prompt a sample: 1 +
//     100 calls a latent) against the same fake and cap, against the ideal ceil(20,200 / 64) x
//     200 ms. Target: within 5%. Also prints tokens per simulated sample and prompt tokens per call.
// Usage: pipeline_bench [folder] [all|memory|llm|score|simulate]
#include <autointerp/cache/convert.hpp>
#include <autointerp/cache/dataset.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/explain/dry_run_explainer.hpp>
#include <autointerp/explain/llm_explainer.hpp>
#include <autointerp/pipeline/explain_stage.hpp>
#include <autointerp/pipeline/job.hpp>
#include <autointerp/pipeline/score_stage.hpp>
#include <autointerp/score/llm_scorer.hpp>
#include <autointerp/score/simulation_scorer.hpp>
#include <autointerp/with_diagnostics.hpp>
#include <autointerp/pipeline/run.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>

#include "fake_answers.hpp"
#include "fake_llm_server.hpp"
#include "synthetic_cache.hpp"
#include "test_paths.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ranges>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace ai = autointerp;
namespace pl = autointerp::pipeline;

namespace {

bench::synthetic_cache_shape const shape{
    .width = 100'000, .shards = 8, .rows = 4096, .ctx = 64, .per_token = 32, .skew = 1.0};
constexpr std::size_t dry_run_latents = 100'000, sample_every = 10'000;
constexpr std::size_t llm_latents = 2'000, llm_in_flight = 64, score_latents = 500, simulate_latents = 200;
constexpr auto llm_latency = std::chrono::milliseconds(200);

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// Resident memory of this process from /proc/self/status, in MB.
struct rss {
  double anon = 0, file = 0, peak_total = 0;
};

rss read_rss() {
  std::ifstream f("/proc/self/status");
  rss r;
  std::string key;
  double kb = 0;
  while (f >> key) {
    if (key == "RssAnon:" && f >> kb) r.anon = kb / 1024;
    else if (key == "RssFile:" && f >> kb) r.file = kb / 1024;
    else if (key == "VmHWM:" && f >> kb) r.peak_total = kb / 1024;
  }
  return r;
}

/// Runs `fn` in a child process and waits for it; false when the child failed.
bool in_child(std::function<int()> const& fn) {
  std::fflush(stdout);
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    int code = fn();
    std::fflush(stdout);
    std::_Exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

struct job_result {
  double seconds = 0;
  pl::run_summary summary;
  std::vector<rss> samples;          ///< after every `sample_every` latents
  std::vector<double> shard_bytes;   ///< decoded shards held by the cache at each sample, MB
  std::size_t shard_budget = 0;
};

enum class backend { llm, dry_run };

/// The main job on `cache` for latents 0..n-1, the way the CLI wires it.
job_result run_job(fs::path const& cache, backend kind, std::string const& base_url, std::size_t n,
                   std::size_t in_flight, fs::path const& out, std::vector<std::string> const& scoring = {}) {
  auto data = ai::cache::dataset::open(cache);
  if (!data) throw ai::exception(data.error());
  auto tok = ai::tokenizer::load_tokenizer(fs::path(AUTOINTERP_SOURCE_DIR) / "examples" / "data" / "tokenizer.json");
  if (!tok) throw ai::exception(tok.error());

  asio::io_context io;
  asio::thread_pool cpu(2);
  pl::job_sources const sources{.data = *data,
                                .tokens = std::make_shared<ai::tokenizer::tokenizer const>(std::move(*tok)),
                                .cpu = cpu.get_executor()};
  ai::explain::llm_explainer_options eo;
  eo.model = "bench/model";
  std::unique_ptr<ai::llm::client> client;
  std::unique_ptr<ai::explain::explainer> explainer;
  if (kind == backend::llm) {
    ai::llm::client_options co;
    co.endpoint = ai::llm::local(base_url, "bench-key");
    co.proxy = ai::llm::proxy_settings{};
    co.max_connections = in_flight;
    co.limits.max_in_flight = in_flight;
    client = std::make_unique<ai::llm::client>(io.get_executor(), std::move(co));
    explainer = std::make_unique<ai::explain::llm_explainer>(*client, eo);
  } else {
    explainer = std::make_unique<ai::explain::dry_run_explainer>(io.get_executor(), eo);
  }
  pl::stage_list stages{std::make_shared<pl::explain_stage>(*explainer)};
  std::vector<std::unique_ptr<ai::score::scorer>> scorers;
  for (auto const& name : scoring) {
    ai::score::llm_scorer_options so;
    so.model = "bench/model";
    if (auto k = ai::score::parse_scorer_kind(name)) scorers.push_back(std::make_unique<ai::score::llm_scorer>(*client, *k, so));
    else scorers.push_back(std::make_unique<ai::score::simulation_scorer>(*client, so));
    stages.push_back(std::make_shared<pl::score_stage>(*scorers.back()));
  }
  pl::job_options opts{.out = out, .resume = false, .records = {}, .progress = {}};
  opts.records.records.min_examples = 20;  // each latent has about 84 activating windows

  job_result res;
  auto job = pl::make_job(sources, opts, stages, n);
  if (!job) throw ai::exception(job.error());
  auto write = job->hooks.on_finished;
  std::size_t finished = 0;
  job->hooks.on_finished = [&](pl::latent_outcome const& o) {
    write(o);
    if (++finished % sample_every == 0) {
      res.samples.push_back(read_rss());
      res.shard_bytes.push_back(static_cast<double>(sources.data.cache_stats().bytes) / 1048576.0);
    }
  };
  // Pulled lazily: no list of the latents is ever built.
  auto latents = std::views::iota(std::uint32_t{0}, static_cast<std::uint32_t>(n)) |
                 std::views::transform([](std::uint32_t i) { return ai::cache::latent_id{shape.module, i}; });

  std::optional<ai::result<pl::run_summary>> outcome;
  auto const t0 = std::chrono::steady_clock::now();
  pl::async_run(io.get_executor(), latents, job->hooks, pl::job_run_options(stages, in_flight),
                ai::as_result([&](ai::result<pl::run_summary> r) {
                  outcome = std::move(r);
                  if (client) client->close_idle_connections();
                }));
  io.run();
  res.seconds = seconds_since(t0);
  if (!outcome || !*outcome) throw std::runtime_error("the run did not complete");
  if (*job->write_error) throw ai::exception(**job->write_error);
  res.summary = **outcome;
  res.shard_budget = sources.data.cache_stats().budget;
  return res;
}

int memory_run(fs::path const& cache, char const* label, fs::path const& out) {
  auto before = read_rss();
  auto r = run_job(cache, backend::dry_run, {}, dry_run_latents, llm_in_flight, out);
  double peak = 0;
  std::string series, without_shards;
  auto mb = [](double v) { return std::to_string(static_cast<long>(v + 0.5)); };
  for (std::size_t i = 0; i < r.samples.size(); ++i) {
    peak = std::max(peak, r.samples[i].anon);
    series += (i ? " " : "") + mb(r.samples[i].anon);
    without_shards += (i ? " " : "") + mb(r.samples[i].anon - r.shard_bytes[i]);
  }
  double const shards_held = r.shard_bytes.empty() ? 0 : r.shard_bytes.back();
  bool const met = peak < 300 && r.summary.skipped == dry_run_latents;
  std::printf("pipeline_bench dry-run %zu latents, %s: %.1f s (%.0f latents/s), %zu prompts written; anon RSS MB "
              "every %zuk latents: %s (peak %.0f, from %.0f at start), of which decoded shards the cache keeps: "
              "%.0f MB at the end (budget %zu MB), the rest: %s; file-backed RSS %.0f MB; peak total %.0f MB; "
              "target peak anon < 300 MB: %s\n",
              dry_run_latents, label, r.seconds, static_cast<double>(dry_run_latents) / r.seconds, r.summary.skipped,
              sample_every / 1000, series.c_str(), peak, before.anon, shards_held, r.shard_budget >> 20,
              without_shards.c_str(), r.samples.empty() ? 0 : r.samples.back().file, read_rss().peak_total,
              met ? "met" : "MISSED");
  return met ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path base = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / ("autointerp_pipeline_bench_" + std::to_string(::getpid()));
  fs::remove_all(base);
  auto const delphi = base / "delphi", native = base / "native";
  std::string const part = argc > 2 ? argv[2] : "all";

  auto t0 = std::chrono::steady_clock::now();
  bool ok = in_child([&] {
    bench::write_synthetic_cache(delphi, shape);
    auto src = ai::cache::dataset::open(delphi);
    if (!src) return 1;
    ai::cache::convert_options co;
    co.threads = 2;
    return ai::cache::convert_cache(*src, native, co) ? 0 : 1;
  });
  if (!ok) {
    std::fprintf(stderr, "pipeline_bench: could not generate the cache in %s\n", base.c_str());
    return 1;
  }
  std::printf("generated %u latents x %llu tokens, %u active per token, and its native conversion in %.1f s\n",
              shape.width, static_cast<unsigned long long>(shape.tokens()), shape.per_token, seconds_since(t0));

  bool all_met = true;
  if (part == "all" || part == "memory") {
    all_met &= in_child([&] { return memory_run(delphi, "delphi shards", base / "out-delphi"); });
    all_met &= in_child([&] { return memory_run(native, "native cache", base / "out-native"); });
  }

  // Scheduling against a fake LLM on its own thread.
  if (part == "all" || part == "llm") {
    asio::io_context server_io(1);
    autointerp::testing::fake_server_options so;
    so.light = true;
    autointerp::testing::fake_llm_server server(
        server_io.get_executor(),
        [](autointerp::testing::fake_request const&) {
          return autointerp::testing::fake_reply::completion("[EXPLANATION]: a benchmark answer").after(llm_latency);
        },
        so);
    auto guard = asio::make_work_guard(server_io);
    std::thread server_thread([&] { server_io.run(); });
    auto r = run_job(delphi, backend::llm, server.base_url(), llm_latents, llm_in_flight, base / "out-llm");
    server.stop();
    guard.reset();
    server_thread.join();

    double const rounds = static_cast<double>((llm_latents + llm_in_flight - 1) / llm_in_flight);
    double const ideal = rounds * std::chrono::duration<double>(llm_latency).count();
    double const ratio = ideal / r.seconds;
    bool const met = ratio >= 0.95 && r.summary.explained == llm_latents;
    all_met &= met;
    std::printf("pipeline_bench llm latency=200ms in_flight=%zu, %zu latents: %.2f s vs ideal %.2f s (%.0f rounds of "
                "200 ms) = ratio %.3f (target >= 0.95: %s); %zu explained, %zu failed; calls capped at %zu, latents admitted at once %zu\n",
                llm_in_flight, llm_latents, r.seconds, ideal, rounds, ratio, met ? "met" : "MISSED",
                r.summary.explained, r.summary.failed, llm_in_flight, r.summary.max_in_flight);
  }
  // Explaining and scoring against the fake, which answers every kind of prompt from its text.
  if (part == "all" || part == "score") {
    asio::io_context server_io(1);
    autointerp::testing::fake_server_options so;
    so.light = false;  // the fake reads each prompt to answer it
    std::atomic<std::uint64_t> scoring_calls{0}, scoring_bytes{0};
    autointerp::testing::fake_llm_server server(
        server_io.get_executor(),
        [&](autointerp::testing::fake_request const& r) {
          if (autointerp::testing::is_scoring_prompt(r.prompt())) {
            ++scoring_calls;
            scoring_bytes += r.body.size();
          }
          return autointerp::testing::fake_brain(r).after(llm_latency);
        },
        so);
    auto guard = asio::make_work_guard(server_io);
    std::thread server_thread([&] { server_io.run(); });
    auto r = run_job(delphi, backend::llm, server.base_url(), score_latents, llm_in_flight, base / "out-score",
                     {"detection", "fuzz"});
    server.stop();
    guard.reset();
    server_thread.join();

    std::size_t const calls = server.requests();
    double const rounds = static_cast<double>((calls + llm_in_flight - 1) / llm_in_flight);
    double const ideal = rounds * std::chrono::duration<double>(llm_latency).count();
    double const ratio = ideal / r.seconds;
    std::size_t samples = 0, nulls = 0;
    for (char const* scorer : {"detection", "fuzz"})
      for (auto const& e : fs::directory_iterator(base / "out-score" / "scores" / scorer)) {
        std::ifstream f(e.path());
        std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        for (std::size_t at = text.find("\"prediction\":"); at != std::string::npos; at = text.find("\"prediction\":", at + 1)) {
          ++samples;
          nulls += text.compare(at + 13, 4, "null") == 0;
        }
      }
    bool const met = ratio >= 0.95 && r.summary.explained == score_latents && calls == score_latents * 41 && nulls == 0;
    all_met &= met;
    std::printf("pipeline_bench score latency=200ms in_flight=%zu, %zu latents explained and scored (detection + fuzz): "
                "%zu calls (%llu scoring) in %.2f s vs ideal %.2f s = ratio %.3f (target >= 0.95: %s); %zu samples "
                "scored, %zu null; %.0f prompt tokens per scored sample (about 4 bytes a token)\n",
                llm_in_flight, score_latents, calls, static_cast<unsigned long long>(scoring_calls.load()), r.seconds,
                ideal, ratio, met ? "met" : "MISSED", samples, nulls,
                samples ? static_cast<double>(scoring_bytes.load()) / 4.0 / static_cast<double>(samples) : 0.0);
  }
  // Simulation: one prompt per sample (100 a latent), the same fake and cap.
  if (part == "all" || part == "simulate") {
    asio::io_context server_io(1);
    autointerp::testing::fake_server_options so;
    so.light = false;
    std::atomic<std::uint64_t> sim_calls{0}, sim_bytes{0}, sim_tokens{0};
    autointerp::testing::fake_llm_server server(
        server_io.get_executor(),
        [&](autointerp::testing::fake_request const& r) {
          auto const prompt = r.prompt();
          if (autointerp::testing::is_simulation_prompt(prompt)) {
            ++sim_calls;
            sim_bytes += r.body.size();
            sim_tokens += autointerp::testing::simulation_levels(prompt).size();
          }
          return autointerp::testing::fake_brain(r).after(llm_latency);
        },
        so);
    auto guard = asio::make_work_guard(server_io);
    std::thread server_thread([&] { server_io.run(); });
    auto r = run_job(delphi, backend::llm, server.base_url(), simulate_latents, llm_in_flight, base / "out-simulate",
                     {"simulation"});
    server.stop();
    guard.reset();
    server_thread.join();

    std::size_t const calls = server.requests();
    double const rounds = static_cast<double>((calls + llm_in_flight - 1) / llm_in_flight);
    double const ideal = rounds * std::chrono::duration<double>(llm_latency).count();
    double const ratio = ideal / r.seconds;
    std::size_t samples = 0, nulls = 0;
    for (auto const& e : fs::directory_iterator(base / "out-simulate" / "scores" / "simulation")) {
      std::ifstream f(e.path());
      std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      for (std::size_t at = text.find("\"predicted\":"); at != std::string::npos; at = text.find("\"predicted\":", at + 1)) {
        ++samples;
        nulls += text.compare(at + 12, 4, "null") == 0;
      }
    }
    auto const n = static_cast<double>(std::max<std::uint64_t>(sim_calls.load(), 1));
    bool const met = ratio >= 0.95 && r.summary.explained == simulate_latents && calls == simulate_latents * 101 && nulls == 0;
    all_met &= met;
    std::printf("pipeline_bench simulate latency=200ms in_flight=%zu, %zu latents explained and simulated (100 samples "
                "each, one prompt a sample): %zu calls (%llu simulation) in %.2f s vs ideal %.2f s = ratio %.3f (target "
                ">= 0.95: %s); %zu samples simulated, %zu null; %.1f tokens per simulated sample, %.0f prompt tokens per "
                "simulation prompt (about 4 bytes a token)\n",
                llm_in_flight, simulate_latents, calls, static_cast<unsigned long long>(sim_calls.load()), r.seconds, ideal,
                ratio, met ? "met" : "MISSED", samples, nulls, static_cast<double>(sim_tokens.load()) / n,
                static_cast<double>(sim_bytes.load()) / 4.0 / n);
  }
  fs::remove_all(base);
  return all_met ? 0 : 1;
}
