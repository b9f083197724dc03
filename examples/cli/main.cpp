// autointerp: the command-line tool. Parses the command line with CLI11 and hands over to the
// chosen subcommand; library errors that reach here become one line on stderr and exit code 2.
#include "commands.hpp"
#include "version.hpp"

#include <autointerp/error.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  CLI::App app{"autointerp: explain the latents of sparse autoencoders with an LLM"};
  std::string const version_line = "autointerp " + std::string(cli::version);
  app.set_version_flag("--version", version_line);
  app.require_subcommand(1);
  cli::action run;
  cli::add_inspect_command(app, run);
  cli::add_convert_command(app, run);
  cli::add_records_command(app, run);
  cli::add_neighbours_command(app, run);

  cli::add_explain_command(app, run);
  cli::add_score_command(app, run);
  cli::add_summary_command(app, run);
  cli::add_batches_command(app, run);
  cli::add_show_command(app, run);
  cli::add_report_command(app, run);
  app.add_subcommand("version", "print the version")->callback([&] {
    run = [&] {
      std::cout << version_line << "\n";
      return 0;
    };
  });

  try {
    app.parse(argc, argv);
  } catch (CLI::ParseError const& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    return run();
  } catch (autointerp::exception const& e) {
    std::cerr << "autointerp: " << e.what() << "\n";
    return 2;
  } catch (std::exception const& e) {
    std::cerr << "autointerp: " << e.what() << "\n";
    return 2;
  }
}
