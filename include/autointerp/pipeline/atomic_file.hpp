#pragma once
// Writing a file so that a reader, or a killed process, sees the old file or the whole new one.

#include <autointerp/error.hpp>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace autointerp::pipeline {

/// Writes `content` to `path` through a temporary file in `temp_dir` (same file system; the
/// folder of `path` when empty) and a rename. Temporaries are named `<name>.tmp.<pid>.<n>`, so a
/// later run can tell those of dead processes. Errors: `errc::write_failed` naming the file and the
/// system's reason. Thread-safe for distinct paths.
inline result<void> write_file_atomically(std::filesystem::path const& path, std::string_view content,
                                          std::filesystem::path const& temp_dir = {}) {
  static std::atomic<unsigned long> counter{0};
  auto tmp = (temp_dir.empty() ? path.parent_path() : temp_dir) / path.filename();
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return make_error(errc::write_failed, "cannot create " + tmp.string() + ": " + std::strerror(errno) +
                                                      "; check that the output folder is writable");
    f.write(content.data(), static_cast<std::streamsize>(content.size()));
    f.close();
    if (!f) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return make_error(errc::write_failed, "cannot write " + tmp.string() + "; check free disk space");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return make_error(errc::write_failed, "cannot rename into " + path.string() + ": " + ec.message());
  }
  return {};
}

}  // namespace autointerp::pipeline
