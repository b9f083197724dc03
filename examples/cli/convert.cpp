// `autointerp convert CACHE OUT`: write a cache in autointerp's native indexed format, where one
// latent costs one small read (docs/native_format.md).
#include "commands.hpp"

#include <autointerp/cache/convert.hpp>
#include <autointerp/cache/dataset.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

namespace {

namespace cache = autointerp::cache;

struct convert_args {
  std::string cache_dir, out_dir, tokens_file;
  int level = 3;
  std::size_t threads = 0;
  std::size_t memory_budget_mib = 1024;
  bool quiet = false;
  bool force = false;
};

int run_convert(convert_args const& a) {
  if (a.level < 1 || a.level > 19) {
    std::cerr << "autointerp: --level " << a.level << " is not a zstd level from 1 to 19\n";
    return 2;
  }
  cache::open_options opts;
  opts.memory_budget = a.memory_budget_mib << 20;
  opts.tokens_file = a.tokens_file;
  auto d = cache::dataset::open(a.cache_dir, opts);
  if (!d) {
    std::cerr << "autointerp: " << d.error().message << "\n";
    return 2;
  }
  cache::convert_options co;
  co.zstd_level = a.level;
  co.replace = a.force;
  co.threads = a.threads ? a.threads : std::max(1u, std::thread::hardware_concurrency());
  if (!a.quiet)
    co.progress = [](std::string_view module, std::uint32_t done, std::uint32_t width) {
      if (done == width || done % 8192 == 0)
        std::cerr << "convert: " << module << ": " << done << " of " << width << " latents\n";
    };
  auto start = std::chrono::steady_clock::now();
  auto r = cache::convert_cache(*d, a.out_dir, co);
  if (!r) {
    std::cerr << "autointerp: " << r.error().message << "\n";
    return 2;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "converted " << r->modules << " module(s), " << r->latents << " latents, " << r->activations
            << " activations in " << std::fixed << std::setprecision(2) << secs << " s: " << r->bytes_in
            << " bytes -> " << r->bytes_out << " bytes ("
            << std::setprecision(1) << (r->bytes_in ? 100.0 * double(r->bytes_out) / double(r->bytes_in) : 0.0)
            << "%) in " << a.out_dir << "\n";
  return 0;
}

}  // namespace

void cli::add_convert_command(CLI::App& app, cli::action& run) {
  auto a = std::make_shared<convert_args>();
  auto* cmd = app.add_subcommand("convert", "write a cache in autointerp's native indexed format");
  cmd->add_option("cache", a->cache_dir, "the cache folder to read (delphi layout or native)")->required();
  cmd->add_option("out", a->out_dir, "the folder to write (must not exist or be empty)")->required();
  cmd->add_option("--level", a->level, "zstd compression level, 1-19")->capture_default_str();
  cmd->add_option("--threads", a->threads, "compression threads (0 = one per core)")->capture_default_str();
  cmd->add_option("--tokens-file", a->tokens_file, "token matrix (.npy or .safetensors) for caches without tokens");
  cmd->add_option("--memory-budget", a->memory_budget_mib, "MiB of decoded shards kept in memory")
      ->capture_default_str();
  cmd->add_flag("--quiet", a->quiet, "no progress lines on stderr");
  cmd->add_flag("--force", a->force, "replace OUT when it holds an earlier conversion (and nothing else)");
  cmd->callback([a, &run] { run = [a] { return run_convert(*a); }; });
}
