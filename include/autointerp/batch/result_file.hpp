#pragma once
// Batch API output and error files, read back a line at a time: each line names its request by
// `custom_id` and holds either the chat answer (parsed by the client's own parser, usage and cached
// tokens included) or why the request failed. And an index that finds one request's line by
// custom_id without keeping the answers in memory, so a replay router can fetch one at a time.
//
//   {"id": "batch_req_..", "custom_id": "..", "response": {"status_code": 200, "request_id": "..",
//    "body": {chat completion}}, "error": null}
//   {"id": "batch_req_..", "custom_id": "..", "response": null,
//    "error": {"code": "batch_expired", "message": ".."}}

#include <autointerp/batch/detail/id_hash.hpp>
#include <autointerp/error.hpp>
#include <autointerp/llm/chat_response.hpp>
#include <autointerp/llm/wire.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autointerp::batch {

/// One request's outcome, from one line of an output or error file.
struct result_line {
  std::string custom_id;
  std::string request_id;    ///< `response.request_id`, for support requests; may be empty
  unsigned status_code = 0;  ///< `response.status_code`; 0 when the request never ran (expired, cancelled)
  /// A 200 answer, read as the client reads a chat answer (`attempts` is 1, `latency` 0).
  std::optional<llm::chat_response> response;
  /// Otherwise why it failed: the error (our words, the server's in `remote`) and whether sending
  /// it again may help (`failure_kind::retryable`: 429, 5xx, expired, cancelled, a garbled answer).
  std::optional<llm::attempt_failure> failure;

  bool ok() const noexcept { return response.has_value(); }
};

namespace detail {

inline std::string_view json_string_or(boost::json::object const& o, std::string_view key) noexcept {
  auto const* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

inline llm::attempt_failure line_failure(errc code, llm::failure_kind kind, std::string message, std::string remote = {}) {
  llm::attempt_failure f;
  f.kind = kind;
  f.error = make_error(code, std::move(message), std::move(remote));
  return f;
}

/// How a line was read: whole, the last one without a newline, or longer than allowed.
enum class line_read { line, last_without_newline, too_long, end };

/// Reads up to '\n' into `out` (newline dropped), keeping at most `max` bytes; `consumed` counts
/// every byte taken from the stream, newline included.
inline line_read read_line(std::istream& in, std::string& out, std::size_t max, std::uint64_t* consumed = nullptr) {
  out.clear();
  std::uint64_t n = 0;
  struct count_guard {
    std::uint64_t* to;
    std::uint64_t const& n;
    ~count_guard() {
      if (to) *to = n;
    }
  } guard{consumed, n};
  auto* sb = in.rdbuf();
  if (!sb) return line_read::end;
  bool any = false, too_long = false;
  for (;;) {
    auto c = sb->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      if (!any) return line_read::end;
      return too_long ? line_read::too_long : line_read::last_without_newline;
    }
    any = true;
    ++n;
    if (c == '\n') return too_long ? line_read::too_long : line_read::line;
    if (out.size() < max) out.push_back(static_cast<char>(c));
    else too_long = true;
  }
}

}  // namespace detail

/// Parses one line of an output or error file. `ctx` names the endpoint in the errors of failed
/// requests (as the client's own errors do). Errors (the line itself is bad, not the request):
/// `errc::bad_response` for text that is not a JSON object with a string `custom_id`. Never throws.
inline result<result_line> parse_result_line(std::string_view text, llm::wire_context const& ctx = {}) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return make_error(errc::bad_response, "not a JSON object (" + (ec ? ec.message() : std::string("another JSON value")) + ")");
  auto const& o = v.get_object();
  auto const* id = o.if_contains("custom_id");
  if (!id || !id->is_string() || id->get_string().empty())
    return make_error(errc::bad_response, "no \"custom_id\"; not a Batch API result line");
  result_line out;
  out.custom_id = std::string(id->get_string());
  auto const* response = o.if_contains("response");
  if (response && response->is_object()) {
    auto const& r = response->get_object();
    out.request_id = std::string(detail::json_string_or(r, "request_id"));
    if (auto const* sc = r.if_contains("status_code"); sc && sc->is_number()) {
      auto code = sc->to_number<double>();
      out.status_code = code >= 0 && code < 1000 ? static_cast<unsigned>(code) : 0;
    }
    auto const* body = r.if_contains("body");
    if (out.status_code == 200 && body) {
      auto parsed = llm::parse_chat_answer(*body, ctx);
      if (parsed) {
        out.response = std::move(*parsed);
        out.response->attempts = 1;
      } else {
        out.failure = parsed.error();
      }
      return out;
    }
    if (out.status_code != 0) {
      std::string text_of_body = body ? (body->is_string() ? std::string(body->get_string()) : boost::json::serialize(*body)) : "";
      out.failure = llm::classify_status(out.status_code, text_of_body, ctx);
      out.failure->error.message = "batch request '" + out.custom_id + "': " + out.failure->error.message;
      return out;
    }
  }
  // No response: the Batch API did not run it; the line's "error" says why.
  std::string code, message;
  if (auto const* err = o.if_contains("error"); err && err->is_object()) {
    code = std::string(detail::json_string_or(err->get_object(), "code"));
    message = std::string(detail::json_string_or(err->get_object(), "message"));
  }
  out.failure = detail::line_failure(
      errc::server_error, llm::failure_kind::retryable,
      "batch request '" + out.custom_id + "' was not run (" + (code.empty() ? std::string("no reason given") : code) +
          "); send it again in the next round",
      llm::one_line(message, ctx.api_key));
  return out;
}

/// Reads an output or error file line by line from a stream (or a file it opens), holding one line.
/// The strings `ctx` views must outlive the reader.
/// A line that is not a result line (torn by a crash, foreign text) comes back as an error naming
/// the file and line, and reading goes on. Not thread-safe.
class result_reader {
 public:
  /// Reads `in`, which must outlive the reader; `name` names it in errors.
  result_reader(std::istream& in, std::string name, llm::wire_context ctx = {}, std::size_t max_line_bytes = 64u << 20)
      : in_(&in), name_(std::move(name)), ctx_(ctx), max_line_(max_line_bytes) {}

  /// Opens `path`. Errors: `errc::file_not_found`, `errc::unreadable_file`.
  static result<result_reader> open(std::filesystem::path const& path, llm::wire_context ctx = {}) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
      return make_error(errc::file_not_found, "batch result file " + path.string() + " does not exist; download it first");
    auto f = std::make_unique<std::ifstream>(path, std::ios::binary);
    if (!*f) return make_error(errc::unreadable_file, "cannot open batch result file " + path.string() + "; check its permissions");
    result_reader r(*f, path.string(), ctx);
    r.owned_ = std::move(f);
    return r;
  }

  /// The next line's outcome; nothing at the end. An error is one line that is bad
  /// (`errc::bad_response`: "FILE line N: ..."); call again for the next.
  std::optional<result<result_line>> next() {
    for (;;) {
      auto at = offset_;
      std::uint64_t consumed = 0;
      auto how = detail::read_line(*in_, text_, max_line_, &consumed);
      if (how == detail::line_read::end) return std::nullopt;
      ++line_;
      line_offset_ = at;
      offset_ = at + consumed;
      if (how == detail::line_read::too_long) {
        return where("is longer than " + std::to_string(max_line_) + " bytes; not a Batch API result line");
      }
      if (text_.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank
      auto r = parse_result_line(text_, ctx_);
      if (r) return std::optional<result<result_line>>(std::move(r));
      return where((how == detail::line_read::last_without_newline ? "is torn (the file ends mid-line): " : "") +
                   r.error().message);
    }
  }

  /// The 1-based number and the byte offset of the line `next()` last returned.
  std::uint64_t line_number() const noexcept { return line_; }
  std::uint64_t line_offset() const noexcept { return line_offset_; }
  std::string const& name() const noexcept { return name_; }

 private:
  std::optional<result<result_line>> where(std::string what) const {
    return std::optional<result<result_line>>(
        make_error(errc::bad_response, name_ + " line " + std::to_string(line_) + " " + what +
                                           "; the line is skipped (its request goes into the next round)"));
  }

  std::unique_ptr<std::ifstream> owned_;
  std::istream* in_;
  std::string name_;
  llm::wire_context ctx_;
  std::size_t max_line_;
  std::string text_;
  std::uint64_t line_ = 0, line_offset_ = 0, offset_ = 0;
};

/// Finds a request's result line by custom_id across a round's output and error files, reading one
/// line per lookup. Memory: 16 bytes per line (a hash of its custom_id and where the line starts),
/// not the answers. A lookup verifies the id on the line it reads, so a hash collision costs a read,
/// never a wrong answer. The strings `ctx` views must outlive the index. When an id has several lines (a request retried in a later round, files
/// given oldest first), the last one wins. Not thread-safe: one strand (the replay router's).
class result_index {
 public:
  /// Reads `files` once (a missing file is an error; an empty one is fine). Bad lines are
  /// counted and the first few kept, not fatal. Errors: those of `result_reader::open`;
  /// `errc::bad_option` for more than 65,535 files or one over 256 TB.
  static result<result_index> build(std::vector<std::filesystem::path> files, llm::wire_context ctx = {}) {
    result_index ix;
    ix.ctx_ = ctx;
    if (files.size() >= (std::size_t{1} << 16))
      return make_error(errc::bad_option, "too many batch result files (" + std::to_string(files.size()) + ") for one index");
    for (std::size_t f = 0; f < files.size(); ++f) {
      auto reader = result_reader::open(files[f], ctx);
      if (!reader) return reader.error();
      while (auto line = reader->next()) {
        if (!*line) {
          ++ix.bad_lines_;
          if (ix.bad_.size() < 10) ix.bad_.push_back(line->error());
          continue;
        }
        auto off = reader->line_offset();
        if (off >= (std::uint64_t{1} << 48))
          return make_error(errc::bad_option, files[f].string() + " is too large to index (over 256 TB)");
        ix.entries_.push_back({detail::id_hash((*line)->custom_id), (std::uint64_t(f) << 48) | off});
      }
    }
    std::sort(ix.entries_.begin(), ix.entries_.end(), [](entry const& a, entry const& b) {
      return a.hash != b.hash ? a.hash < b.hash : a.where < b.where;
    });
    ix.entries_.shrink_to_fit();
    ix.files_ = std::move(files);
    ix.streams_.resize(ix.files_.size());
    return ix;
  }

  /// The last result line for `custom_id`, or nothing when no file has one. Errors:
  /// `errc::unreadable_file` when a file cannot be read again (changed or removed since `build`).
  result<std::optional<result_line>> find(std::string_view custom_id) {
    auto h = detail::id_hash(custom_id);
    auto lo = std::lower_bound(entries_.begin(), entries_.end(), h, [](entry const& e, std::uint64_t v) { return e.hash < v; });
    auto hi = lo;
    while (hi != entries_.end() && hi->hash == h) ++hi;
    for (auto it = hi; it != lo;) {
      --it;
      auto file = static_cast<std::size_t>(it->where >> 48);
      auto offset = it->where & ((std::uint64_t{1} << 48) - 1);
      auto text = read_at(file, offset);
      if (!text) return text.error();
      auto line = parse_result_line(*text, ctx_);
      if (line && line->custom_id == custom_id) return std::optional<result_line>(std::move(*line));
    }
    return std::optional<result_line>{};
  }

  /// Lines indexed (good ones), lines skipped as bad, and the first few of those errors.
  std::size_t size() const noexcept { return entries_.size(); }
  std::size_t bad_lines() const noexcept { return bad_lines_; }
  std::vector<error> const& first_bad_lines() const noexcept { return bad_; }

 private:
  struct entry {
    std::uint64_t hash;
    std::uint64_t where;  ///< file index << 48 | byte offset of the line
  };

  result<std::string> read_at(std::size_t file, std::uint64_t offset) {
    auto& s = streams_[file];
    if (!s) {
      s = std::make_unique<std::ifstream>(files_[file], std::ios::binary);
      if (!*s) return make_error(errc::unreadable_file, "cannot open " + files_[file].string() + " again; keep a round's result files until it is saved");
    }
    s->clear();
    s->seekg(static_cast<std::streamoff>(offset));
    std::string text;
    auto how = detail::read_line(*s, text, 64u << 20);
    if (!*s && how == detail::line_read::end)
      return make_error(errc::unreadable_file, files_[file].string() + " changed since it was indexed; index it again");
    return text;
  }

  std::vector<std::filesystem::path> files_;
  std::vector<std::unique_ptr<std::ifstream>> streams_;
  std::vector<entry> entries_;
  std::vector<error> bad_;
  std::size_t bad_lines_ = 0;
  llm::wire_context ctx_;
};

}  // namespace autointerp::batch
