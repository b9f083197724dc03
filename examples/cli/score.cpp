// `autointerp score`: scores explanations that already exist (ours, or delphi's
// `explanations/<module>_latent<i>.txt`) with detection and fuzzing, under the same scheduler,
// retries, resume and outputs as `explain --scorers`.
#include "commands.hpp"
#include "job_runner.hpp"

#include <autointerp/pipeline/run_store.hpp>
#include <autointerp/pipeline/score_stage.hpp>

#include <memory>
#include <string>
#include <vector>

namespace ai = autointerp;

namespace {

struct score_args {
  cli::job_args job;
  std::string explanations;
};

int run_score(score_args& a) {
  namespace pl = ai::pipeline;
  if (a.job.scorers.empty()) return cli::fail("score", "--scorers is required: detection, fuzz (comma-separated)");
  // DIR is a run folder holding explanations/, or that folder itself (read either way).
  auto source = pl::run_store::open(a.explanations, pl::store_mode::read);
  if (!source) return cli::fail("score", "--explanations: " + source.error().what());
  auto explanations = std::make_shared<pl::run_store const>(std::move(*source));
  std::vector<std::unique_ptr<ai::score::scorer>> scorers;
  return cli::run_job("score", a.job, [&](cli::job_env const& env) -> ai::result<pl::stage_list> {
    auto made = cli::make_scorers(a.job, env);
    if (!made) return made.error();
    scorers = std::move(*made);
    pl::stage_list stages;
    for (auto const& s : scorers) stages.push_back(std::make_shared<pl::score_stage>(*s, explanations));
    return stages;
  });
}

}  // namespace

void cli::add_score_command(CLI::App& app, cli::action& run) {
  auto a = std::make_shared<score_args>();
  auto* cmd = app.add_subcommand("score", "score existing explanations (detection, fuzzing) against held-out examples");
  add_job_options(cmd, a->job, "score");
  cmd->add_option("--explanations", a->explanations,
                  "explanations to score: a run folder holding explanations/ (ours or delphi's), or that folder itself")
      ->required();
  cmd->callback([a, &run] { run = [a] { return run_score(*a); }; });
}
