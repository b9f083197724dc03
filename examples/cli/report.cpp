// `autointerp report`: one self-contained HTML file with a sortable, filterable list of latents and,
// for each, its strongest windows coloured by activation and a histogram of its activations; with
// `--run` of a scored run, a column per scorer and histograms of per-latent balanced accuracy.
#include "commands.hpp"
#include "view_common.hpp"

#include <autointerp/cache/latent_spec.hpp>
#include <autointerp/pipeline/atomic_file.hpp>
#include <autointerp/report/html_report.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace {

struct report_args {
  cli::views::source_args source;
  std::string latents, out, title;
};

int run_report(report_args& a) {
  namespace ai = autointerp;
  auto opened = cli::views::open_source("report", a.source);
  if (auto const* code = std::get_if<int>(&opened)) return *code;
  auto const& s = std::get<cli::views::source>(opened);

  std::vector<std::uint32_t> indices;
  if (a.latents.empty()) {
    indices.resize(s.module->width);
    for (std::uint32_t i = 0; i < indices.size(); ++i) indices[i] = i;
  } else {
    auto spec = ai::cache::parse_latent_spec(a.latents, s.module->width);
    if (!spec) return cli::views::usage_error("report", spec.error().what());
    indices = std::move(*spec);
  }

  auto const started = std::chrono::steady_clock::now();
  std::string source = a.source.cache + ", module " + s.module->name + ", " + std::to_string(indices.size()) +
                       " latents, " + std::string(ai::records::to_string(s.view.windows)) + " windows of " +
                       std::to_string(ai::report::effective_window_length(s.view, s.module->ctx_len)) + " tokens";
  if (!s.module->model_name.empty()) source += ", model " + s.module->model_name;
  if (!a.source.run.empty())
    source += (s.scorers.empty() ? ", explanations from " : ", explanations and scores from ") + a.source.run;
  ai::report::report_builder builder({a.title.empty() ? "autointerp: " + s.module->name : a.title, source});

  // Views are built in parallel, a block at a time, and added in order: memory stays at one block.
  unsigned const n_threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  std::size_t const block = 256;
  std::vector<std::optional<ai::result<ai::report::latent_view>>> views(block);
  bool const progress = indices.size() >= 5000;
  for (std::size_t first = 0; first < indices.size(); first += block) {
    std::size_t const n = std::min(block, indices.size() - first);
    std::atomic<std::size_t> next{0};
    {
      std::vector<std::jthread> workers;
      for (unsigned t = 0; t < n_threads; ++t)
        workers.emplace_back([&] {
          for (std::size_t i; (i = next++) < n;) views[i] = cli::views::load_view(s, indices[first + i]);
        });
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!*views[i]) return cli::views::usage_error("report", views[i]->error().what());
      for (auto const& f : (*views[i])->scores)
        if (!f.error.empty()) std::cerr << "autointerp report: left out: " << f.error << "\n";
      builder.add(**views[i]);
      views[i].reset();
    }
    if (progress) std::cerr << "autointerp report: " << first + n << "/" << indices.size() << " latents\n";
  }
  auto page = builder.html();
  if (auto w = ai::pipeline::write_file_atomically(a.out, page); !w)
    return cli::views::usage_error("report", w.error().what());
  auto const ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  std::cerr << "autointerp report: wrote " << a.out << " (" << builder.size() << " latents, " << page.size()
            << " bytes) in " << ms << " ms\n";
  return 0;
}

}  // namespace

void cli::add_report_command(CLI::App& app, cli::action& run) {
  auto a = std::make_shared<report_args>();
  auto* cmd = app.add_subcommand("report", "write one self-contained HTML page to browse latents and their windows");
  cli::views::add_source_options(cmd, a->source);
  cmd->add_option("--latents", a->latents, "latents to include, e.g. 0-9,17,100-199 (default: all)");
  cmd->add_option("--out", a->out, "the HTML file to write")->required();
  cmd->add_option("--title", a->title, "page title (default: the module's name)");
  cmd->callback([a, &run] { run = [a] { return run_report(*a); }; });
}
