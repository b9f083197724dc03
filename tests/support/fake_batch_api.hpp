#pragma once
// A fake OpenAI Files and Batch API for tests and benchmarks, served by fake_llm_server:
//
//   autointerp::testing::fake_batch_api api;            // or api({.fail_fraction = 0.1, ...})
//   fake_llm_server server(io.get_executor(), api.handler());
//
// - POST /v1/files (multipart/form-data: purpose, file), GET /v1/files/{id}/content.
// - POST /v1/batches (input_file_id, endpoint /v1/chat/completions, completion_window 24h,
//   metadata), GET /v1/batches/{id}, POST /v1/batches/{id}/cancel, GET /v1/batches?limit&after.
// - A batch's status moves on the clock: validating, in_progress, finalizing, then completed
//   (or expired when `expire` is set), each for its configured duration; a cancelled batch goes
//   through cancelling to cancelled. An input file that is not valid (a line that is not a request
//   to the batch's endpoint, a repeated custom_id) fails validation: status failed, with errors.
// - When a batch ends, each request's body is answered as the chat fake answers it (`answer`,
//   fake_brain by default), with `usage.prompt_tokens_details.cached_tokens` added. A configurable,
//   deterministic fraction of requests fails (a 500 line in the error file), by default only the
//   first time its custom_id is submitted; an expiring or cancelled batch runs only the first share
//   of its requests and lists the others in the error file as batch_expired / batch_cancelled.
// - It counts uploads, batches created, and how often each custom_id was submitted in a batch that
//   passed validation (tests assert that no request is submitted twice).
// Other requests go to `fallback` (chat completions: `answer`).

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fake_answers.hpp"
#include "fake_llm_server.hpp"

namespace autointerp::testing {

/// Settings of the fake Batch API. Durations are short in tests.
struct fake_batch_settings {
  std::chrono::milliseconds validating{5};
  std::chrono::milliseconds in_progress{10};
  std::chrono::milliseconds finalizing{5};
  std::chrono::milliseconds cancelling{5};
  double fail_fraction = 0;             ///< share of requests (by a hash of the custom_id) answered with a 500
  bool fail_first_submission_only = true;  ///< a failed request succeeds when submitted again
  bool expire = false;                  ///< batches end `expired` instead of `completed`
  double ran_share_when_cut = 0.5;      ///< of an expired or cancelled batch, the share of requests (first in file order) that ran
  double cached_share = 0.5;            ///< cached_tokens = this share of prompt_tokens
  fake_handler answer = fake_brain;     ///< answers one request body (as a chat call to the fake)
};

class fake_batch_api {
 public:
  explicit fake_batch_api(fake_batch_settings s = {}) : st_(std::make_shared<state>()) { st_->settings = std::move(s); }

  /// The handler for fake_llm_server: the Files and Batch API, and chats through `answer`.
  fake_handler handler() const {
    auto st = st_;
    return [st](fake_request const& r) { return st->serve(r); };
  }

  /// Batches created (also those that failed validation), input files uploaded.
  std::size_t batches_created() const {
    std::lock_guard lock(st_->mutex);
    return st_->batches.size();
  }
  std::size_t uploads() const {
    std::lock_guard lock(st_->mutex);
    return st_->uploads;
  }
  /// How many batches that passed validation listed `custom_id`.
  std::size_t submissions(std::string const& custom_id) const {
    std::lock_guard lock(st_->mutex);
    auto it = st_->submitted.find(custom_id);
    return it == st_->submitted.end() ? 0 : it->second;
  }
  /// The largest `submissions` over every custom_id (1 = nothing submitted twice), and the ids seen.
  std::size_t max_submissions() const {
    std::lock_guard lock(st_->mutex);
    std::size_t m = 0;
    for (auto const& [id, n] : st_->submitted) m = std::max(m, n);
    return m;
  }
  std::size_t distinct_requests() const {
    std::lock_guard lock(st_->mutex);
    return st_->submitted.size();
  }
  /// Requests answered (200 lines written), and the content of a stored file ("" when unknown).
  std::size_t answered() const {
    std::lock_guard lock(st_->mutex);
    return st_->answered;
  }
  std::string file_content(std::string const& id) const {
    std::lock_guard lock(st_->mutex);
    auto it = st_->files.find(id);
    return it == st_->files.end() ? std::string() : it->second.content;
  }
  /// Changes the settings for batches created from now on (and those still running).
  void set_settings(fake_batch_settings s) {
    std::lock_guard lock(st_->mutex);
    st_->settings = std::move(s);
  }

 private:
  using clock = std::chrono::steady_clock;
  struct file {
    std::string id, filename, purpose, content;
  };
  struct batch {
    std::string id, input_file_id, endpoint, window;
    boost::json::object metadata;
    clock::time_point created;
    std::optional<clock::time_point> cancel_at;
    std::vector<std::string> lines;  ///< the input's request lines (valid batches)
    std::string errors;              ///< validation errors: the batch failed
    bool ended = false;
    std::string final_status;
    std::string output_file_id, error_file_id;
    std::uint64_t completed = 0, failed = 0;
  };

  struct state {
    mutable std::mutex mutex;
    fake_batch_settings settings;
    std::map<std::string, file> files;
    std::map<std::string, batch> batches;
    std::map<std::string, std::size_t> submitted;
    std::size_t uploads = 0, answered = 0, next_id = 0;

    std::string new_id(std::string_view prefix) { return std::string(prefix) + std::to_string(next_id++); }

    fake_reply serve(fake_request const& r) {
      std::lock_guard lock(mutex);
      std::string_view t(r.target);
      if (r.method == "POST" && t == "/v1/files") return upload(r);
      if (r.method == "GET" && t.starts_with("/v1/files/") && t.ends_with("/content")) {
        auto id = std::string(t.substr(10, t.size() - 10 - 8));
        auto it = files.find(id);
        if (it == files.end()) return fake_reply::error(404, "No such File object: " + id);
        fake_reply rep;
        rep.body = it->second.content;
        rep.headers.emplace_back("Content-Type", "application/octet-stream");
        return rep;
      }
      if (r.method == "POST" && t == "/v1/batches") return create(r);
      if (r.method == "GET" && (t == "/v1/batches" || t.starts_with("/v1/batches?"))) return list(t);
      if (t.starts_with("/v1/batches/")) {
        auto rest = std::string(t.substr(12));
        bool cancel = false;
        if (rest.ends_with("/cancel")) rest.resize(rest.size() - 7), cancel = true;
        auto it = batches.find(rest);
        if (it == batches.end()) return fake_reply::error(404, "No batch found with id '" + rest + "'.");
        auto& b = it->second;
        if (cancel) {
          if (r.method != "POST") return fake_reply::error(405, "cancel is a POST");
          auto now = clock::now();
          auto s = status(b, now);
          if (s == "completed" || s == "failed" || s == "expired" || s == "cancelled")
            return fake_reply::error(409, "Cannot cancel a batch with status '" + s + "'.");
          if (!b.cancel_at) b.cancel_at = now;
        } else if (r.method != "GET") {
          return fake_reply::error(405, "method not allowed");
        }
        return json_reply(object_of(b));
      }
      return settings.answer ? settings.answer(r) : fake_reply::completion("ok");
    }

    static fake_reply json_reply(boost::json::object const& o) {
      fake_reply rep;
      rep.body = boost::json::serialize(o);
      rep.headers.emplace_back("Content-Type", "application/json");
      return rep;
    }

    fake_reply upload(fake_request const& r) {
      auto ct = r.header("content-type");
      auto at = ct.find("boundary=");
      if (ct.rfind("multipart/form-data", 0) != 0 || at == std::string::npos)
        return fake_reply::error(400, "Expected multipart/form-data with a boundary");
      std::string boundary = "--" + ct.substr(at + 9);
      std::map<std::string, std::string> fields;
      std::string filename;
      std::string_view body(r.body);
      std::size_t pos = body.find(boundary);
      while (pos != std::string_view::npos) {
        pos += boundary.size();
        if (body.substr(pos, 2) == "--") break;
        auto head_end = body.find("\r\n\r\n", pos);
        if (head_end == std::string_view::npos) return fake_reply::error(400, "Malformed multipart part");
        auto head = body.substr(pos, head_end - pos);
        auto content_start = head_end + 4;
        auto next = body.find("\r\n" + boundary, content_start);
        if (next == std::string_view::npos) return fake_reply::error(400, "Unterminated multipart part");
        auto name_at = head.find("name=\"");
        if (name_at == std::string_view::npos) return fake_reply::error(400, "A part without a name");
        auto name_end = head.find('"', name_at + 6);
        std::string name(head.substr(name_at + 6, name_end - name_at - 6));
        if (auto fn = head.find("filename=\""); fn != std::string_view::npos)
          filename = std::string(head.substr(fn + 10, head.find('"', fn + 10) - fn - 10));
        fields[name] = std::string(body.substr(content_start, next - content_start));
        pos = next + 2;
      }
      if (fields["purpose"] != "batch") return fake_reply::error(400, "purpose must be 'batch'");
      if (!fields.contains("file")) return fake_reply::error(400, "No file part");
      ++uploads;
      file f{new_id("file-"), filename, "batch", std::move(fields["file"])};
      auto o = file_object(f);
      files.emplace(f.id, std::move(f));
      return json_reply(o);
    }

    static boost::json::object file_object(file const& f) {
      return {{"id", f.id}, {"object", "file"}, {"bytes", f.content.size()}, {"created_at", 1700000000},
              {"filename", f.filename}, {"purpose", f.purpose}};
    }

    fake_reply create(fake_request const& r) {
      auto const* o = r.json.if_object();
      if (!o) return fake_reply::error(400, "The body must be a JSON object");
      auto str = [&](char const* k) {
        auto const* v = o->if_contains(k);
        return v && v->is_string() ? std::string(v->get_string()) : std::string();
      };
      batch b;
      b.input_file_id = str("input_file_id");
      b.endpoint = str("endpoint");
      b.window = str("completion_window");
      if (auto const* m = o->if_contains("metadata"); m && m->is_object()) b.metadata = m->get_object();
      if (b.endpoint != "/v1/chat/completions") return fake_reply::error(400, "Unsupported endpoint '" + b.endpoint + "'");
      if (b.window != "24h") return fake_reply::error(400, "completion_window must be '24h'");
      auto fit = files.find(b.input_file_id);
      if (fit == files.end()) return fake_reply::error(404, "No such File object: " + b.input_file_id);
      b.id = new_id("batch_");
      b.created = clock::now();
      // Validation: every line a request to the endpoint, each custom_id once.
      std::set<std::string> ids;
      std::string_view content(fit->second.content);
      std::size_t line_no = 0;
      while (!content.empty()) {
        auto nl = content.find('\n');
        auto line = content.substr(0, nl);
        content = nl == std::string_view::npos ? std::string_view() : content.substr(nl + 1);
        ++line_no;
        if (line.empty()) continue;
        boost::system::error_code ec;
        auto v = boost::json::parse(line, ec);
        auto const* lo = ec ? nullptr : v.if_object();
        auto const* id = lo ? lo->if_contains("custom_id") : nullptr;
        auto const* url = lo ? lo->if_contains("url") : nullptr;
        auto const* body = lo ? lo->if_contains("body") : nullptr;
        std::string why;
        if (!lo) why = "invalid JSON";
        else if (!id || !id->is_string()) why = "missing custom_id";
        else if (!url || !url->is_string() || url->get_string() != b.endpoint) why = "url does not match the batch endpoint";
        else if (!body || !body->is_object()) why = "missing body";
        else if (!ids.insert(std::string(id->get_string())).second) why = "duplicate custom_id '" + std::string(id->get_string()) + "'";
        if (!why.empty()) {
          b.errors = why + " on line " + std::to_string(line_no);
          break;
        }
        b.lines.emplace_back(line);
      }
      if (b.lines.empty() && b.errors.empty()) b.errors = "the input file holds no requests";
      if (b.errors.empty())
        for (auto const& id : ids) ++submitted[id];
      else
        b.lines.clear();
      auto id = b.id;
      auto& stored = batches.emplace(id, std::move(b)).first->second;
      return json_reply(object_of(stored));
    }

    /// GET /v1/batches?limit=N&after=ID: newest first, as the API lists them.
    fake_reply list(std::string_view target) {
      auto param = [&](std::string_view name) -> std::string {
        auto q = target.find('?');
        if (q == std::string_view::npos) return {};
        auto query = target.substr(q + 1);
        for (std::size_t at = 0; at < query.size();) {
          auto amp = query.find('&', at);
          auto part = query.substr(at, amp == std::string_view::npos ? std::string_view::npos : amp - at);
          if (part.starts_with(std::string(name) + "=")) return std::string(part.substr(name.size() + 1));
          if (amp == std::string_view::npos) break;
          at = amp + 1;
        }
        return {};
      };
      std::size_t limit = 20;
      if (auto l = param("limit"); !l.empty()) limit = std::stoul(l);
      auto after = param("after");
      std::vector<batch*> newest;
      for (auto& [id, b] : batches) newest.push_back(&b);
      std::sort(newest.begin(), newest.end(), [](batch* a, batch* b) { return a->created > b->created; });
      boost::json::array data;
      bool skipping = !after.empty(), more = false;
      std::string last;
      for (auto* b : newest) {
        if (skipping) {
          skipping = b->id != after;
          continue;
        }
        if (data.size() == limit) {
          more = true;
          break;
        }
        data.push_back(object_of(*b));
        last = b->id;
      }
      return json_reply({{"object", "list"}, {"data", std::move(data)}, {"has_more", more}, {"last_id", last}});
    }

    /// The status at `now`, running the batch when it ends.
    std::string status(batch& b, clock::time_point now) {
      auto const& s = settings;
      auto since = now - b.created;
      if (!b.ended) {
        if (!b.errors.empty() && since >= s.validating) finish(b, "failed", 0);
        else if (b.cancel_at && now - *b.cancel_at >= s.cancelling) finish(b, "cancelled", cut_count(b));
        else if (b.cancel_at) return "cancelling";
        else if (since < s.validating) return "validating";
        else if (since < s.validating + s.in_progress) return "in_progress";
        else if (since < s.validating + s.in_progress + s.finalizing) return "finalizing";
        else if (s.expire) finish(b, "expired", cut_count(b));
        else finish(b, "completed", b.lines.size());
      }
      if (!b.ended) return "validating";
      return b.final_status;
    }

    std::size_t cut_count(batch const& b) const {
      auto share = std::clamp(settings.ran_share_when_cut, 0.0, 1.0);
      return static_cast<std::size_t>(static_cast<double>(b.lines.size()) * share);
    }

    static std::uint64_t hash_of(std::string_view s) {
      std::uint64_t h = 1469598103934665603ULL;
      for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
      return h;
    }

    bool fails(std::string const& custom_id) {
      if (settings.fail_fraction <= 0) return false;
      if (settings.fail_first_submission_only && submitted[custom_id] > 1) return false;
      return static_cast<double>(hash_of(custom_id) % 10000) < settings.fail_fraction * 10000;
    }

    /// Runs the first `ran` requests of `b` and writes its output and error files.
    void finish(batch& b, std::string final_status, std::size_t ran) {
      b.ended = true;
      b.final_status = std::move(final_status);
      std::string out, err;
      std::size_t n = 0;
      for (auto const& text : b.lines) {
        auto line = boost::json::parse(text).as_object();
        std::string custom_id(line.at("custom_id").as_string());
        boost::json::object result{{"id", "batch_req_" + std::to_string(next_id++)}, {"custom_id", custom_id}};
        if (n++ >= ran) {
          bool expired = b.final_status == "expired";
          result["response"] = nullptr;
          result["error"] = boost::json::object{
              {"code", expired ? "batch_expired" : "batch_cancelled"},
              {"message", expired ? "The batch ended before this request ran." : "The batch was cancelled before this request ran."}};
          err += boost::json::serialize(result) + "\n";
          ++b.failed;
          continue;
        }
        fake_request fr;
        fr.method = "POST";
        fr.target = "/v1/chat/completions";
        fr.json = line.at("body");
        fr.body = boost::json::serialize(fr.json);
        fake_reply rep = fails(custom_id) ? fake_reply::error(500, "The server had an error while processing your request.")
                                          : (settings.answer ? settings.answer(fr) : fake_reply::completion("ok"));
        boost::system::error_code ec;
        auto body = boost::json::parse(rep.body, ec);
        if (ec) body = boost::json::string(rep.body);
        if (rep.status == 200 && body.is_object()) {
          if (auto* u = body.as_object().if_contains("usage"); u && u->is_object()) {
            auto prompt = u->as_object().contains("prompt_tokens") ? u->as_object().at("prompt_tokens").to_number<std::uint64_t>() : 0;
            u->as_object()["prompt_tokens_details"] = boost::json::object{
                {"cached_tokens", static_cast<std::uint64_t>(static_cast<double>(prompt) * settings.cached_share)}};
          }
        }
        result["response"] = boost::json::object{
            {"status_code", rep.status}, {"request_id", "req_" + std::to_string(next_id++)}, {"body", std::move(body)}};
        result["error"] = nullptr;
        if (rep.status == 200) {
          out += boost::json::serialize(result) + "\n";
          ++b.completed;
          ++answered;
        } else {
          err += boost::json::serialize(result) + "\n";
          ++b.failed;
        }
      }
      if (!out.empty()) {
        file f{new_id("file-"), b.id + "_output.jsonl", "batch_output", std::move(out)};
        b.output_file_id = f.id;
        files.emplace(f.id, std::move(f));
      }
      if (!err.empty()) {
        file f{new_id("file-"), b.id + "_error.jsonl", "batch_output", std::move(err)};
        b.error_file_id = f.id;
        files.emplace(f.id, std::move(f));
      }
    }

    boost::json::object object_of(batch& b) {
      auto s = status(b, clock::now());
      boost::json::object o{{"id", b.id},
                            {"object", "batch"},
                            {"endpoint", b.endpoint},
                            {"input_file_id", b.input_file_id},
                            {"completion_window", b.window},
                            {"status", s},
                            {"created_at", 1700000000},
                            {"expires_at", 1700086400},
                            {"metadata", b.metadata},
                            {"request_counts", boost::json::object{{"total", b.lines.size()},
                                                                    {"completed", b.completed},
                                                                    {"failed", b.failed}}}};
      o["output_file_id"] = b.output_file_id.empty() ? boost::json::value(nullptr) : boost::json::value(b.output_file_id);
      o["error_file_id"] = b.error_file_id.empty() ? boost::json::value(nullptr) : boost::json::value(b.error_file_id);
      if (!b.errors.empty())
        o["errors"] = boost::json::object{
            {"object", "list"},
            {"data", boost::json::array{boost::json::object{{"code", "invalid_request"}, {"message", b.errors}}}}};
      else
        o["errors"] = nullptr;
      return o;
    }
  };

  std::shared_ptr<state> st_;
};

}  // namespace autointerp::testing
