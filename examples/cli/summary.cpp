// `autointerp summary OUT [--json]`: per scorer, what delphi's result analysis reports (pooled over
// every sample of every latent, null predictions counted as failed), plus accuracy per quantile,
// the distribution of per-latent figures, and what the run's calls used. Simulation, intruder and
// embedding have figures of their own (see score/run_summary.hpp).
#include "cache_selection.hpp"
#include "commands.hpp"

#include <autointerp/pipeline/run_store.hpp>
#include <autointerp/score/run_summary.hpp>

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

std::string distribution_text(std::string const& what, ai::score::latent_distribution const& d) {
  return "  per latent " + what + " (" + std::to_string(d.latents) + " latents, " + std::to_string(d.excluded) +
         " undefined left out): median " + figure(d.median) + ", quartiles " + figure(d.q1) + "-" + figure(d.q3) +
         ", mean " + figure(d.mean) + " (95% CI " + figure(d.ci95_low) + "-" + figure(d.ci95_high) + ")\n";
}

std::string classifier_text(std::string const& name, ai::score::scorer_summary const& s) {
  auto const& c = s.counts;
  std::string out = name + ": " + std::to_string(s.latents) + " latents, " + std::to_string(c.examples()) +
                    " examples, " + std::to_string(c.failed) + " failed\n  balanced accuracy " +
                    figure(s.balanced_accuracy) + ", F1 " + figure(s.f1) + ", precision " + figure(s.precision) +
                    ", recall " + figure(s.recall) + ", AUC " + figure(s.auc) + "\n  TP " +
                    std::to_string(c.true_positives) + ", TN " + std::to_string(c.true_negatives) + ", FP " +
                    std::to_string(c.false_positives) + ", FN " + std::to_string(c.false_negatives) + "\n" +
                    distribution_text("balanced accuracy", s.per_latent);
  if (!s.per_quantile.empty()) {
    out += "  recall by quantile:";
    for (auto const& q : s.per_quantile) out += " " + figure(q.quantile, "%g") + ":" + figure(q.accuracy, "%.2f");
    out += "\n";
  }
  return out + "  frequency-weighted F1 " + figure(s.weighted_f1) + "\n";
}

int run_summary(summary_args const& a) {
  namespace pl = ai::pipeline;
  namespace sc = ai::score;
  auto store = pl::run_store::open(a.out, pl::store_mode::read);
  if (!store) return cli::fail("summary", store.error().what());
  auto scores = sc::read_run_scores(*store);
  if (!scores) return cli::fail("summary", scores.error().what());
  for (auto const& u : scores->unreadable) std::cerr << "autointerp summary: left out: " << u << "\n";

  std::vector<std::pair<std::string, boost::json::object>> entries;
  std::string text;
  for (auto const& [name, latents] : scores->by_scorer) {
    switch (sc::score_file_format_of(name)) {
      case sc::score_file_format::classifier: {
        auto const s = sc::summarize(latents, scores->counts());
        entries.emplace_back(name, sc::to_json(s));
        text += classifier_text(name, s);
        break;
      }
      case sc::score_file_format::simulation: {
        auto const s = sc::summarize_simulation(latents);
        entries.emplace_back(name, sc::to_json(s));
        text += name + ": " + std::to_string(s.latents) + " latents, " + std::to_string(s.samples) + " examples, " +
                std::to_string(s.failed) + " failed\n  correlation (all examples joined) " +
                figure(s.pooled.ev_correlation) + ", R^2 " + figure(s.pooled.rsquared) + ", abs-dev explained " +
                figure(s.pooled.absolute_dev_explained) + "\n" + distribution_text("correlation", s.per_latent);
        if (!s.per_quantile.empty()) {
          text += "  correlation by quantile:";
          for (auto const& q : s.per_quantile) text += " " + figure(q.quantile, "%g") + ":" + figure(q.ev_correlation, "%.2f");
          text += "\n";
        }
        break;
      }
      case sc::score_file_format::intruder: {
        auto const s = sc::summarize_intruder(latents);
        entries.emplace_back(name, sc::to_json(s));
        text += name + ": " + std::to_string(s.latents) + " latents, " + std::to_string(s.pooled.answered) +
                " prompts answered, " + std::to_string(s.pooled.failed) + " failed\n  accuracy " +
                figure(s.pooled.accuracy()) + "\n" + distribution_text("accuracy", s.per_latent);
        if (!s.per_quantile.empty()) {
          text += "  accuracy by quantile:";
          for (auto const& q : s.per_quantile)
            text += " " + std::to_string(q.quantile) + ":" + figure(q.counts.accuracy(), "%.2f");
          text += "\n";
        }
        break;
      }
      case sc::score_file_format::embedding: {
        auto const s = sc::summarize_embedding(latents);
        entries.emplace_back(name, sc::to_json(s));
        text += name + ": " + std::to_string(s.latents) + " latents, " + std::to_string(s.samples) + " examples, " +
                std::to_string(s.failed) + " without a similarity\n  AUC (mean over latents) " +
                figure(s.per_latent.mean) + "\n" + distribution_text("AUC", s.per_latent);
        break;
      }
    }
  }

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
    auto doc = sc::summary_json(entries);
    boost::json::object usage;
    for (auto const& [stage, u] : by_stage)
      usage[stage] = boost::json::object{{"latents", u.lines}, {"prompt_tokens", u.prompt},
                                         {"completion_tokens", u.completion}, {"cost_usd", u.cost}};
    doc["usage"] = std::move(usage);
    std::cout << sc::to_json_text(doc) << "\n";
    return 0;
  }
  if (entries.empty()) std::cout << a.out << ": no score files yet\n";
  std::cout << text;
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
