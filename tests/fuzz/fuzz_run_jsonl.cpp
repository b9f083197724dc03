// Fuzzes run.jsonl reading: `pipeline::parse_run_line` on each line, then the whole input as the
// run.jsonl of a scratch folder, read back by the run store (`store_mode::read`, as reports and
// summaries read it) and opened for resume (`store_mode::resume`).
//
// Invariants: a parsed line has exactly the JSON's module, latent, stage, status and explanation,
// and a line written by `to_json` parses back to it; the reader holds one entry per (module,
// latent, stage), the last line's; resuming ends a torn last line, so a line appended after it
// reads back; the resume check (`has_explanation`) writes nothing; repair adds a line only for an
// explanation file run.jsonl does not list as explained.
#include <autointerp/pipeline/latent_outcome.hpp>
#include <autointerp/pipeline/run_line.hpp>
#include <autointerp/pipeline/run_store.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "fuzz_scratch.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <tuple>
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

fs::path const& scratch() { return fuzz_scratch("fuzz_run_jsonl."); }

std::string read(fs::path const& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void check_line(std::string_view text, pl::run_line const& r) {
  boost::system::error_code ec;
  auto const v = boost::json::parse(text, ec);
  check(!ec && v.is_object());
  auto const& o = v.as_object();
  check(o.at("module").as_string() == r.latent.module && o.at("status").as_string() == pl::to_string(r.status));
  check(o.at("latent").to_number<std::uint32_t>(ec) == r.latent.index && !ec);
  auto const* x = o.if_contains("explanation");
  check(x && x->is_string() ? x->as_string() == r.explanation : r.explanation.empty());
  auto const* st = o.if_contains("stage");
  check(st && st->is_string() ? st->as_string() == r.stage : r.stage == "explain");
  // The writer's line for the same outcome reads back to it.
  pl::stage_outcome out;
  out.stage = r.stage;
  out.status = r.status;
  out.explanation = r.explanation;
  out.attempts = r.attempts;
  auto back = pl::parse_run_line(boost::json::serialize(pl::to_json(r.latent, out)));
  check(back && back->latent == r.latent && back->status == r.status && back->stage == r.stage &&
        back->explanation == r.explanation && back->attempts == r.attempts);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string_view const text(reinterpret_cast<char const*>(data), size);

  // Lines as std::getline gives them: split at '\n', without a final empty piece.
  std::map<std::tuple<std::string, std::uint32_t, std::string>, pl::run_line> last;
  std::set<std::pair<std::string, std::uint32_t>> explained;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view const line = text.substr(start, end - start);
    start = end + 1;
    auto r = pl::parse_run_line(line);
    if (!r) continue;
    check_line(line, *r);
    if (r->status == pl::latent_status::explained && r->stage == "explain")
      explained.emplace(r->latent.module, r->latent.index);
    last[{r->latent.module, r->latent.index, r->stage}] = std::move(*r);
  }

  fs::path const& dir = scratch();
  std::error_code ec;
  fs::remove_all(dir / "explanations", ec);
  {
    std::ofstream f(dir / "run.jsonl", std::ios::binary | std::ios::trunc);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    check(static_cast<bool>(f));
  }

  // The reader: one entry per latent and stage, the last line's (no explanation files exist).
  auto results = pl::run_store::open(dir, pl::store_mode::read);
  check(results.has_value() && results->size() == last.size());
  for (auto const& [key, r] : last) {
    auto e = results->find({std::get<0>(key), std::get<1>(key)}, std::get<2>(key));
    check(e && e->status == r.status && e->explanation == r.explanation);
  }

  auto out = pl::run_store::open(dir, pl::store_mode::resume);
  check(out.has_value());
  std::string const after_open = read(dir / "run.jsonl");
  check(after_open.empty() || after_open.back() == '\n');
  check(after_open.substr(0, text.size()) == text && after_open.size() <= text.size() + 1);

  // Resume checks read files and write nothing; repair adds exactly the unlisted explanation.
  autointerp::cache::latent_id const fresh{"fuzz.file", 3};
  std::ofstream(out->explanation_path(fresh), std::ios::binary) << "\"from the file\"";
  check(out->has_explanation(fresh));
  check(read(dir / "run.jsonl").size() == after_open.size());
  auto repaired = out->repair_run_log();
  check(repaired.has_value() && *repaired == (explained.contains({fresh.module, fresh.index}) ? 0u : 1u));

  // A line appended after resuming reads back, whatever the input ended with.
  pl::stage_outcome probe;
  probe.status = pl::latent_status::explained;
  probe.explanation = "probe";
  autointerp::cache::latent_id const probe_id{"fuzz.probe", 7};
  check(out->append(probe_id, probe).has_value());
  auto again = pl::run_store::open(dir, pl::store_mode::read);
  check(again.has_value());
  auto p = again->find(probe_id);
  check(p && p->status == pl::latent_status::explained && p->explanation == "probe");
  return 0;
}
