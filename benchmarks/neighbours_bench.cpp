// Neighbours at SAE scale, on the 2-core machine:
// - co-occurrence on a generated 16,384-wide, 1M-token cache (8192 rows x 128, 32 latents drawn
//   per token with a Zipf-like skew), k = 32: time, peak RSS, pairs counted per second; delphi's
//   dense int64 matrix alone would be 2 GiB;
// - the same on a 131,072-wide cache of 1M tokens (delphi's matrix: 128 GiB; it cannot run);
// - decoder similarity of a 16,384 x 768 F32 decoder (sparsify layout), with the plain loop and,
//   when the benchmark is linked with OpenBLAS, with cblas_sgemm.
// Each figure is measured in a child process, so peak RSS is that computation's alone (the cache
// generator's buffers are not counted). Caches are written under $TMPDIR and removed afterwards.
// Usage: neighbours_bench [--quick]   (--quick: 1/8 of the tokens, for a smoke run)
#include "synthetic_cache.hpp"

#include <autointerp/cache/dataset.hpp>
#include <autointerp/neighbours/compute_neighbours.hpp>
#include <autointerp/neighbours/sae_weights.hpp>

#if defined(AUTOINTERP_BENCH_HAVE_CBLAS)
#  include <cblas.h>
#endif

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace ai = autointerp;
namespace nb = autointerp::neighbours;
namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// Runs `fn` in a child process and waits for it; its output goes to our stdout.
template <class Fn>
void in_child(Fn fn) {
  std::fflush(stdout);
  pid_t pid = ::fork();
  if (pid == 0) {
    int code = fn();
    std::fflush(stdout);
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::printf("neighbours_bench: a measurement failed\n");
}

// Every core, or $NEIGHBOURS_BENCH_THREADS.
std::size_t threads() {
  if (char const* t = std::getenv("NEIGHBOURS_BENCH_THREADS")) return std::max(1, std::atoi(t));
  return std::max(1u, std::thread::hardware_concurrency());
}

int cooccurrence(fs::path const& root, std::string const& label, std::uint32_t k) {
  ai::cache::open_options oo;
  oo.memory_budget = std::size_t{256} << 20;
  auto data = ai::cache::dataset::open(root, oo);
  if (!data) return std::printf("%s\n", data.error().message.c_str()), 1;
  auto const* m = data->module("layers.0").value();
  nb::cooccurrence_options o;
  o.k = k;
  o.threads = threads();
  auto t0 = std::chrono::steady_clock::now();
  auto sets = nb::read_token_sets(*data, "layers.0", o);
  if (!sets) return std::printf("%s\n", sets.error().message.c_str()), 1;
  double const read_s = seconds_since(t0);
  std::uint64_t acts = 0;
  for (auto const& s : sets->tokens) acts += s.size();
  auto t1 = std::chrono::steady_clock::now();
  auto lists = nb::cooccurrence_neighbours(*sets, o);
  if (!lists) return std::printf("%s\n", lists.error().message.c_str()), 1;
  double const count_s = seconds_since(t1);
  double const dense_gib = double(m->width) * m->width * 8 / double(1ull << 30);
  std::printf("neighbours_bench: co-occurrence %s, %u wide, %llu tokens, %llu distinct activations, k = %u, %zu threads: "
              "%.2f s (read %.2f s, count %.2f s), peak RSS %.0f MiB, %llu pairs, %.0fM pairs/s counted; "
              "delphi's dense int64 matrix alone: %.0f GiB\n",
              label.c_str(), m->width, static_cast<unsigned long long>(sets->n_tokens),
              static_cast<unsigned long long>(acts), k, o.threads, read_s + count_s, read_s, count_s, peak_rss_mib(),
              static_cast<unsigned long long>(lists->pairs), double(lists->pairs) / count_s / 1e6, dense_gib);
  return 0;
}

int similarity(fs::path const& sae, bool blas) {
  auto t0 = std::chrono::steady_clock::now();
  auto w = nb::load_sae_weights(sae, "layers.0", nb::weight_kind::decoder);
  if (!w) return std::printf("%s\n", w.error().message.c_str()), 1;
  double const load_s = seconds_since(t0);
  nb::similarity_options o;
  o.k = 32;
  o.threads = threads();
#if defined(AUTOINTERP_BENCH_HAVE_CBLAS)
  if (blas)
    o.gemm = [](std::size_t m, std::size_t n, std::size_t k, float const* x, float const* y, float* c) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(n), int(k), 1.0f, x, int(k), y, int(k), 0.0f, c,
                  int(n));
    };
#else
  if (blas) return std::printf("neighbours_bench: built without OpenBLAS, no cblas figure\n"), 0;
#endif
  auto t1 = std::chrono::steady_clock::now();
  auto lists = nb::similarity_neighbours(*w, o);
  if (!lists) return std::printf("%s\n", lists.error().message.c_str()), 1;
  double const s = seconds_since(t1);
  double const flops = 2.0 * double(w->latents) * w->latents * w->dim;
  std::printf("neighbours_bench: decoder similarity %u x %u F32, k = 32, %s: %.2f s (%.1f GFLOP/s; load %.2f s), "
              "peak RSS %.0f MiB (weights %.0f MiB)\n",
              w->latents, w->dim, blas ? "OpenBLAS cblas_sgemm" : "plain loop", s, flops / s / 1e9, load_s, peak_rss_mib(),
              double(w->values.size()) * 4 / double(1 << 20));
  return 0;
}

void write_decoder(fs::path const& file, std::uint32_t n, std::uint32_t d) {
  std::mt19937 rng(3);
  std::normal_distribution<float> g;
  std::string enc, dec;
  enc.resize(std::size_t{n} * d * 4);
  dec.resize(std::size_t{n} * d * 4);
  for (std::size_t i = 0; i < std::size_t{n} * d; ++i) {
    float a = g(rng), b = g(rng);
    std::memcpy(enc.data() + i * 4, &a, 4);
    std::memcpy(dec.data() + i * 4, &b, 4);
  }
  fs::create_directories(file.parent_path());
  bench::detail::write_safetensors(file, {{"encoder.weight", "F32", {n, d}, enc}, {"W_dec", "F32", {n, d}, dec}});
  std::ofstream(file.parent_path() / "cfg.json") << "{\"d_in\": " << d << ", \"num_latents\": " << n << "}";
}

}  // namespace

int main(int argc, char** argv) {
  bool const quick = argc > 1 && std::string(argv[1]) == "--quick";
  bool const only_cooccurrence = std::getenv("NEIGHBOURS_BENCH_ONLY_COOCCURRENCE") != nullptr;
  fs::path const root = fs::temp_directory_path() / ("neighbours_bench_" + std::to_string(::getpid()));
  std::uint32_t const rows = quick ? 1024 : 8192;

  bench::synthetic_cache_shape s;
  s.module = "layers.0";
  s.width = 16384;
  s.shards = 8;
  s.rows = rows;
  s.ctx = 128;
  s.per_token = 32;
  auto t = std::chrono::steady_clock::now();
  bench::write_synthetic_cache(root / "c16k", s);
  std::printf("neighbours_bench: generated the 16,384-wide cache in %.1f s\n", seconds_since(t));
  in_child([&] { return cooccurrence(root / "c16k", "16k", 32); });
  fs::remove_all(root / "c16k");

  s.width = 131072;
  s.shards = 16;
  t = std::chrono::steady_clock::now();
  bench::write_synthetic_cache(root / "c131k", s);
  std::printf("neighbours_bench: generated the 131,072-wide cache in %.1f s\n", seconds_since(t));
  in_child([&] { return cooccurrence(root / "c131k", "131k", 32); });
  fs::remove_all(root / "c131k");

  if (only_cooccurrence) return fs::remove_all(root), 0;
  auto const sae = root / "sae" / "layers.0" / "sae.safetensors";
  write_decoder(sae, quick ? 4096 : 16384, 768);
  in_child([&] { return similarity(sae, true); });
  in_child([&] { return similarity(sae, false); });
  fs::remove_all(root);
  return 0;
}
