#pragma once
// Batch API input files, written as requests come: one JSONL line per chat request,
// `{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": ...}`, the body exactly
// as the client would send it. Files are split at the API's limits (50,000 requests, 200 MB) and at
// a change of model (a file holds one model), and only appear under their name once whole.

#include <autointerp/error.hpp>
#include <autointerp/llm/chat_request.hpp>
#include <autointerp/llm/wire.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace autointerp::batch {

/// Where input files are split. The defaults are the Batch API's documented limits; tests make
/// them small.
struct request_file_limits {
  std::size_t max_requests = 50'000;      ///< requests per file
  std::uint64_t max_bytes = 200'000'000;  ///< bytes per file (200 MB)
};

/// A closed input file: ready to upload.
struct request_file_info {
  std::filesystem::path path;
  std::string model;                    ///< the model every request of the file asks for
  std::size_t requests = 0;
  std::uint64_t bytes = 0;
  std::vector<std::string> custom_ids;  ///< in file order (for batches.jsonl; at most max_requests)
};

/// The endpoint every request line names, and `POST /v1/batches` asks for.
inline constexpr std::string_view chat_endpoint = "/v1/chat/completions";

/// One input line for `request` under `custom_id`, newline included. The body is
/// `llm::serialize_request(request)`, the client's own serialization, embedded as is.
inline std::string request_line(std::string_view custom_id, llm::chat_request const& request) {
  std::string body = llm::serialize_request(request);
  std::string line;
  line.reserve(body.size() + custom_id.size() + 80);
  line += "{\"custom_id\":";
  line += boost::json::serialize(boost::json::string(custom_id));
  line += ",\"method\":\"POST\",\"url\":\"";
  line += chat_endpoint;
  line += "\",\"body\":";
  line += body;
  line += "}\n";
  return line;
}

/// Writes input files `<folder>/<stem>-00000.jsonl`, `-00001.jsonl`, ... one request at a time, so
/// memory holds one line and the current file's custom_ids, whatever the number of requests.
///
/// A file is written under a temporary name (`<name>.tmp.<pid>.<n>`, as the run store names
/// temporaries) and renamed when it is closed: a file under its final name is always whole. A
/// writer destroyed with a file open removes the temporary.
///
/// Not thread-safe: call it from one strand (a collecting chat router runs on the client's).
class request_file_writer {
 public:
  request_file_writer(std::filesystem::path folder, std::string stem, request_file_limits limits = {})
      : folder_(std::move(folder)), stem_(std::move(stem)), limits_(limits) {
    if (limits_.max_requests == 0) limits_.max_requests = 1;
  }
  request_file_writer(request_file_writer const&) = delete;
  request_file_writer& operator=(request_file_writer const&) = delete;
  ~request_file_writer() { discard(); }

  /// Appends `request` under `custom_id`. When the line would pass a limit of the current file, or
  /// asks for another model, the current file is closed first and returned: upload it.
  /// Errors: `errc::bad_option` for a custom_id already in the current file (the API rejects
  /// duplicates in a batch) or empty, or a single line larger than `max_bytes`;
  /// `errc::write_failed` naming the file and the system's reason. After a write error the writer
  /// fails every later call.
  result<std::optional<request_file_info>> add(std::string_view custom_id, llm::chat_request const& request) {
    if (failure_) return *failure_;
    if (custom_id.empty())
      return make_error(errc::bad_option, "batch request without a custom_id for " + stem_ +
                                              "; give every request a call_tag (llm::chat_request::tag)");
    std::string line = request_line(custom_id, request);
    if (line.size() > limits_.max_bytes)
      return make_error(errc::bad_option, "batch request '" + std::string(custom_id) + "' is " + std::to_string(line.size()) +
                                              " bytes, more than an input file may hold (" + std::to_string(limits_.max_bytes) +
                                              "); shorten the prompt");
    std::optional<request_file_info> closed;
    if (open_ && (current_.requests + 1 > limits_.max_requests || current_.bytes + line.size() > limits_.max_bytes ||
                  current_.model != request.model)) {
      auto c = close();
      if (!c) return c.error();
      closed = std::move(*c);
    }
    if (open_ && ids_.contains(std::string(custom_id)))
      return make_error(errc::bad_option, "batch request '" + std::string(custom_id) + "' is already in " +
                                              current_.path.filename().string() +
                                              "; each request of a batch needs its own custom_id (the tag's prompt index)");
    if (!open_) {
      if (auto r = open_next(request.model); !r) return r.error();
    }
    out_.write(line.data(), static_cast<std::streamsize>(line.size()));
    if (!out_) return fail("cannot write " + temp_.string());
    current_.bytes += line.size();
    ++current_.requests;
    current_.custom_ids.emplace_back(custom_id);
    ids_.emplace(custom_id);
    return closed;
  }

  /// Closes the current file (renames it into place) and returns it; nothing when no file is open.
  /// Errors: `errc::write_failed`.
  result<std::optional<request_file_info>> close() {
    if (failure_) return *failure_;
    if (!open_) return std::optional<request_file_info>{};
    out_.close();
    if (!out_) return fail("cannot finish " + temp_.string());
    std::error_code ec;
    std::filesystem::rename(temp_, current_.path, ec);
    if (ec) return fail("cannot rename " + temp_.string() + " into place: " + ec.message());
    open_ = false;
    ids_.clear();
    ++files_closed_;
    return std::optional<request_file_info>(std::exchange(current_, {}));
  }

  /// Files closed so far; requests in the file being written.
  std::size_t files_closed() const noexcept { return files_closed_; }
  std::size_t pending_requests() const noexcept { return open_ ? current_.requests : 0; }

 private:
  result<void> open_next(std::string const& model) {
    std::error_code ec;
    std::filesystem::create_directories(folder_, ec);
    if (ec)
      return make_error(errc::write_failed, "cannot create " + folder_.string() + ": " + ec.message() +
                                                "; choose a writable output folder");
    char index[16];
    std::snprintf(index, sizeof index, "%05zu", next_index_++);
    current_ = {};
    current_.path = folder_ / (stem_ + "-" + index + ".jsonl");
    current_.model = model;
    static std::atomic<unsigned long> counter{0};
    temp_ = current_.path;
    temp_ += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    out_.clear();
    out_.open(temp_, std::ios::binary | std::ios::trunc);
    if (!out_) return fail("cannot create " + temp_.string()).error();
    open_ = true;
    return {};
  }

  result<std::optional<request_file_info>> fail(std::string what) {
    failure_ = make_error(errc::write_failed, what + ": " + std::strerror(errno) + "; check free disk space and permissions");
    discard();
    return *failure_;
  }

  void discard() noexcept {
    if (!open_) return;
    out_.close();
    std::error_code ec;
    std::filesystem::remove(temp_, ec);
    open_ = false;
  }

  std::filesystem::path folder_;
  std::string stem_;
  request_file_limits limits_;
  std::ofstream out_;
  std::filesystem::path temp_;
  request_file_info current_;
  std::unordered_set<std::string> ids_;  ///< the current file's ids (bounded by max_requests)
  bool open_ = false;
  std::size_t next_index_ = 0;
  std::size_t files_closed_ = 0;
  std::optional<error> failure_;
};

}  // namespace autointerp::batch
