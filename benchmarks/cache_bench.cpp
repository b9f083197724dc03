// Cache reading throughput, printed as one line per figure:
//   - plain shard: activations decoded per second, against reading the file alone;
//   - .zst shard: decompression throughput as a ratio to `zstd -d -c FILE > /dev/null`;
//   - native format: bytes read and time to load 10 latents, against delphi shards.
// The cache (16384 latents, 1M tokens, about 8 activations per token) is generated in a temporary
// folder (synthetic_cache.hpp) and removed at the end. Usage: cache_bench [folder]
#include <autointerp/cache/convert.hpp>
#include <autointerp/cache/dataset.hpp>
#include <autointerp/cache/safetensors.hpp>
#include <autointerp/cache/shard.hpp>

#include "synthetic_cache.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;
namespace cache = autointerp::cache;

namespace {

constexpr std::uint32_t width = 16384, shards = 8, rows = 8192, ctx = 128, per_token = 8;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

bench::synthetic_cache_shape const shape{.width = width, .shards = shards, .rows = rows, .ctx = ctx, .per_token = per_token};

}  // namespace

int main(int argc, char** argv) {
  fs::path base = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / ("autointerp_cache_bench_" + std::to_string(::getpid()));
  fs::remove_all(base);
  auto t0 = std::chrono::steady_clock::now();
  bench::write_synthetic_cache(base / "delphi", shape);
  std::printf("generated %u latents x %u tokens, %u activations/token in %.1f s\n", width, rows * ctx, per_token, seconds_since(t0));
  auto shard = base / "delphi" / "layers.0" / "0_2047.safetensors";
  auto shard_bytes = fs::file_size(shard);

  // Plain shard: read alone vs read + decode into latent-major form.
  {
    std::vector<char> buf(shard_bytes);
    auto t = std::chrono::steady_clock::now();
    std::ifstream(shard, std::ios::binary).read(buf.data(), static_cast<std::streamsize>(buf.size()));
    double read_s = seconds_since(t);
    t = std::chrono::steady_clock::now();
    auto f = cache::safetensors_file::open(shard).value();
    auto d = cache::decode_shard(f, {0, 2047, rows, ctx}).value();
    double decode_s = seconds_since(t);
    std::printf("plain shard: %.1f M activations/s decoded (%zu activations, %.1f MB in %.3f s); reading the file alone: %.0f MB/s (%.3f s)\n",
                double(d.values.size()) / decode_s / 1e6, d.values.size(), double(shard_bytes) / 1e6, decode_s,
                double(shard_bytes) / read_s / 1e6, read_s);
  }

  // .zst shard: our streaming decompression vs the zstd tool on the same file.
  {
    auto zst = base / "0_2047.safetensors.zst";
    std::string cmd = "zstd -q -3 -f '" + shard.string() + "' -o '" + zst.string() + "'";
    if (std::system(cmd.c_str()) != 0) return 1;
    double ours = 1e9, tool = 1e9;
    for (int i = 0; i < 3; ++i) {
      auto t = std::chrono::steady_clock::now();
      auto f = cache::safetensors_file::open(zst);
      if (!f) return 1;
      ours = std::min(ours, seconds_since(t));
      t = std::chrono::steady_clock::now();
      cmd = "zstd -d -c '" + zst.string() + "' > /dev/null";
      if (std::system(cmd.c_str()) != 0) return 1;
      tool = std::min(tool, seconds_since(t));
    }
    std::printf(".zst shard: %.0f MB/s decompressed and checked vs zstd -d -c: %.0f MB/s; ratio %.2f (target >= 0.8)\n",
                double(shard_bytes) / ours / 1e6, double(shard_bytes) / tool / 1e6, tool / ours);
  }

  // Native: convert once, then load 10 latents spread over all shards from both formats.
  std::vector<std::uint32_t> latents{3, 700, 2100, 4000, 6200, 8300, 10500, 12300, 14400, 16380};
  auto t = std::chrono::steady_clock::now();
  auto src = cache::dataset::open(base / "delphi").value();
  cache::convert_options co;
  co.threads = 2;
  auto report = cache::convert_cache(src, base / "native", co).value();
  std::printf("convert: %.2f s, %.1f MB delphi shards -> %.1f MB native (%.1f%%), %llu activations\n", seconds_since(t),
              double(report.bytes_in) / 1e6, double(report.bytes_out) / 1e6,
              100.0 * double(report.bytes_out) / double(report.bytes_in), (unsigned long long)report.activations);

  std::uint64_t delphi_bytes = 0;
  t = std::chrono::steady_clock::now();
  {
    auto d = cache::dataset::open(base / "delphi").value();
    std::uint64_t n = 0;
    for (auto l : latents) n += d.load_latent("layers.0", l).value().size();
    for (auto const& s : d.modules()[0].shards) delphi_bytes += s.file_size;  // every shard is touched
    if (n == 0) return 1;
  }
  double delphi_s = seconds_since(t);
  t = std::chrono::steady_clock::now();
  auto n = cache::dataset::open(base / "native").value();
  auto opened = n.native_bytes_read();
  std::uint64_t count = 0;
  for (auto l : latents) count += n.load_latent("layers.0", l).value().size();
  double native_s = seconds_since(t);
  auto native_bytes = n.native_bytes_read();
  std::printf("10 latents (%llu activations): native %.1f kB read (%.1f kB of blocks + %.1f kB header and index) in %.2f ms; "
              "delphi %.1f MB in %.0f ms; %.0fx less data (target >= 100x), %.0fx faster\n",
              (unsigned long long)count, double(native_bytes) / 1e3, double(native_bytes - opened) / 1e3,
              double(opened) / 1e3, native_s * 1e3, double(delphi_bytes) / 1e6, delphi_s * 1e3,
              double(delphi_bytes) / double(native_bytes), delphi_s / native_s);

  // Native throughput over every latent.
  t = std::chrono::steady_clock::now();
  std::uint64_t all = 0;
  for (std::uint32_t l = 0; l < width; ++l) all += n.load_latent("layers.0", l).value().size();
  double all_s = seconds_since(t);
  std::printf("native: %.0f latents/s, %.1f M activations/s loaded one latent at a time (one thread)\n", width / all_s,
              double(all) / all_s / 1e6);
  t = std::chrono::steady_clock::now();
  auto d2 = cache::dataset::open(base / "delphi").value();
  all = 0;
  for (std::uint32_t l = 0; l < width; ++l) all += d2.load_latent("layers.0", l).value().size();
  all_s = seconds_since(t);
  std::printf("delphi (shard cache): %.0f latents/s, %.1f M activations/s loaded one latent at a time (one thread)\n",
              width / all_s, double(all) / all_s / 1e6);
  fs::remove_all(base);
  return 0;
}
