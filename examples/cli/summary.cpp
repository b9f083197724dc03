// `autointerp summary OUT [--json]`: per scorer, what delphi's result analysis reports (pooled over
// every sample of every latent, null predictions counted as failed), plus accuracy per quantile,
// the distribution of per-latent balanced accuracy, and what the run's calls used.
#include "cache_selection.hpp"
#include "commands.hpp"

#include <autointerp/pipeline/run_store.hpp>
#include <autointerp/score/run_scores.hpp>
#include <autointerp/score/summary.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ai = autointerp;

namespace {

struct summary_args {
  std::string out;
  bool json = false;
};

std::string figure(std::optional<double> v, char const* format = "%.3f") {
  if (!v) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, format, *v);
  return buf;
}

int run_summary(summary_args const& a) {
  namespace pl = ai::pipeline;
  namespace sc = ai::score;
  auto store = pl::run_store::open(a.out, pl::store_mode::read);
  if (!store) return cli::fail("summary", store.error().what());
  auto scores = sc::read_run_scores(*store);
  if (!scores) return cli::fail("summary", scores.error().what());
  for (auto const& u : scores->unreadable) std::cerr << "autointerp summary: left out: " << u << "\n";

  std::vector<std::pair<std::string, sc::scorer_summary>> summaries;
  for (auto const& [name, latents] : scores->by_scorer)
    summaries.emplace_back(name, sc::summarize(latents, scores->counts()));

  // What the calls used, per stage (from run.jsonl).
  struct use {
    std::size_t lines = 0;
    std::uint64_t prompt = 0, completion = 0;
    double cost = 0;
  };
  std::map<std::string, use> by_stage;
  for (auto const& l : store->lines()) {
    auto& u = by_stage[l.stage];
    ++u.lines;
    u.prompt += l.usage.prompt_tokens;
    u.completion += l.usage.completion_tokens;
    u.cost += l.usage.cost;
  }

  if (a.json) {
    auto doc = sc::summary_json(summaries);
    boost::json::object usage;
    for (auto const& [stage, u] : by_stage)
      usage[stage] = boost::json::object{{"latents", u.lines}, {"prompt_tokens", u.prompt},
                                         {"completion_tokens", u.completion}, {"cost_usd", u.cost}};
    doc["usage"] = std::move(usage);
    std::cout << sc::to_json_text(doc) << "\n";
    return 0;
  }
  if (summaries.empty()) std::cout << a.out << ": no score files yet\n";
  for (auto const& [name, s] : summaries) {
    auto const& c = s.counts;
    std::cout << name << ": " << s.latents << " latents, " << c.examples() << " examples, " << c.failed << " failed\n"
              << "  balanced accuracy " << figure(s.balanced_accuracy) << ", F1 " << figure(s.f1) << ", precision "
              << figure(s.precision) << ", recall " << figure(s.recall) << ", AUC " << figure(s.auc) << "\n"
              << "  TP " << c.true_positives << ", TN " << c.true_negatives << ", FP " << c.false_positives << ", FN "
              << c.false_negatives << "\n";
    auto const& d = s.per_latent;
    std::cout << "  per latent (" << d.latents << ", " << d.excluded << " without positives or negatives left out): median "
              << figure(d.median) << ", quartiles " << figure(d.q1) << "-" << figure(d.q3) << ", mean " << figure(d.mean)
              << " (95% CI " << figure(d.ci95_low) << "-" << figure(d.ci95_high) << ")\n";
    if (!s.per_quantile.empty()) {
      std::cout << "  recall by quantile:";
      for (auto const& q : s.per_quantile) std::cout << " " << q.quantile << ":" << figure(q.accuracy, "%.2f");
      std::cout << "\n";
    }
    std::cout << "  frequency-weighted F1 " << figure(s.weighted_f1) << "\n";
  }
  for (auto const& [stage, u] : by_stage) {
    std::cout << stage << " calls: " << u.lines << " latents, " << u.prompt << " prompt + " << u.completion
              << " completion tokens";
    if (u.cost > 0) std::cout << ", $" << figure(u.cost, "%.4f");
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

void cli::add_summary_command(CLI::App& app, cli::action& run) {
  auto a = std::make_shared<summary_args>();
  auto* cmd = app.add_subcommand("summary", "per-scorer metrics of a run's score files (delphi's figures and more)");
  cmd->add_option("out", a->out, "the --out folder of explain or score")->required();
  cmd->add_flag("--json", a->json, "print one JSON object instead of text");
  cmd->callback([a, &run] { run = [a] { return run_summary(*a); }; });
}
