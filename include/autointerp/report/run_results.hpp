#pragma once
// Reading back what a run wrote, to show explanations beside the activations: `run.jsonl` (status
// and explanation per latent) and delphi-style `explanations/<module>_latent<i>.txt` files, so a
// folder written by delphi itself works too.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/error.hpp>
#include <autointerp/pipeline/run_line.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace autointerp::report {

/// What a run says about one latent.
struct run_entry {
  std::string status;       ///< "explained", "unparsed", "failed", "skipped"; "explained" for a bare file
  std::string explanation;  ///< empty when none
};

/// The results of one output folder. `find` is const and reads explanation files as it goes, so
/// concurrent finds are safe.
class run_results {
 public:
  /// Opens `dir`: an `explain --out` folder (run.jsonl, explanations/) or delphi's explanations
  /// folder itself. run.jsonl is read now (a later line for the same latent wins, so a resumed run
  /// shows its latest outcome; torn or foreign lines are skipped); explanation files are read on
  /// demand. Errors: `errc::file_not_found` when `dir` is not a folder.
  static result<run_results> open(std::filesystem::path dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
      return make_error(errc::file_not_found, "explanations folder " + dir.string() +
                                                  " does not exist; pass the --out folder of `autointerp explain`");
    run_results r;
    r.dir_ = std::move(dir);
    std::ifstream f(r.dir_ / "run.jsonl", std::ios::binary);
    std::string line;
    while (f && std::getline(f, line)) {
      auto l = pipeline::parse_run_line(line);
      if (!l) continue;
      r.entries_[{std::move(l->module), l->latent}] = run_entry{std::move(l->status), std::move(l->explanation)};
    }
    return r;
  }

  /// The latent's entry: its run.jsonl line, else its explanation file (status "explained"), else
  /// nothing. An explained line without text takes the text from the file.
  std::optional<run_entry> find(cache::latent_id const& id) const {
    auto it = entries_.find({id.module, id.index});
    std::optional<run_entry> e;
    if (it != entries_.end()) e = it->second;
    if (e && !e->explanation.empty()) return e;
    if (e && e->status != "explained") return e;
    auto text = read_file_explanation(id);
    if (!text) return e;
    if (!e) e = run_entry{"explained", {}};
    e->explanation = std::move(*text);
    return e;
  }

  std::size_t size() const noexcept { return entries_.size(); }

 private:
  std::optional<std::string> read_file_explanation(cache::latent_id const& id) const {
    std::string stem = id.module + "_latent" + std::to_string(id.index) + ".txt";
    for (auto const& path : {dir_ / "explanations" / stem, dir_ / stem}) {
      std::ifstream f(path, std::ios::binary);
      if (!f) continue;
      std::stringstream ss;
      ss << f.rdbuf();
      std::string text = ss.str();
      boost::system::error_code jec;
      auto v = boost::json::parse(text, jec);
      if (!jec && v.is_string()) return std::string(v.get_string());
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
      return text;  // not JSON: shown as written
    }
    return std::nullopt;
  }

  std::filesystem::path dir_;
  std::map<std::pair<std::string, std::uint32_t>, run_entry> entries_;
};

}  // namespace autointerp::report
