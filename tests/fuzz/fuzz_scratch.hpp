#pragma once
// A fuzzer's own scratch folder, in memory when /dev/shm is there (four times the runs per second).
// libFuzzer ends without running atexit handlers, so folders of dead fuzzer processes with the same
// prefix are removed when the folder is first made.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>

inline std::filesystem::path const& fuzz_scratch(std::string const& prefix) {
  namespace fs = std::filesystem;
  static fs::path const dir = [&] {
    std::error_code ec;
    fs::path base = !std::getenv("TMPDIR") && fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    for (auto it = fs::directory_iterator(base, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::string const name = it->path().filename().string();
      if (!name.starts_with(prefix)) continue;
      long const pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
      std::error_code rec;
      if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(it->path(), rec);
    }
    fs::path d = base / (prefix + std::to_string(::getpid()));
    fs::remove_all(d, ec);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}
