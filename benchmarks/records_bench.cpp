// Record building throughput, the job delphi's LatentDataset does: every latent of one shard of a
// 1M-token (7813 rows x 128), 16384-wide, k = 32 cache, with delphi's defaults (windows of 32
// tokens, min_examples 200, 40 quantile-sampled train examples, 50 test, 50 random non-activating
// windows). Latent popularity is Zipfian (exponent 0.8, ranks shuffled over latent indices;
// each latent fires independently per token, k per token on average).
//
// The cache is built in memory as `latent_activations`, so the reader is not what is measured.
// Prints one line per figure: records/s on 1 and 2 threads (delphi: about 45 records/s on one CPU
// thread for such a cache, 0.7 GB peak), the JSON Lines serialisation rate, and peak RSS.
// Usage: records_bench [n_splits (default 5: delphi's)]
#include <autointerp/records/build_record.hpp>
#include <autointerp/records/float16.hpp>
#include <autointerp/records/record_json.hpp>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <time.h>

namespace cache = autointerp::cache;
namespace rec = autointerp::records;

namespace {

constexpr std::uint32_t width = 16384, rows = 7813, ctx = 128, k = 32;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

struct synthetic_shard {
  cache::token_matrix tokens;
  std::vector<cache::latent_activations> latents;  // the shard's latents, in index order
  std::uint64_t activations = 0;
};

// Each latent of [first, last) fires on each token independently with probability
// k * (its Zipf share), capped at 1/2, so about k latents fire per token (the top ranks saturate
// the cap). Positions come out sorted, as a cache stores them: geometric gaps between firings.
synthetic_shard make_shard(std::uint32_t first, std::uint32_t last) {
  std::mt19937_64 g(2024);
  synthetic_shard s;
  s.tokens.rows = rows;
  s.tokens.ctx = ctx;
  s.tokens.ids.resize(std::size_t{rows} * ctx);
  std::uniform_int_distribution<std::uint32_t> vocab(0, 50256);
  for (auto& id : s.tokens.ids) id = vocab(g);

  std::vector<double> weight(width);
  double total = 0;
  for (std::uint32_t r = 0; r < width; ++r) total += weight[r] = std::pow(r + 1.0, -0.8);
  std::vector<std::uint32_t> rank_of_latent(width);
  std::iota(rank_of_latent.begin(), rank_of_latent.end(), 0u);
  std::shuffle(rank_of_latent.begin(), rank_of_latent.end(), g);
  std::exponential_distribution<float> magnitude(0.7f);
  std::uniform_real_distribution<double> unit(0.0, 1.0);

  std::uint64_t const n_tokens = std::uint64_t{rows} * ctx;
  s.latents.resize(last - first);
  for (std::uint32_t i = first; i < last; ++i) {
    auto& a = s.latents[i - first];
    a.latent = {"layers.6", i};
    a.dtype = cache::activation_dtype::f16;
    double p = std::min(0.5, k * weight[rank_of_latent[i]] / total);
    double log_miss = std::log1p(-p);
    for (std::uint64_t t = 0;; ++t) {
      t += static_cast<std::uint64_t>(std::floor(std::log(1.0 - unit(g)) / log_miss));
      if (t >= n_tokens) break;
      a.rows.push_back(static_cast<std::uint32_t>(t / ctx));
      a.positions.push_back(static_cast<std::uint32_t>(t % ctx));
      a.values.push_back(rec::round_to_half(0.05f + magnitude(g)));
      ++s.activations;
    }
  }
  return s;
}

struct run_result {
  std::size_t built = 0, skipped = 0;
  double seconds = 0, cpu_seconds = 0;
};

// CPU time of the whole process: on a machine shared with other jobs, wall time alone
// understates the rate, so both are printed.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

run_result build_all(synthetic_shard const& s, rec::record_options const& o, unsigned threads) {
  std::atomic<std::size_t> next{0}, built{0}, skipped{0};
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < s.latents.size();) {
      auto r = rec::build_record(s.tokens, s.latents[i], o);
      if (r) ++built;
      else ++skipped;
    }
  };
  auto t0 = std::chrono::steady_clock::now();
  double c0 = cpu_seconds();
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return {built.load(), skipped.load(), seconds_since(t0), cpu_seconds() - c0};
}

}  // namespace

int main(int argc, char** argv) {
  unsigned n_splits = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : 5;
  if (n_splits == 0) n_splits = 5;
  std::uint32_t const shard_latents = width / n_splits;  // delphi: linspace(0, width, n_splits + 1)

  auto t0 = std::chrono::steady_clock::now();
  synthetic_shard s = make_shard(0, shard_latents);
  std::printf("records_bench: synthetic cache %u rows x %u tokens, width %u, k %u; shard 0 of %u holds %u latents, "
              "%llu activations (built in %.1f s)\n",
              rows, ctx, width, k, n_splits, shard_latents, static_cast<unsigned long long>(s.activations),
              seconds_since(t0));
  double const rss_cache = peak_rss_mib();

  rec::record_options o;  // delphi's defaults: quantiles, 40 train, 50 test, 50 random, min 200, ctx 32
  double one_thread = 0;
  for (unsigned threads : {1u, 2u}) {
    auto r = build_all(s, o, threads);
    double rate = static_cast<double>(r.built + r.skipped) / r.seconds;
    if (threads == 1) one_thread = rate;
    double per_cpu = static_cast<double>(r.built + r.skipped) / r.cpu_seconds;
    std::printf("records_bench: %u thread%s: %zu records (+%zu skipped below min_examples) in %.2f s = %.0f records/s "
                "(%.0fx delphi's 45/s per thread; %.2fx the 1-thread rate); %.0f records per CPU-second\n",
                threads, threads == 1 ? "" : "s", r.built, r.skipped, r.seconds, rate, rate / 45.0 / threads,
                rate / one_thread, per_cpu);
  }

  // Serialising what was built (the CLI's extra cost per record).
  std::size_t bytes = 0, lines = 0;
  auto t1 = std::chrono::steady_clock::now();
  std::string out;
  for (std::size_t i = 0; i < s.latents.size() && i < 500; ++i) {
    auto r = rec::build_record(s.tokens, s.latents[i], o);
    if (!r) continue;
    out.clear();
    rec::append_json_line(out, *r);
    bytes += out.size();
    ++lines;
  }
  double ts = seconds_since(t1);
  std::printf("records_bench: build + JSON Lines: %zu records in %.2f s = %.0f records/s (%.1f KB per line)\n", lines,
              ts, static_cast<double>(lines) / ts, lines ? static_cast<double>(bytes) / 1024.0 / lines : 0.0);
  std::printf("records_bench: peak RSS %.0f MiB (%.0f MiB after building the synthetic shard; delphi: about 700 MiB)\n",
              peak_rss_mib(), rss_cache);
  return 0;
}
