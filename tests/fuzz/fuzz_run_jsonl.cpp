// Fuzzes run.jsonl reading: `pipeline::parse_run_line` on each line, then the whole input as the
// run.jsonl of a scratch folder, read back by `report::run_results::open` and by the resume path
// (`pipeline::output_dir::open(dir, true)`).
//
// Invariants: a parsed line has exactly the JSON's module, latent, status and explanation, and a
// line written by `to_json` parses back to its outcome; run_results holds one entry per
// (module, latent), the last line's; resuming ends a torn last line, so a line appended after it
// reads back; a latent run.jsonl lists as explained is not appended again by the resume check.
#include <autointerp/pipeline/latent_outcome.hpp>
#include <autointerp/pipeline/output_dir.hpp>
#include <autointerp/pipeline/run_line.hpp>
#include <autointerp/report/run_results.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace pl = autointerp::pipeline;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// This process's scratch folder, in memory when /dev/shm is there (four times the runs per
// second). libFuzzer ends without running atexit handlers, so folders of dead fuzzer processes
// are removed here instead.
fs::path const& scratch() {
  static fs::path const dir = [] {
    std::error_code ec;
    fs::path base = !std::getenv("TMPDIR") && fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string const prefix = "fuzz_run_jsonl.";
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

std::optional<pl::latent_status> status_of(std::string_view s) {
  for (auto st : {pl::latent_status::explained, pl::latent_status::unparsed, pl::latent_status::failed,
                  pl::latent_status::skipped})
    if (pl::to_string(st) == s) return st;
  return std::nullopt;
}

// A module name that stays a plain file name inside explanations/.
bool plain_name(std::string_view m) {
  if (m.empty() || m.size() > 64 || m.front() == '.') return false;
  for (char c : m)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

std::string read(fs::path const& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void check_line(std::string_view text, pl::run_line const& r) {
  boost::system::error_code ec;
  auto const v = boost::json::parse(text, ec);
  check(!ec && v.is_object());
  auto const& o = v.as_object();
  check(o.at("module").as_string() == r.module && o.at("status").as_string() == r.status);
  check(o.at("latent").to_number<std::uint32_t>(ec) == r.latent && !ec);
  auto const* x = o.if_contains("explanation");
  check(x && x->is_string() ? x->as_string() == r.explanation : r.explanation.empty());
  // The writer's line for the same outcome reads back to it.
  if (auto st = status_of(r.status)) {
    pl::latent_outcome out;
    out.latent = {r.module, r.latent};
    out.status = *st;
    out.explanation = r.explanation;
    auto back = pl::parse_run_line(boost::json::serialize(pl::to_json(out)));
    check(back && back->module == r.module && back->latent == r.latent && back->status == r.status &&
          back->explanation == r.explanation);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string_view const text(reinterpret_cast<char const*>(data), size);

  // Lines as std::getline gives them: split at '\n', without a final empty piece.
  std::map<std::pair<std::string, std::uint32_t>, pl::run_line> last;
  std::vector<pl::run_line> explained;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view const line = text.substr(start, end - start);
    start = end + 1;
    auto r = pl::parse_run_line(line);
    if (!r) continue;
    check_line(line, *r);
    if (r->status == "explained") explained.push_back(*r);
    last[{r->module, r->latent}] = std::move(*r);
  }

  fs::path const& dir = scratch();
  std::error_code ec;
  fs::remove_all(dir / "explanations", ec);
  {
    std::ofstream f(dir / "run.jsonl", std::ios::binary | std::ios::trunc);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    check(static_cast<bool>(f));
  }

  // The report's reader: one entry per latent, the last line's (no explanation files exist).
  auto results = autointerp::report::run_results::open(dir);
  check(results.has_value() && results->size() == last.size());
  for (auto const& [key, r] : last) {
    auto e = results->find({key.first, key.second});
    check(e && e->status == r.status && e->explanation == r.explanation);
  }

  // Resume: the explanation file of a latent listed as explained is trusted without a new line.
  std::optional<pl::run_line> listed;
  for (auto const& r : explained)
    if (plain_name(r.module)) listed = r;
  auto out = pl::output_dir::open(dir, true);
  check(out.has_value());
  std::string const after_open = read(dir / "run.jsonl");
  check(after_open.empty() || after_open.back() == '\n');
  check(after_open.substr(0, text.size()) == text && after_open.size() <= text.size() + 1);
  if (listed) {
    autointerp::cache::latent_id const id{listed->module, listed->latent};
    std::ofstream(out->explanation_path(id), std::ios::binary) << "\"from the file\"";
    check(out->already_explained(id));
    check(read(dir / "run.jsonl").size() == after_open.size());
  }

  // A line appended after resuming reads back, whatever the input ended with.
  pl::latent_outcome probe;
  probe.latent = {"fuzz.probe", 7};
  probe.status = pl::latent_status::explained;
  probe.explanation = "probe";
  check(out->append_line(probe).has_value());
  auto again = autointerp::report::run_results::open(dir);
  check(again.has_value());
  auto p = again->find(probe.latent);
  check(p && p->status == "explained" && p->explanation == "probe");
  return 0;
}
