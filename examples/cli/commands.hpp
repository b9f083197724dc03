#pragma once
// The subcommands of the `autointerp` tool. Each adds itself to the app and, when chosen, sets
// `run` to the function that does the work and returns the exit code (0 ok, 1 some latents
// failed or a runtime failure after a good start, 2 bad usage or input, 3 a budget was reached).

#include <CLI/CLI.hpp>

#include <functional>

namespace cli {

using action = std::function<int()>;

void add_inspect_command(CLI::App& app, action& run);
void add_convert_command(CLI::App& app, action& run);
void add_records_command(CLI::App& app, action& run);
void add_neighbours_command(CLI::App& app, action& run);

void add_explain_command(CLI::App& app, action& run);
void add_score_command(CLI::App& app, action& run);
void add_summary_command(CLI::App& app, action& run);
void add_batches_command(CLI::App& app, action& run);
void add_show_command(CLI::App& app, action& run);
void add_report_command(CLI::App& app, action& run);

}  // namespace cli
