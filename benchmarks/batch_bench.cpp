// `autointerp explain --scorers detection --provider openai-batch` (the tool itself, as a child
// process) against the fake Batch API of tests/support, one line per job size:
//   client-side time (the passes: records loaded, prompts built and written to input files, answers
//   mapped back and saved), submitting, downloading, wall time, and the child's peak RSS.
// Run at 2,000 and 10,000 latents side by side: requests in a round grow four- to five-fold, and peak
// memory must not (input files are streamed out, results read back one line at a time; what grows
// is 24 bytes a request for the result index and the batch log's hashes).
// The synthetic cache (10,000 latents, 65,536 tokens, 32 active latents per token) is generated in
// a temporary folder and removed at the end.
// Usage: batch_bench [folder]   (a folder given is kept afterwards)
#include "fake_answers.hpp"
#include "fake_batch_api.hpp"
#include "fake_llm_server.hpp"
#include "synthetic_cache.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

bench::synthetic_cache_shape const shape{.width = 10'000, .shards = 4, .rows = 1024, .ctx = 64, .per_token = 32, .skew = 1.0};

struct child_run {
  int code = -1;
  double seconds = 0;
  double peak_mb = 0;
  std::string err;
};

// Runs the tool with `args`, stderr to a file; exit code, wall time and peak RSS.
child_run run_tool(std::vector<std::string> args, fs::path const& err_file) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(AUTOINTERP_CLI_EXE));
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto const start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    std::FILE* f = std::fopen(err_file.c_str(), "w");
    if (f) ::dup2(::fileno(f), 2);
    ::setenv("OPENAI_API_KEY", "sk-bench", 1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  // The child's peak RSS is its VmHWM, read while it runs (once it is the tool): wait4's ru_maxrss
  // would count the pages it shared with this process (and its fake server's files) before exec.
  child_run r;
  int status = 0;
  for (;;) {
    std::ifstream proc("/proc/" + std::to_string(pid) + "/status");
    bool exec_done = false;  // before exec, the child is a copy of this process
    for (std::string line; std::getline(proc, line);) {
      if (line.rfind("Name:", 0) == 0) exec_done = line.find("autointerp") != std::string::npos;
      if (exec_done && line.rfind("VmHWM:", 0) == 0) r.peak_mb = std::max(r.peak_mb, std::stod(line.substr(6)) / 1024.0);
    }
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  return r;
}

double ms_figure(std::string const& text, std::string const& label) {
  std::smatch m;
  if (std::regex_search(text, m, std::regex("([0-9]+) ms " + label))) return std::stod(m[1]) / 1000.0;
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path base = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / ("autointerp_batch_bench_" + std::to_string(::getpid()));
  fs::remove_all(base);
  auto const cache = base / "cache";
  auto t0 = std::chrono::steady_clock::now();
  bench::write_synthetic_cache(cache, shape);
  std::printf("generated %u latents x %llu tokens, %u active per token in %.1f s\n", shape.width,
              static_cast<unsigned long long>(shape.tokens()), shape.per_token,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  autointerp::testing::fake_batch_settings settings;
  settings.fail_fraction = 0.02;  // a retry round, as real batches have
  autointerp::testing::fake_batch_api api(settings);
  asio::io_context io;
  autointerp::testing::fake_llm_server server(io.get_executor(), api.handler());
  auto guard = asio::make_work_guard(io);
  std::thread server_thread([&] { io.run(); });

  bool met = true;
  std::vector<double> peaks, requests_of;
  // 2,000 latents as every fifth of the 10,000 (--shard 0/5), so both jobs read every shard and
  // what differs is the number of requests.
  for (std::size_t n : {2'000u, 10'000u}) {
    auto const out = base / ("out-" + std::to_string(n));
    auto const requests_before = api.distinct_requests();
    auto r = run_tool({"explain", cache.string(), "--latents", "0-9999", "--shard", n == 2'000 ? "0/5" : "0/1", "--min-examples", "5", "--scorers",
                       "detection", "--provider", "openai-batch", "--base-url", server.base_url(), "--model", "fake",
                       "--batch-poll-interval", "0.05", "--batch-max-requests", "5000", "--concurrency", "64", "--out", out.string()},
                      base / "stderr.txt");
    auto const requests = api.distinct_requests() - requests_before;
    double const prep = ms_figure(r.err, "preparing and mapping"), submit = ms_figure(r.err, "submitting"),
                 download = ms_figure(r.err, "downloading");
    std::printf("batch_bench %zu latents explained and scored (detection) through the fake Batch API: %zu requests, "
                "client-side prep+mapping %.2f s (%.0f us a request), submitting %.2f s, downloading+indexing %.2f s, "
                "wall %.2f s, peak RSS %.1f MB, exit %d\n",
                n, requests, prep, requests ? prep * 1e6 / static_cast<double>(requests) : 0.0, submit, download, r.seconds,
                r.peak_mb, r.code);
    if (r.code != 0) {
      std::fprintf(stderr, "%s", r.err.substr(r.err.size() > 2000 ? r.err.size() - 2000 : 0).c_str());
      met = false;
    }
    peaks.push_back(r.peak_mb);
    requests_of.push_back(static_cast<double>(requests));
  }
  double const growth = peaks[1] / peaks[0];
  bool const flat = growth < 1.25;
  std::printf("batch_bench peak RSS at 10,000 vs 2,000 latents: %.1f MB vs %.1f MB (x%.2f for x%.1f the requests; target "
              "under x1.25): %s\n",
              peaks[1], peaks[0], growth, requests_of[0] > 0 ? requests_of[1] / requests_of[0] : 0.0, flat ? "met" : "NOT met");
  server.stop();
  guard.reset();
  server_thread.join();
  if (argc <= 1) fs::remove_all(base);  // a folder given is kept, to look at
  return met && flat ? 0 : 1;
}
