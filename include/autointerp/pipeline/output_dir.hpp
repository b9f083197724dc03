#pragma once
// Where a run's results go: delphi-compatible explanation files and one run.jsonl line per latent.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/error.hpp>
#include <autointerp/pipeline/latent_outcome.hpp>
#include <autointerp/pipeline/run_line.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autointerp::pipeline {

/// Writes `content` to `path` through a temporary file in the same folder and a rename, so a reader
/// (or a killed process) sees either the old file or the whole new one, never half of it.
/// Errors: `errc::write_failed` naming the file and the system's reason. Thread-safe for distinct paths.
inline result<void> write_file_atomically(std::filesystem::path const& path, std::string_view content) {
  static std::atomic<unsigned long> counter{0};
  auto tmp = path;
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

/// An output folder: `explanations/<module>_latent<i>.txt` (the explanation as one JSON string, as
/// delphi writes it), `prompts/<module>_latent<i>.json` (dry runs) and `run.jsonl`.
///
/// run.jsonl is append-only: each line goes out in a single write() on an O_APPEND descriptor, so a
/// killed process leaves whole lines (rewriting the file per latent would cost O(n^2)); readers skip
/// a torn last line, which only a power loss can leave. Explanation files are written atomically
/// before their run.jsonl line, so an explanation file is the proof that a latent is done.
/// Not thread-safe except `write_files`: use it from one strand (the scheduler calls its hooks on one).
class output_dir {
 public:
  /// Creates the folders if needed and removes temporary files left by processes that died while
  /// writing. With `resume`, keeps run.jsonl and remembers which latents it
  /// lists as explained; without, starts run.jsonl afresh. Errors: `errc::write_failed`.
  static result<output_dir> open(std::filesystem::path root, bool resume) {
    output_dir d;
    d.root_ = std::move(root);
    std::error_code ec;
    std::filesystem::create_directories(d.root_ / "explanations", ec);
    if (ec) return make_error(errc::write_failed, "cannot create " + (d.root_ / "explanations").string() + ": " +
                                                      ec.message() + "; choose a writable --out folder");
    d.remove_stale_temporaries();
    auto jsonl = d.root_ / "run.jsonl";
    if (resume) d.load_explained(jsonl);
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (resume ? 0 : O_TRUNC);
    int fd = ::open(jsonl.c_str(), flags, 0644);
    if (fd < 0) return make_error(errc::write_failed, "cannot open " + jsonl.string() + ": " + std::strerror(errno));
    d.fd_ = std::shared_ptr<int>(new int(fd), [](int* p) {
      ::close(*p);
      delete p;
    });
    // A torn last line (a power loss mid-write) is ended, so the next line starts on its own.
    if (resume && !d.ends_with_newline(jsonl) && ::write(fd, "\n", 1) != 1)
      return make_error(errc::write_failed, "cannot append to " + jsonl.string() + ": " + std::strerror(errno));
    return d;
  }

  std::filesystem::path const& root() const noexcept { return root_; }

  /// `<module>_latent<i>`, delphi's name for a latent's files.
  static std::string stem(cache::latent_id const& id) { return id.module + "_latent" + std::to_string(id.index); }
  std::filesystem::path explanation_path(cache::latent_id const& id) const {
    return root_ / "explanations" / (stem(id) + ".txt");
  }
  std::filesystem::path prompt_path(cache::latent_id const& id) const { return root_ / "prompts" / (stem(id) + ".json"); }

  /// Resume check: true when the latent's explanation file exists. If run.jsonl lacks its line (the
  /// process died between the two writes) the line is added from the file, so run.jsonl stays complete.
  bool already_explained(cache::latent_id const& id) {
    std::error_code ec;
    auto path = explanation_path(id);
    if (!std::filesystem::is_regular_file(path, ec)) return false;
    if (!listed(id)) {
      latent_outcome o;
      o.latent = id;
      o.status = latent_status::explained;
      std::ifstream f(path, std::ios::binary);
      std::stringstream ss;
      ss << f.rdbuf();
      boost::system::error_code jec;
      auto v = boost::json::parse(ss.str(), jec);
      if (jec || !v.is_string()) return false;  // not ours or damaged: explain it again
      o.explanation = std::string(v.get_string());
      if (append_line(o)) {  // listed now, in case the selection names the latent twice
        auto& indices = explained_[id.module];
        indices.insert(std::upper_bound(indices.begin(), indices.end(), id.index), id.index);
      }
    }
    return true;
  }

  /// Records an outcome: `write_files`, then `append_line`. Errors: `errc::write_failed`.
  result<void> write(latent_outcome const& o) {
    auto r = write_files(o);
    if (!r) return r;
    return append_line(o);
  }

  /// Whether `write_files` has anything to write for `o`.
  static bool has_files(latent_outcome const& o) noexcept {
    return o.status == latent_status::explained || !o.request.empty();
  }

  /// An outcome's own files: its explanation file (explained only) and a dry run's request in
  /// prompts/. Safe to call from any thread, concurrently for distinct latents (each file is its
  /// own), so the disk work can leave the I/O thread. Errors: `errc::write_failed`.
  result<void> write_files(latent_outcome const& o) const {
    if (!o.request.empty()) {
      auto r = write_prompt(o.latent, o.request);
      if (!r) return r;
    }
    if (o.status == latent_status::explained)
      return write_file_atomically(explanation_path(o.latent), boost::json::serialize(boost::json::string(o.explanation)));
    return {};
  }

  /// Appends the outcome's run.jsonl line, after its files (an explanation file is the proof that a
  /// latent is done). Not thread-safe: call it from one strand. Errors: `errc::write_failed`.
  result<void> append_line(latent_outcome const& o) {
    std::string line = boost::json::serialize(to_json(o));
    line += '\n';
    std::size_t done = 0;
    while (done < line.size()) {
      auto n = ::write(*fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return make_error(errc::write_failed, "cannot append to " + (root_ / "run.jsonl").string() + ": " +
                                                  std::strerror(errno) + "; check free disk space");
      done += static_cast<std::size_t>(n);
    }
    return {};
  }

  /// Writes a dry run's request body for a latent into prompts/. Errors: `errc::write_failed`.
  result<void> write_prompt(cache::latent_id const& id, std::string_view json) const {
    std::error_code ec;
    std::filesystem::create_directories(root_ / "prompts", ec);
    return write_file_atomically(prompt_path(id), json);
  }

 private:
  // Latents run.jsonl listed as explained when the folder was opened, as sorted indices per module
  // (4 bytes a latent). Only consulted by `already_explained`, which sees each latent once, before
  // it runs, so lines appended by this run need no entry and memory does not grow during a run.
  bool listed(cache::latent_id const& id) const {
    auto it = explained_.find(id.module);
    return it != explained_.end() && std::binary_search(it->second.begin(), it->second.end(), id.index);
  }

  // Temporary files of processes that died mid-write (name.tmp.<pid>.<n>, pid no longer running);
  // those of live processes (other shards sharing the folder) are left alone.
  void remove_stale_temporaries() {
    for (auto const* sub : {"explanations", "prompts"}) {
      std::error_code ec;
      for (auto it = std::filesystem::directory_iterator(root_ / sub, ec); !ec && it != std::filesystem::directory_iterator();
           it.increment(ec)) {
        auto name = it->path().filename().string();
        auto at = name.rfind(".tmp.");
        if (at == std::string::npos) continue;
        long pid = std::strtol(name.c_str() + at + 5, nullptr, 10);
        if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
          std::error_code rec;
          std::filesystem::remove(it->path(), rec);
        }
      }
    }
  }

  static bool ends_with_newline(std::filesystem::path const& file) {
    std::ifstream f(file, std::ios::binary | std::ios::ate);
    if (!f || f.tellg() <= 0) return true;  // missing or empty: nothing to end
    f.seekg(-1, std::ios::end);
    char last = 0;
    return f.get(last) && last == '\n';
  }

  void load_explained(std::filesystem::path const& jsonl) {
    std::ifstream f(jsonl, std::ios::binary);
    std::string line;
    while (std::getline(f, line)) {
      auto r = parse_run_line(line);
      if (!r || r->status != "explained") continue;  // a torn last line, a foreign one, or not explained
      explained_[std::move(r->module)].push_back(r->latent);
    }
    for (auto& [module, indices] : explained_) std::sort(indices.begin(), indices.end());
  }

  std::filesystem::path root_;
  std::shared_ptr<int> fd_;
  std::map<std::string, std::vector<std::uint32_t>, std::less<>> explained_;
};

}  // namespace autointerp::pipeline
