#pragma once
// Running a command-line tool from a test: its exit code, stdout and stderr apart.

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace test_support {

struct cli_result {
  int code = -1;
  std::string out, err;
};

/// `p` quoted for the shell (paths without single quotes).
inline std::string shell_quoted(std::filesystem::path const& p) { return "'" + p.string() + "'"; }

/// Runs `prefix 'exe' args` through the shell, stderr going to `err_file` (then read back and
/// removed). `prefix` may set the environment, e.g. "env -u OPENROUTER_API_KEY".
inline cli_result run_cli(std::string const& exe, std::string const& args, std::filesystem::path const& err_file,
                          std::string const& prefix = {}) {
  std::string cmd = (prefix.empty() ? "" : prefix + " ") + shell_quoted(exe) + " " + args + " 2>" + shell_quoted(err_file);
  cli_result r;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
    int status = ::pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::ifstream in(err_file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  in.close();
  std::error_code ec;
  std::filesystem::remove(err_file, ec);
  return r;
}

}  // namespace test_support
