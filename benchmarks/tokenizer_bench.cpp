// Tokenizer speed: per-token decoding (a table lookup) and whole-sequence decoding.
//
// Uses the Llama 3 tokenizer.json written by tests/tokenizer/reference.js (run tokenizer_test once,
// or set AUTOINTERP_TOKENIZER_JSON to any tokenizer.json). Prints one summary line per figure.

#include <autointerp/tokenizer/tokenizer.hpp>

#include "test_paths.hpp"

#include <benchmark/benchmark.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace tk = autointerp::tokenizer;

namespace {

std::filesystem::path tokenizer_file() {
  if (char const* f = std::getenv("AUTOINTERP_TOKENIZER_JSON")) return f;
  return std::filesystem::path(AUTOINTERP_BINARY_DIR) / "tokenizer_data" / "llama3.tokenizer.json";
}

tk::tokenizer const& shared_tokenizer() {
  static tk::tokenizer const tok = [] {
    auto r = tk::load_tokenizer(tokenizer_file());
    if (!r) {
      std::fprintf(stderr, "tokenizer_bench: %s (run tokenizer_test first or set AUTOINTERP_TOKENIZER_JSON)\n",
                   r.error().message.c_str());
      std::exit(2);
    }
    return std::move(*r);
  }();
  return tok;
}

std::vector<std::uint32_t> random_ids(std::size_t n, std::uint32_t size) {
  std::mt19937 gen(7);
  std::uniform_int_distribution<std::uint32_t> pick(0, size - 1);
  std::vector<std::uint32_t> ids(n);
  for (auto& id : ids) id = pick(gen);
  return ids;
}

void per_token_lookup(benchmark::State& state) {
  auto const& tok = shared_tokenizer();
  auto const ids = random_ids(1 << 20, tok.size());
  std::size_t bytes = 0;
  for (auto _ : state) {
    for (std::uint32_t id : ids) {
      auto s = tok.decode_token(id);
      bytes += s ? s->size() : 0;
    }
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * ids.size()));
}
BENCHMARK(per_token_lookup);

void per_token_window_strings(benchmark::State& state) {  // what records --str-tokens does
  auto const& tok = shared_tokenizer();
  auto const ids = random_ids(64 * 1024, tok.size());
  std::vector<std::string> out;
  for (auto _ : state) {
    for (std::size_t w = 0; w < ids.size(); w += 64) {
      out.clear();
      (void)tok.decode_tokens(std::span(ids).subspan(w, 64), out);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * ids.size()));
}
BENCHMARK(per_token_window_strings);

void whole_sequence(benchmark::State& state) {
  auto const& tok = shared_tokenizer();
  auto const ids = random_ids(64 * 1024, tok.size());
  for (auto _ : state) {
    for (std::size_t w = 0; w < ids.size(); w += 64) {
      auto text = tok.decode(std::span(ids).subspan(w, 64));
      benchmark::DoNotOptimize(text);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * ids.size()));
}
BENCHMARK(whole_sequence);

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// One-line summary: a fixed 10M-id run, timed directly so the figure does not depend on flags.
void print_summary() {
  auto const& tok = shared_tokenizer();
  auto const load_start = std::chrono::steady_clock::now();
  auto reloaded = tk::load_tokenizer(tokenizer_file());
  double const load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  auto const ids = random_ids(10'000'000, tok.size());
  std::size_t bytes = 0;
  double const cpu_start = thread_cpu_seconds();
  auto const start = std::chrono::steady_clock::now();
  for (std::uint32_t id : ids) {
    auto s = tok.decode_token(id);
    bytes += s ? s->size() : 0;
  }
  double const s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double const cpu = thread_cpu_seconds() - cpu_start;
  benchmark::DoNotOptimize(bytes);
  // Wall time suffers when the machine is shared; thread CPU time is the one-core figure.
  std::printf("tokenizer_bench: per-token decode %.1f M ids/s per CPU-second (%.1f M/s wall) on one core, "
              "10M random ids of %s (target 10 M/s); load %.2f s wall\n",
              10.0 / cpu, 10.0 / s, tokenizer_file().filename().c_str(), reloaded ? load_s : -1.0);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  print_summary();
  benchmark::Shutdown();
  return 0;
}
