// Fuzzes what the OpenAI Batch API and a crashed run leave on disk: the input as a batch's output
// (or error) file, read line by line and indexed by custom_id, and as OUT/batches.jsonl.
//
// Invariants: reading never throws or crashes, whatever the bytes; each line the reader accepts
// names a non-empty custom_id and carries either an answer or a failure; the index holds one entry
// per accepted line and finds each accepted custom_id, giving back a line of that id; the batch
// log opens any text, lists as unfinished only batches it lists, and every unfinished batch has a
// status that is not terminal.
#include <autointerp/batch/batch_log.hpp>
#include <autointerp/batch/batch_status.hpp>
#include <autointerp/batch/result_file.hpp>

#include "fuzz_scratch.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

namespace {

namespace fs = std::filesystem;
namespace batch = autointerp::batch;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

fs::path const& scratch() { return fuzz_scratch("fuzz_batch_files."); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string const text(reinterpret_cast<char const*>(data), size);
  fs::path const& dir = scratch();

  // As a result file: from a stream, then indexed from disk.
  std::istringstream in(text);
  batch::result_reader reader(in, "fuzz.jsonl");
  std::set<std::string> ids;
  std::size_t accepted = 0;
  while (auto line = reader.next()) {
    if (!*line) continue;
    auto const& r = **line;
    check(!r.custom_id.empty());
    check(r.ok() != r.failure.has_value());
    ids.insert(r.custom_id);
    ++accepted;
  }
  auto const results = dir / "results.jsonl";
  {
    std::ofstream f(results, std::ios::binary | std::ios::trunc);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    check(static_cast<bool>(f));
  }
  auto index = batch::result_index::build({results});
  check(index.has_value() && index->size() == accepted);
  for (auto const& id : ids) {
    auto found = index->find(id);
    check(found.has_value() && found->has_value() && (*found)->custom_id == id);
  }

  // As batches.jsonl.
  auto const log_path = dir / "batches.jsonl";
  {
    std::ofstream f(log_path, std::ios::binary | std::ios::trunc);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  auto log = batch::batch_log::open(log_path);
  check(log.has_value());
  for (auto const& b : log->unfinished()) {
    check(!batch::is_terminal(b.status));
    check(log->find(b.batch_id) != nullptr);
  }
  return 0;
}
