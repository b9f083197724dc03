// `autointerp summary OUT [--json]`: per scorer, what delphi's result analysis reports (pooled over
// every sample of every latent, null predictions counted as failed), plus accuracy per quantile,
// the distribution of per-latent figures, and what the run's calls used and cost (per stage, per
// latent, the cache hit rate, and the budget's over-run). Simulation, intruder and
// embedding have figures of their own (see score/run_summary.hpp).
#include "cache_selection.hpp"
#include "commands.hpp"

#include <autointerp/pipeline/run_store.hpp>
#include <autointerp/pipeline/spending.hpp>
#include <autointerp/score/run_summary.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
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

// OUT/budget.json, which a job with --max-cost or --max-prompt-tokens writes; nothing without one.
std::optional<boost::json::object> read_budget(std::filesystem::path const& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto v = boost::json::parse(text.str(), ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.get_object();
}

double number_at(boost::json::object const& o, std::string_view key) {
  auto const* v = o.if_contains(key);
  if (!v || !v->is_number()) return 0;
  boost::system::error_code ec;
  double d = v->to_number<double>(ec);
  return ec ? 0 : d;
}

std::string budget_text(boost::json::object const& b) {
  std::string t = "budget:";
  if (b.contains("max_cost_usd") && b.at("max_cost_usd").is_number())
    t += " --max-cost $" + figure(number_at(b, "max_cost_usd"), "%.4f") + ", over-run $" +
         figure(number_at(b, "cost_overrun_usd"), "%.4f") + ";";
  if (b.contains("max_prompt_tokens") && b.at("max_prompt_tokens").is_number())
    t += " --max-prompt-tokens " + figure(number_at(b, "max_prompt_tokens"), "%.0f") + ", over-run " +
         figure(number_at(b, "prompt_token_overrun"), "%.0f") + " tokens;";
  auto const* reached = b.if_contains("reached");
  t += reached && reached->is_bool() && reached->get_bool() ? " reached (the job stopped; --resume with a larger budget goes on)"
                                                            : " not reached";
  return t;
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

  // What the calls used and cost, per stage, over every run.jsonl line (a call asked again was paid again).
  auto const spent = ai::pipeline::read_spending(store->run_log_path());
  auto budget = read_budget(store->root() / "budget.json");

  if (a.json) {
    auto doc = sc::summary_json(entries);
    boost::json::object usage;
    for (auto const& [stage, u] : spent.by_stage)
      usage[stage] = boost::json::object{{"latents", u.latents},
                                         {"lines", u.lines},
                                         {"prompt_tokens", u.usage.prompt_tokens},
                                         {"completion_tokens", u.usage.completion_tokens},
                                         {"cached_tokens", u.usage.cached_tokens},
                                         {"cost_usd", u.usage.cost},
                                         {"cost_per_latent_usd", u.latents ? u.usage.cost / static_cast<double>(u.latents) : 0.0}};
    doc["usage"] = std::move(usage);
    boost::json::object cost{{"latents", spent.latents},
                             {"prompt_tokens", spent.total.prompt_tokens},
                             {"completion_tokens", spent.total.completion_tokens},
                             {"cached_tokens", spent.total.cached_tokens},
                             {"cache_hit_rate", spent.cache_hit_rate()},
                             {"cost_usd", spent.total.cost},
                             {"cost_per_latent_usd", spent.cost_per_latent()}};
    if (budget) cost["budget"] = *budget;
    doc["cost"] = std::move(cost);
    std::cout << sc::to_json_text(doc) << "\n";
    return 0;
  }
  if (entries.empty()) std::cout << a.out << ": no score files yet\n";
  std::cout << text;
  for (auto const& [stage, u] : spent.by_stage) {
    std::cout << stage << " calls: " << u.latents << " latents, " << u.usage.prompt_tokens << " prompt ("
              << u.usage.cached_tokens << " cached) + " << u.usage.completion_tokens << " completion tokens";
    if (u.usage.cost > 0)
      std::cout << ", $" << figure(u.usage.cost, "%.4f") << " ($"
                << figure(u.usage.cost / static_cast<double>(std::max<std::size_t>(1, u.latents)), "%.6f") << " a latent)";
    std::cout << "\n";
  }
  if (spent.total.prompt_tokens > 0)
    std::cout << "cost: $" << figure(spent.total.cost, "%.4f") << " for " << spent.latents << " latents ($"
              << figure(spent.cost_per_latent(), "%.6f") << " a latent), cache hit rate "
              << figure(spent.cache_hit_rate() * 100, "%.1f") << "% of prompt tokens\n";
  if (budget) std::cout << budget_text(*budget) << "\n";
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
