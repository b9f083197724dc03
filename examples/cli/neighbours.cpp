// `autointerp neighbours CACHE --module M --method cooccurrence|decoder|encoder [--sae PATH] --out DIR`:
// write delphi's neighbour file `DIR/<module>-<type>.json`, which `--neighbours` of `records`,
// `explain` and `score` read as they read delphi's own.
#include "cache_selection.hpp"
#include "commands.hpp"

#include <autointerp/neighbours/compute_neighbours.hpp>
#include <autointerp/neighbours/neighbour_file.hpp>

#if defined(AUTOINTERP_CLI_HAVE_CBLAS)
#  include <cblas.h>
#endif

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace {

namespace ai = autointerp;
namespace nb = autointerp::neighbours;

struct neighbours_args {
  std::string cache_dir, module, method, sae, out_dir;
  std::uint32_t k = 10;
  std::size_t memory_budget_mib = 1024;
  std::size_t threads = 0;
  bool quiet = false;
};

std::optional<nb::method> parse_method(std::string const& s) {
  if (s == "cooccurrence" || s == "co-occurrence") return nb::method::cooccurrence;
  if (s == "decoder" || s == "decoder_similarity") return nb::method::decoder;
  if (s == "encoder" || s == "encoder_similarity") return nb::method::encoder;
  return std::nullopt;
}

// One redrawn bar on a terminal; elsewhere (logs, CI) a line per phase and every quarter.
nb::progress_callback stderr_bar(bool tty) {
  struct state {
    std::string phase;
    std::chrono::steady_clock::time_point last{};
    std::uint64_t quarter = 0;
    bool finished = false;  // the phase's last line is out
  };
  auto s = std::make_shared<state>();
  return [tty, s](std::string_view phase, std::uint64_t done, std::uint64_t total) {
    auto now = std::chrono::steady_clock::now();
    bool const end = done >= total;
    bool const fresh = phase != s->phase;
    if (fresh) {
      s->phase = phase;
      s->quarter = 0;
      s->finished = false;
    }
    if (s->finished) return;
    s->finished = end;
    if (tty) {
      if (!end && !fresh && now - s->last < std::chrono::milliseconds(100)) return;
      s->last = now;
      constexpr std::uint64_t width = 30;
      std::uint64_t const filled = total ? std::min(width, done * width / total) : width;
      std::string bar(filled, '#');
      bar.resize(width, '.');
      std::fprintf(stderr, "\r\x1b[K[%s] %s %llu/%llu latents%s", bar.c_str(), std::string(phase).c_str(),
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), end ? "\n" : "");
    } else {
      std::uint64_t const q = total ? done * 4 / total : 4;
      if (!fresh && q == s->quarter) return;
      s->quarter = q;
      std::fprintf(stderr, "autointerp neighbours: %s %llu/%llu latents\n", std::string(phase).c_str(),
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total));
    }
    std::fflush(stderr);
  };
}

int run_neighbours(neighbours_args& a) {
  auto const how = parse_method(a.method);
  if (!how) return cli::fail("neighbours", "--method " + a.method + " is not cooccurrence, decoder or encoder");
  if (a.k == 0) return cli::fail("neighbours", "--k must be at least 1");
  if (*how != nb::method::cooccurrence && a.sae.empty())
    return cli::fail("neighbours", "--method " + a.method + " needs --sae PATH (the SAE's .safetensors file or its folder)");
  auto opened = cli::open_module(a.cache_dir, {}, a.module, a.memory_budget_mib);
  if (!opened) return cli::fail("neighbours", opened.error().what());

  nb::compute_options o;
  o.method = *how;
  o.k = a.k;
  o.sae = a.sae;
  o.memory_budget = a.memory_budget_mib << 20;
  o.threads = a.threads ? a.threads : std::max(1u, std::thread::hardware_concurrency());
#if defined(AUTOINTERP_CLI_HAVE_CBLAS)
  o.gemm = [](std::size_t m, std::size_t n, std::size_t k, float const* x, float const* y, float* c) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
                1.0f, x, static_cast<int>(k), y, static_cast<int>(k), 0.0f, c, static_cast<int>(n));
  };
#endif
  if (!a.quiet) o.progress = stderr_bar(::isatty(::fileno(stderr)) == 1);
  auto const start = std::chrono::steady_clock::now();
  auto r = nb::compute_neighbours(opened->data, a.module, o);
  if (!r) {
    // Reading or computing failed: bad input, except memory that ran out mid-way.
    return cli::fail("neighbours", r.error().what(), r.error() == ai::errc::internal ? 1 : 2);
  }
  auto path = nb::write_neighbour_file(a.out_dir, a.module, *how, r->lists);
  if (!path) return cli::fail("neighbours", path.error().what(), 1);
  double const secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::size_t const width = r->lists.lists.size();
  std::printf("wrote %s: %zu latents, k = %u, %u with no neighbours (%s) in %.2f s, from %s\n", path->string().c_str(),
              width, a.k, r->lists.skipped,
              *how == nb::method::cooccurrence ? "never active; written as []" : "NaN or zero weight rows, skipped; written as []",
              secs, r->source.c_str());
  return 0;
}

}  // namespace

void cli::add_neighbours_command(CLI::App& app, cli::action& run) {
  auto a = std::make_shared<neighbours_args>();
  auto* cmd = app.add_subcommand("neighbours", "compute delphi's neighbour lists (co-occurrence or weight similarity)");
  cmd->add_option("cache", a->cache_dir, "the cache folder (delphi layout or native)")->required();
  cmd->add_option("--module", a->module, "the module (optional when the cache has one)");
  cmd->add_option("--method", a->method, "cooccurrence, decoder or encoder (delphi's co-occurrence, decoder_similarity, encoder_similarity)")
      ->required();
  cmd->add_option("--sae", a->sae, "decoder / encoder: the SAE's weights (sparsify's sae.safetensors or SAELens's sae_weights.safetensors, or its folder)");
  cmd->add_option("--k", a->k, "neighbours per latent")->capture_default_str();
  cmd->add_option("--out", a->out_dir, "the folder to write <module>-<type>.json into")->required();
  cmd->add_option("--memory-budget", a->memory_budget_mib, "MiB for decoded shards, and again for the co-occurrence token sets")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "threads (0 = one per core)")->capture_default_str();
  cmd->add_flag("--quiet", a->quiet, "no progress on stderr");
  cmd->callback([a, &run] { run = [a] { return run_neighbours(*a); }; });
}
