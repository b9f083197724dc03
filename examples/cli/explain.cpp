// `autointerp explain`: the main job. Every selected latent of one module is loaded, turned into a
// record, explained (by an LLM, the statistical baseline, or a dry run that only writes prompts),
// optionally scored (--scorers), and saved, at most --concurrency LLM calls at once. Ctrl-C once
// drains (in-flight latents finish and are saved), twice cancels them.
#include "commands.hpp"
#include "job_runner.hpp"

#include <autointerp/explain/dry_run_explainer.hpp>
#include <autointerp/explain/llm_explainer.hpp>
#include <autointerp/explain/statistical_explainer.hpp>
#include <autointerp/pipeline/explain_stage.hpp>
#include <autointerp/pipeline/score_stage.hpp>

#include <memory>
#include <string>
#include <vector>

namespace ai = autointerp;

namespace {

struct explain_args {
  cli::job_args job;
  std::string explainer = "default";
  bool show_levels = false, cot = false;
  float threshold = 0.3f;
};

int run_explain(explain_args& a) {
  namespace ex = ai::explain;
  namespace pl = ai::pipeline;
  ex::llm_explainer_options eo;
  eo.prompt.threshold = a.threshold;
  eo.prompt.show_levels = a.show_levels;
  eo.prompt.chain_of_thought = a.cot;
  if (a.explainer == "default") eo.prompt.kind = ex::explainer_kind::standard;
  else if (a.explainer == "contrastive") eo.prompt.kind = ex::explainer_kind::contrastive;
  else if (a.explainer == "single-token") eo.prompt.kind = ex::explainer_kind::single_token;
  else return cli::fail("explain", "--explainer '" + a.explainer + "': use default, contrastive or single-token");

  // The objects the stages refer to live here, for the whole job.
  std::unique_ptr<ex::explainer> explainer;
  std::vector<std::unique_ptr<ai::score::scorer>> scorers;
  return cli::run_job("explain", a.job, [&](cli::job_env const& env) -> ai::result<pl::stage_list> {
    eo.model = a.job.model;
    eo.max_tokens = a.job.max_tokens;
    eo.temperature = a.job.temperature;
    if (env.client) explainer = std::make_unique<ex::llm_explainer>(*env.client, eo);
    else if (env.provider.name == "dry-run") explainer = std::make_unique<ex::dry_run_explainer>(env.io, eo);
    else explainer = std::make_unique<ex::statistical_explainer>(env.io, eo.prompt.threshold);
    auto made = cli::make_scorers(a.job, env);
    if (!made) return made.error();
    scorers = std::move(*made);
    pl::stage_list stages{std::make_shared<pl::explain_stage>(*explainer)};
    for (auto const& s : scorers) stages.push_back(std::make_shared<pl::score_stage>(*s));
    return stages;
  });
}

}  // namespace

void cli::add_explain_command(CLI::App& app, cli::action& run) {
  auto a = std::make_shared<explain_args>();
  auto* cmd = app.add_subcommand("explain", "explain the latents of a module (LLM, statistical baseline or dry run), and score them");
  add_job_options(cmd, a->job, "explain");
  cmd->add_option("--explainer", a->explainer, "default, contrastive or single-token")->capture_default_str();
  cmd->add_option("--threshold", a->threshold, "a token is highlighted above this fraction of its example's maximum")
      ->capture_default_str();
  cmd->add_flag("--show-levels", a->show_levels, "list each highlighted token with its 0..10 level");
  cmd->add_flag("--cot", a->cot, "ask the model to reason step by step before its answer");
  cmd->callback([a, &run] { run = [a] { return run_explain(*a); }; });
}
