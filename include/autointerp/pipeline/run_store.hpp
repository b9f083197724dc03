#pragma once
// The run store: the one owner of an output folder. It knows the folder's paths, writes files
// atomically and `run.jsonl` lines, answers "is this latent's stage done?" for resume, reads the
// folder back for reports and summaries, and repairs `run.jsonl` as a separate, named step.
//
//   OUT/explanations/<module>_latent<i>.txt    the explanation as one JSON string (delphi's file)
//   OUT/scores/<scorer>/<module>_latent<i>.txt one JSON list per latent (delphi's score files)
//   OUT/prompts/<module>_latent<i>.json        dry runs: the request body
//   OUT/run.jsonl                              one line per latent and stage (see run_line.hpp)
//   OUT/.tmp/                                  temporaries while files are written (never in the
//                                              folders delphi's readers list)

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/error.hpp>
#include <autointerp/pipeline/atomic_file.hpp>
#include <autointerp/pipeline/latent_outcome.hpp>
#include <autointerp/pipeline/run_line.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace autointerp::pipeline {

/// How a run store opens its folder.
enum class store_mode {
  fresh,   ///< write: create the folders, start run.jsonl afresh
  resume,  ///< write: keep run.jsonl and every file; finished work is found by its files
  read,    ///< read only: an `explain --out` folder, or delphi's explanations folder itself
};

class run_store {
 public:
  /// Opens `root`. Writing modes create the folders and remove temporaries left by processes that
  /// died while writing (those of live processes, other shards sharing the folder, are kept).
  /// `read` reads run.jsonl now (a later line for the same latent and stage wins, so a resumed run
  /// shows its latest outcome; torn or foreign lines are skipped).
  /// Errors: `errc::write_failed` (a folder or run.jsonl cannot be created), `errc::file_not_found`
  /// (`read` of a folder that does not exist).
  static result<run_store> open(std::filesystem::path root, store_mode mode) {
    run_store s;
    s.root_ = std::move(root);
    s.mode_ = mode;
    std::error_code ec;
    if (mode == store_mode::read) {
      if (!std::filesystem::is_directory(s.root_, ec))
        return make_error(errc::file_not_found, "run folder " + s.root_.string() +
                                                    " does not exist; give the output folder of an explain or score job");
      s.read_lines();
      return s;
    }
    for (auto const& sub : {s.root_ / "explanations", s.temp_dir()}) {
      std::filesystem::create_directories(sub, ec);
      if (ec) return make_error(errc::write_failed, "cannot create " + sub.string() + ": " + ec.message() +
                                                        "; choose a writable output folder (job_options::out)");
    }
    s.remove_stale_temporaries();
    auto jsonl = s.run_log_path();
    bool const resume = mode == store_mode::resume;
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (resume ? 0 : O_TRUNC);
    int fd = ::open(jsonl.c_str(), flags, 0644);
    if (fd < 0) return make_error(errc::write_failed, "cannot open " + jsonl.string() + ": " + std::strerror(errno));
    s.fd_ = std::shared_ptr<int>(new int(fd), [](int* p) {
      ::close(*p);
      delete p;
    });
    // A torn last line (a power loss mid-write) is ended, so the next line starts on its own.
    if (resume && !ends_with_newline(jsonl) && ::write(fd, "\n", 1) != 1)
      return make_error(errc::write_failed, "cannot append to " + jsonl.string() + ": " + std::strerror(errno));
    return s;
  }

  std::filesystem::path const& root() const noexcept { return root_; }

  // Paths ------------------------------------------------------------------------------------

  /// `<module>_latent<i>`, delphi's name for a latent's files.
  static std::string stem(cache::latent_id const& id) { return id.module + "_latent" + std::to_string(id.index); }
  /// The latent `stem` names, or nothing.
  static std::optional<cache::latent_id> parse_stem(std::string_view stem) {
    auto at = stem.rfind("_latent");
    if (at == std::string_view::npos || at == 0) return std::nullopt;
    auto digits = stem.substr(at + 7);
    std::uint32_t index = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (digits.empty() || ec != std::errc{} || p != digits.data() + digits.size()) return std::nullopt;
    return cache::latent_id{std::string(stem.substr(0, at)), index};
  }
  /// Paths relative to the folder (what stages put in `output_file::relative`).
  static std::filesystem::path explanation_file(cache::latent_id const& id) {
    return std::filesystem::path("explanations") / (stem(id) + ".txt");
  }
  static std::filesystem::path prompt_file(cache::latent_id const& id) {
    return std::filesystem::path("prompts") / (stem(id) + ".json");
  }
  static std::filesystem::path score_file(std::string_view scorer, cache::latent_id const& id) {
    return std::filesystem::path("scores") / std::string(scorer) / (stem(id) + ".txt");
  }
  std::filesystem::path explanation_path(cache::latent_id const& id) const { return root_ / explanation_file(id); }
  std::filesystem::path prompt_path(cache::latent_id const& id) const { return root_ / prompt_file(id); }
  std::filesystem::path score_path(std::string_view scorer, cache::latent_id const& id) const {
    return root_ / score_file(scorer, id);
  }
  std::filesystem::path run_log_path() const { return root_ / "run.jsonl"; }
  std::filesystem::path temp_dir() const { return root_ / ".tmp"; }

  // Resume and reading -------------------------------------------------------------------------

  /// Whether `relative` exists as a file: a stage's file is the proof that the stage is done (it is
  /// written before the stage's run.jsonl line). Reads nothing, writes nothing. Thread-safe.
  bool has_file(std::filesystem::path const& relative) const {
    std::error_code ec;
    return std::filesystem::is_regular_file(root_ / relative, ec);
  }
  bool has_explanation(cache::latent_id const& id) const { return has_file(explanation_file(id)) || has_bare(id); }

  /// The latent's explanation from its file: the JSON string our files and delphi's hold, or (a
  /// file that is not JSON) its text as written. Nothing when there is no file. Thread-safe.
  std::optional<std::string> read_explanation(cache::latent_id const& id) const {
    for (auto const& path : {explanation_path(id), root_ / (stem(id) + ".txt")}) {
      std::ifstream f(path, std::ios::binary);
      if (!f) continue;
      std::stringstream ss;
      ss << f.rdbuf();
      std::string text = ss.str();
      boost::system::error_code jec;
      auto v = boost::json::parse(text, jec);
      if (!jec && v.is_string()) return std::string(v.get_string());
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
      return text;
    }
    return std::nullopt;
  }

  /// `read` mode: the latest run.jsonl line of the latent's `stage`; for the explain stage without
  /// a line, one made from its explanation file (status explained). Nothing when neither exists.
  std::optional<run_line> find(cache::latent_id const& id, std::string_view stage = "explain") const {
    std::optional<run_line> line;
    if (auto it = lines_.find(std::make_tuple(id.module, id.index, std::string(stage))); it != lines_.end())
      line = it->second;
    if (stage != "explain") return line;
    if (line && (!line->explanation.empty() || line->status != latent_status::explained)) return line;
    auto text = read_explanation(id);
    if (!text) return line;
    if (!line) {
      line.emplace();
      line->latent = id;
      line->status = latent_status::explained;
    }
    line->explanation = std::move(*text);
    return line;
  }
  /// `read` mode: every latest line, ordered by module, latent and stage.
  std::vector<run_line> lines() const {
    std::vector<run_line> out;
    out.reserve(lines_.size());
    for (auto const& [key, line] : lines_) out.push_back(line);
    return out;
  }
  std::size_t size() const noexcept { return lines_.size(); }

  // Writing ----------------------------------------------------------------------------------

  /// Writes a stage's files atomically (temporaries in `.tmp/`). Safe from any thread, concurrently
  /// for distinct latents, so disk work can leave the I/O thread. Errors: `errc::write_failed`.
  result<void> write_files(stage_outcome const& o) const {
    for (auto const& f : o.files) {
      auto path = root_ / f.relative;
      std::error_code ec;
      std::filesystem::create_directories(path.parent_path(), ec);
      if (auto r = write_file_atomically(path, f.content, temp_dir()); !r) return r;
    }
    return {};
  }

  /// Appends the stage's run.jsonl line, after its files. Each line goes out in a single write() on
  /// an O_APPEND descriptor, so a killed process leaves whole lines. Not thread-safe: call it from
  /// one strand (the scheduler calls its hooks on one). Errors: `errc::write_failed`.
  result<void> append(cache::latent_id const& id, stage_outcome const& o) {
    std::string line = boost::json::serialize(to_json(id, o));
    line += '\n';
    return append_raw(line);
  }

  /// Repair, a named step of its own (the CLI runs it before a resumed job): a process killed
  /// between a stage's file and its run.jsonl line leaves a file without a line; this appends the
  /// missing lines (`explained` for explanation files, `scored` for score files, whose firing count
  /// is then unknown), so run.jsonl lists every finished stage. Completes with the number of lines
  /// added. Errors: `errc::write_failed`.
  result<std::size_t> repair_run_log() {
    std::set<std::tuple<std::string, std::string, std::uint32_t>> listed;  // (stage, module, latent)
    {
      std::ifstream f(run_log_path(), std::ios::binary);
      std::string text;
      while (std::getline(f, text))
        if (auto l = parse_run_line(text);
            l && (l->status == latent_status::explained || l->status == latent_status::scored))
          listed.emplace(l->stage, l->latent.module, l->latent.index);
    }
    // (stage, folder) pairs: explanations, then every scorer's folder.
    std::vector<std::pair<std::string, std::filesystem::path>> folders{{"explain", root_ / "explanations"}};
    std::error_code sec;
    for (auto it = std::filesystem::directory_iterator(root_ / "scores", sec);
         !sec && it != std::filesystem::directory_iterator(); it.increment(sec))
      if (it->is_directory()) folders.emplace_back(it->path().filename().string(), it->path());
    std::size_t added = 0;
    for (auto const& [stage, folder] : folders) {
      std::vector<cache::latent_id> missing;
      std::error_code ec;
      for (auto it = std::filesystem::directory_iterator(folder, ec); !ec && it != std::filesystem::directory_iterator();
           it.increment(ec)) {
        auto name = it->path().filename().string();
        if (name.size() < 5 || name.compare(name.size() - 4, 4, ".txt") != 0) continue;
        auto id = parse_stem(std::string_view(name).substr(0, name.size() - 4));
        if (id && !listed.contains({stage, id->module, id->index})) missing.push_back(std::move(*id));
      }
      std::sort(missing.begin(), missing.end(), [](auto const& a, auto const& b) {
        return std::tie(a.module, a.index) < std::tie(b.module, b.index);
      });
      for (auto const& id : missing) {
        stage_outcome o;
        o.stage = stage;
        if (stage == "explain") {
          auto text = read_explanation(id);
          if (!text) continue;
          o.status = latent_status::explained;
          o.explanation = std::move(*text);
        } else {
          o.status = latent_status::scored;
        }
        if (auto r = append(id, o); !r) return r.error();
        ++added;
      }
    }
    return added;
  }

 private:
  bool has_bare(cache::latent_id const& id) const {
    if (mode_ != store_mode::read) return false;  // delphi's explanations folder itself, read only
    std::error_code ec;
    return std::filesystem::is_regular_file(root_ / (stem(id) + ".txt"), ec);
  }

  result<void> append_raw(std::string const& line) {
    if (!fd_) return make_error(errc::write_failed, "run store " + root_.string() + " was opened for reading only");
    std::size_t done = 0;
    while (done < line.size()) {
      auto n = ::write(*fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return make_error(errc::write_failed, "cannot append to " + run_log_path().string() + ": " +
                                                  std::strerror(errno) + "; check free disk space");
      done += static_cast<std::size_t>(n);
    }
    return {};
  }

  void read_lines() {
    std::ifstream f(run_log_path(), std::ios::binary);
    std::string text;
    while (f && std::getline(f, text))
      if (auto l = parse_run_line(text)) {
        auto key = std::make_tuple(l->latent.module, l->latent.index, l->stage);
        lines_.insert_or_assign(std::move(key), std::move(*l));
      }
  }

  // Temporaries of processes that died mid-write (name.tmp.<pid>.<n>, pid no longer running), in
  // `.tmp/` and in the folders earlier versions wrote them to.
  void remove_stale_temporaries() {
    std::vector<std::filesystem::path> folders{temp_dir(), root_ / "explanations", root_ / "prompts"};
    std::error_code sec;
    for (auto it = std::filesystem::directory_iterator(root_ / "scores", sec);
         !sec && it != std::filesystem::directory_iterator(); it.increment(sec))
      folders.push_back(it->path());
    for (auto const& dir : folders) {
      std::error_code ec;
      for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
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

  std::filesystem::path root_;
  store_mode mode_ = store_mode::read;
  std::shared_ptr<int> fd_;
  std::map<std::tuple<std::string, std::uint32_t, std::string>, run_line> lines_;
};

}  // namespace autointerp::pipeline
