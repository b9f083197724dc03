#pragma once
// OUT/batches.jsonl: every batch a job submitted, so that a restart polls those batches instead of
// submitting their requests again (nothing is paid twice).
//
//   {"batch_id", "input_file_id", "stage", "custom_ids": [...], "status"}    when submitted
//   {"batch_id", "status", "output_file_id", "error_file_id"}                each status update
//
// A later line for a batch wins (file ids only when it names them). Lines are appended in one
// write() each on an O_APPEND descriptor, as run.jsonl's are, so a killed process leaves whole
// lines but perhaps a torn last one, which reading skips.

#include <autointerp/batch/batch_status.hpp>
#include <autointerp/batch/detail/id_hash.hpp>
#include <autointerp/error.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace autointerp::batch {

/// A submitted batch as batches.jsonl last described it.
struct batch_record {
  std::string batch_id;
  std::string input_file_id;
  std::string stage;  ///< the job stage whose requests it holds: "explain", "detection", ...
  batch_status status = batch_status::validating;
  std::string output_file_id;  ///< empty until the API names one
  std::string error_file_id;
  std::size_t requests = 0;  ///< custom_ids listed
};

/// The batches of one output folder, read back when opened and appended to as a job goes on.
///
/// Memory: the batch records, and 8 bytes per custom_id (its 64-bit hash, sorted per batch), not
/// the ids: `batch_of` answers by hash, so two distinct ids could collide (with n ids, odds about
/// n^2 / 2^65: 1 in 2 million for 4 million ids). A lookup costs a binary search per batch.
///
/// Not thread-safe: one strand (the job driver's).
class batch_log {
 public:
  /// Opens (creating it if needed) the log at `file`, usually `OUT/batches.jsonl`, and reads what
  /// it holds. Lines that are not ours (a torn last line, foreign text) are skipped and counted; a
  /// torn last line is ended so the next line starts on its own. Errors: `errc::write_failed` (the
  /// file cannot be opened for appending), naming it.
  static result<batch_log> open(std::filesystem::path file) {
    batch_log log;
    log.path_ = std::move(file);
    {
      std::ifstream in(log.path_, std::ios::binary);
      std::string text;
      while (in && std::getline(in, text)) log.read_line(text);
    }
    std::error_code ec;
    if (log.path_.has_parent_path()) std::filesystem::create_directories(log.path_.parent_path(), ec);
    int fd = ::open(log.path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
      return make_error(errc::write_failed, "cannot open " + log.path_.string() + " for appending: " + std::strerror(errno) +
                                                "; choose a writable output folder");
    log.fd_ = std::shared_ptr<int>(new int(fd), [](int* p) {
      ::close(*p);
      delete p;
    });
    if (!ends_with_newline(log.path_)) {
      if (auto r = log.append("\n"); !r) return r.error();
    }
    return log;
  }

  /// Records a batch just created, with the custom_ids of its input file. Write it before anything
  /// else learns of the batch: after a crash, a batch not in the log is a batch paid for twice.
  /// Errors: `errc::write_failed`; `errc::bad_option` for an empty batch id.
  result<void> record_submitted(batch_record const& b, std::vector<std::string> const& custom_ids) {
    if (b.batch_id.empty()) return make_error(errc::bad_option, "a batch without an id cannot be recorded in " + path_.string());
    boost::json::array ids;
    ids.reserve(custom_ids.size());
    for (auto const& id : custom_ids) ids.emplace_back(id);
    boost::json::object o{{"batch_id", b.batch_id},
                          {"input_file_id", b.input_file_id},
                          {"stage", b.stage},
                          {"custom_ids", std::move(ids)},
                          {"status", to_string(b.status)}};
    if (!b.output_file_id.empty()) o["output_file_id"] = b.output_file_id;
    if (!b.error_file_id.empty()) o["error_file_id"] = b.error_file_id;
    std::string line = boost::json::serialize(o);
    line += '\n';
    if (auto r = append(line); !r) return r;
    apply(o);
    return {};
  }

  /// Records a status update (and the result files' ids once the API names them).
  /// Errors: `errc::write_failed`; `errc::bad_option` for a batch not recorded as submitted.
  result<void> record_status(std::string_view batch_id, batch_status status, std::string_view output_file_id = {},
                             std::string_view error_file_id = {}) {
    if (!index_.contains(std::string(batch_id)))
      return make_error(errc::bad_option, "batch '" + std::string(batch_id) + "' is not in " + path_.string() +
                                              "; record it as submitted first");
    boost::json::object o{{"batch_id", batch_id}, {"status", to_string(status)}};
    if (!output_file_id.empty()) o["output_file_id"] = output_file_id;
    if (!error_file_id.empty()) o["error_file_id"] = error_file_id;
    std::string line = boost::json::serialize(o);
    line += '\n';
    if (auto r = append(line); !r) return r;
    apply(o);
    return {};
  }

  /// Every batch, in the order submitted, with its latest status.
  std::vector<batch_record> const& batches() const noexcept { return batches_; }

  /// The batches not in a terminal status: to poll (after a restart too).
  std::vector<batch_record> unfinished() const {
    std::vector<batch_record> out;
    for (auto const& b : batches_)
      if (!is_terminal(b.status)) out.push_back(b);
    return out;
  }

  /// The batch `batch_id`, or null.
  batch_record const* find(std::string_view batch_id) const {
    auto it = index_.find(std::string(batch_id));
    return it == index_.end() ? nullptr : &batches_[it->second];
  }

  /// The latest batch whose input listed `custom_id`, or null.
  batch_record const* batch_of(std::string_view custom_id) const {
    auto h = detail::id_hash(custom_id);
    for (std::size_t i = batches_.size(); i-- > 0;)
      if (std::binary_search(hashes_[i].begin(), hashes_[i].end(), h)) return &batches_[i];
    return nullptr;
  }

  /// How many submitted batches listed `custom_id` (the rounds it was sent in, a restart's included).
  std::size_t times_submitted(std::string_view custom_id) const {
    auto h = detail::id_hash(custom_id);
    std::size_t n = 0;
    for (auto const& hashes : hashes_) n += std::binary_search(hashes.begin(), hashes.end(), h);
    return n;
  }

  /// Whether `custom_id` is in a submitted batch that did not fail: it ran, runs, or will run, so
  /// it must not be submitted again. For a batch that expired or was cancelled, only the requests
  /// with a line in its output file ran: look there before sending the others again.
  bool is_submitted(std::string_view custom_id) const {
    auto const* b = batch_of(custom_id);
    return b && b->status != batch_status::failed;
  }

  std::size_t skipped_lines() const noexcept { return skipped_; }
  std::filesystem::path const& path() const noexcept { return path_; }

 private:
  void read_line(std::string const& text) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) return;
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    if (ec || !v.is_object() || !apply(v.get_object())) ++skipped_;
  }

  /// Folds one line into the records; false when it is not a line of ours.
  bool apply(boost::json::object const& o) {
    auto str = [&](char const* key) -> std::optional<std::string_view> {
      auto const* v = o.if_contains(key);
      if (!v || !v->is_string()) return std::nullopt;
      return std::string_view(v->get_string());
    };
    auto id = str("batch_id");
    auto status_text = str("status");
    if (!id || id->empty() || !status_text) return false;
    auto status = parse_batch_status(*status_text);
    if (!status) return false;
    auto it = index_.find(std::string(*id));
    auto const* ids = o.if_contains("custom_ids");
    if (ids) {  // a submission
      if (!ids->is_array()) return false;
      std::size_t at = batches_.size();
      if (it == index_.end()) {
        batches_.emplace_back();
        hashes_.emplace_back();
        index_.emplace(std::string(*id), at);
      } else {
        at = it->second;  // submitted twice under one id: the later line wins
      }
      auto& b = batches_[at];
      b.batch_id = std::string(*id);
      b.input_file_id = std::string(str("input_file_id").value_or(""));
      b.stage = std::string(str("stage").value_or(""));
      auto& h = hashes_[at];
      h.clear();
      h.reserve(ids->get_array().size());
      for (auto const& c : ids->get_array())
        if (c.is_string()) h.push_back(detail::id_hash(c.get_string()));
      std::sort(h.begin(), h.end());
      b.requests = h.size();
      it = index_.find(std::string(*id));
    } else if (it == index_.end()) {
      return false;  // an update for a batch whose submission line is missing
    }
    auto& b = batches_[it->second];
    b.status = *status;
    if (auto f = str("output_file_id"); f && !f->empty()) b.output_file_id = std::string(*f);
    if (auto f = str("error_file_id"); f && !f->empty()) b.error_file_id = std::string(*f);
    return true;
  }

  result<void> append(std::string const& line) {
    std::size_t done = 0;
    while (done < line.size()) {
      auto n = ::write(*fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return make_error(errc::write_failed, "cannot append to " + path_.string() + ": " + std::strerror(errno) +
                                                  "; check free disk space");
      done += static_cast<std::size_t>(n);
    }
    return {};
  }

  static bool ends_with_newline(std::filesystem::path const& file) {
    std::ifstream f(file, std::ios::binary | std::ios::ate);
    if (!f || f.tellg() <= 0) return true;
    f.seekg(-1, std::ios::end);
    char last = 0;
    return f.get(last) && last == '\n';
  }

  std::filesystem::path path_;
  std::shared_ptr<int> fd_;
  std::vector<batch_record> batches_;
  std::unordered_map<std::string, std::size_t> index_;       ///< batch id -> its record
  std::vector<std::vector<std::uint64_t>> hashes_;          ///< per batch, its custom_ids' hashes, sorted
  std::size_t skipped_ = 0;
};

}  // namespace autointerp::batch
