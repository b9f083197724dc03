// `autointerp show`: one latent's strongest windows in the terminal, each token shaded by its
// activation (plain text with << >> marks when the output is not a terminal); with `--run`, its
// explanation, status and scores above them.
#include "commands.hpp"
#include "view_common.hpp"

#include <autointerp/report/terminal_view.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>

namespace {

struct show_args {
  cli::views::source_args source;
  std::uint32_t latent = 0;
  std::string colour = "auto";
};

int run_show(show_args& a) {
  namespace report = autointerp::report;
  report::colour_mode mode;
  if (a.colour == "auto")
    mode = report::choose_colour_mode(::isatty(STDOUT_FILENO) == 1, std::getenv("NO_COLOR"), std::getenv("TERM"),
                                      std::getenv("COLORTERM"));
  else if (a.colour == "never") mode = report::colour_mode::none;
  else if (a.colour == "256") mode = report::colour_mode::ansi256;
  else if (a.colour == "truecolor" || a.colour == "always") mode = report::colour_mode::truecolour;
  else return cli::views::usage_error("show", "--color '" + a.colour + "': use auto, never, 256, truecolor or always");

  auto opened = cli::views::open_source("show", a.source);
  if (auto const* code = std::get_if<int>(&opened)) return *code;
  auto const& s = std::get<cli::views::source>(opened);
  if (a.latent >= s.module->width)
    return cli::views::usage_error("show", "--latent " + std::to_string(a.latent) + " is past the width of module '" +
                                               s.module->name + "' (latents are 0-" +
                                               std::to_string(s.module->width - 1) + ")");
  auto view = cli::views::load_view(s, a.latent);
  if (!view) return cli::views::usage_error("show", view.error().what());
  std::cout << report::render_terminal(*view, {mode, true}) << std::flush;
  return 0;
}

}  // namespace

void cli::add_show_command(CLI::App& app, cli::action& run) {
  auto a = std::make_shared<show_args>();
  auto* cmd = app.add_subcommand("show", "show one latent's strongest windows in the terminal, shaded by activation");
  cli::views::add_source_options(cmd, a->source);
  cmd->add_option("--latent", a->latent, "the latent to show")->required();
  cmd->add_option("--color", a->colour, "auto (colour on a terminal unless NO_COLOR), never, 256, truecolor")
      ->capture_default_str();
  cmd->callback([a, &run] { run = [a] { return run_show(*a); }; });
}
