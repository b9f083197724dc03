// `autointerp inspect CACHE [--json]`: what a latent cache holds. Native caches answer from their
// index; delphi caches are decoded shard by shard to count activations per latent.
#include "commands.hpp"

#include <autointerp/cache/dataset.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace cache = autointerp::cache;

struct inspect_args {
  std::string cache_dir;
  bool json = false;
  std::string module;
  std::string tokens_file;
  std::size_t memory_budget_mib = 1024;
};

struct bin {
  std::uint64_t low = 0, high = 0, latents = 0;
};

// Bins: 0, 1, 2-3, 4-7, ... (powers of two), up to the largest count.
std::vector<bin> histogram(std::vector<cache::latent_summary> const& s) {
  std::vector<bin> bins{{0, 0, 0}};
  for (auto const& l : s) {
    std::size_t b = 0;
    for (std::uint64_t c = l.count; c > 0; c >>= 1) ++b;
    while (bins.size() <= b) {
      std::uint64_t low = std::uint64_t{1} << (bins.size() - 1);
      bins.push_back({low, low * 2 - 1, 0});
    }
    ++bins[b].latents;
  }
  return bins;
}

std::string with_commas(std::uint64_t n) {
  std::string const digits = std::to_string(n);
  std::string s;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) s.push_back(',');
    s.push_back(digits[i]);
  }
  return s;
}

std::string bytes_text(std::uint64_t b) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(1);
  if (b >= (1ull << 30)) o << double(b) / (1ull << 30) << " GiB";
  else if (b >= (1ull << 20)) o << double(b) / (1ull << 20) << " MiB";
  else if (b >= 1024) o << double(b) / 1024 << " KiB";
  else o << b << " B";
  return o.str();
}

char const* dtype_text(cache::activation_dtype d) {
  return d == cache::activation_dtype::f16 ? "f16" : d == cache::activation_dtype::bf16 ? "bf16" : "f32";
}

int fail(autointerp::error const& e) {
  std::cerr << "autointerp: " << e.message << "\n";
  return 2;
}

int run_inspect(inspect_args const& a) {
  cache::open_options opts;
  opts.memory_budget = a.memory_budget_mib << 20;
  opts.tokens_file = a.tokens_file;
  auto d = cache::dataset::open(a.cache_dir, opts);
  if (!d) return fail(d.error());
  std::vector<cache::module_info const*> modules;
  if (!a.module.empty()) {
    auto m = d->module(a.module);
    if (!m) return fail(m.error());
    modules.push_back(*m);
  } else {
    for (auto const& m : d->modules()) modules.push_back(&m);
  }
  bool const native = d->format() == cache::cache_format::native;
  boost::json::array json_modules;
  std::ostringstream text;
  text << "cache " << a.cache_dir << " (" << (native ? "autointerp native format" : "delphi layout") << ")\n";
  for (auto const* m : modules) {
    auto s = d->summaries(m->name);
    if (!s) return fail(s.error());
    std::uint64_t total = 0, alive = 0, bytes = 0;
    std::vector<std::uint32_t> counts;
    for (auto const& l : *s) {
      total += l.count;
      alive += l.count > 0;
      counts.push_back(l.count);
    }
    std::sort(counts.begin(), counts.end());
    for (auto const& sh : m->shards) bytes += sh.file_size;
    auto bins = histogram(*s);
    std::uint64_t const tokens = m->rows * m->ctx_len;
    std::string const tokens_from = !a.tokens_file.empty() ? a.tokens_file : m->has_tokens ? "in the cache" : "none";

    boost::json::array shards, hist;
    for (auto const& sh : m->shards)
      shards.push_back({{"file", sh.path.filename().string()}, {"first_latent", sh.first_latent},
                        {"last_latent", sh.last_latent}, {"bytes", sh.file_size}, {"zstd", sh.zstd}});
    for (auto const& b : bins) hist.push_back({{"min", b.low}, {"max", b.high}, {"latents", b.latents}});
    json_modules.push_back({{"name", m->name},
                            {"model_name", m->model_name},
                            {"width", m->width},
                            {"ctx_len", m->ctx_len},
                            {"rows", m->rows},
                            {"tokens", tokens},
                            {"tokens_source", tokens_from},
                            {"dtype", dtype_text(m->dtype)},
                            {"shards", std::move(shards)},
                            {"bytes", bytes},
                            {"activations", total},
                            {"alive_latents", alive},
                            {"dead_latents", m->width - alive},
                            {"histogram", std::move(hist)}});

    text << "module " << m->name << "\n";
    if (!m->model_name.empty()) text << "  model         " << m->model_name << "\n";
    text << "  width         " << with_commas(m->width) << " latents\n";
    text << "  files         " << m->shards.size() << " ("
         << m->shards.front().path.filename().string()
         << (m->shards.size() > 1 ? " ... " + m->shards.back().path.filename().string() : std::string()) << "), "
         << bytes_text(bytes) << "\n";
    text << "  tokens        " << with_commas(m->rows) << " rows x " << m->ctx_len << " = " << with_commas(tokens)
         << " (" << tokens_from << ")\n";
    text << "  activations   " << with_commas(total) << " (" << dtype_text(m->dtype) << ")";
    if (tokens) text << ", " << std::fixed << std::setprecision(2) << double(total) / double(tokens) << " per token";
    text << "\n";
    text << "  alive latents " << with_commas(alive) << " of " << with_commas(m->width) << " ("
         << with_commas(m->width - alive) << " never fire)\n";
    if (!counts.empty())
      text << "  per latent    min " << with_commas(counts.front()) << ", median "
           << with_commas(counts[counts.size() / 2]) << ", max " << with_commas(counts.back()) << " activations\n";
    text << "  histogram of activations per latent:\n";
    std::uint64_t most = 1;
    for (auto const& b : bins) most = std::max(most, b.latents);
    for (auto const& b : bins) {
      std::string range = b.low == b.high ? std::to_string(b.low) : std::to_string(b.low) + "-" + std::to_string(b.high);
      text << "    " << std::left << std::setw(14) << range << std::right << std::setw(9) << with_commas(b.latents)
           << "  " << std::string(static_cast<std::size_t>((b.latents * 40 + most - 1) / most), '#') << "\n";
    }
  }
  if (a.json) {
    boost::json::object root{{"cache", a.cache_dir},
                             {"format", native ? "native" : "delphi"},
                             {"modules", std::move(json_modules)}};
    std::cout << boost::json::serialize(root) << "\n";
  } else {
    std::cout << text.str();
  }
  return 0;
}

}  // namespace

void cli::add_inspect_command(CLI::App& app, cli::action& run) {
  auto a = std::make_shared<inspect_args>();
  auto* cmd = app.add_subcommand("inspect", "list a cache's modules, shards, tokens and activations per latent");
  cmd->add_option("cache", a->cache_dir, "the cache folder (delphi layout or converted)")->required();
  cmd->add_flag("--json", a->json, "print one JSON object instead of text");
  cmd->add_option("--module", a->module, "only this module");
  cmd->add_option("--tokens-file", a->tokens_file, "token matrix (.npy or .safetensors) for caches without tokens");
  cmd->add_option("--memory-budget", a->memory_budget_mib, "MiB of decoded shards kept in memory")
      ->capture_default_str();
  cmd->callback([a, &run] { run = [a] { return run_inspect(*a); }; });
}
