#pragma once
// Out-of-line parts of autointerp/batch/batch_api.hpp.

#include <autointerp/batch/batch_api.hpp>
#include <autointerp/with_diagnostics.hpp>

#include <boost/json/serialize.hpp>

#include <random>

namespace autointerp::batch {

namespace detail {

inline std::string_view string_field(boost::json::object const& o, std::string_view key) noexcept {
  auto const* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

inline std::uint64_t count_field(boost::json::object const& o, std::string_view key) noexcept {
  auto const* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64()) return v->get_int64() > 0 ? static_cast<std::uint64_t>(v->get_int64()) : 0;
  if (v->is_double()) return v->get_double() > 0 && v->get_double() < 1e18 ? static_cast<std::uint64_t>(v->get_double()) : 0;
  return 0;
}

inline std::int64_t time_field(boost::json::object const& o, std::string_view key) noexcept {
  auto const* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return v->get_uint64() < (std::uint64_t{1} << 62) ? static_cast<std::int64_t>(v->get_uint64()) : 0;
  return 0;
}

/// Ids go into request paths: only the characters the API's ids use.
inline bool is_api_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 200) return false;
  for (char ch : id)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
      return false;
  return true;
}

inline error bad_id(std::string_view what, std::string_view id) {
  return make_error(errc::bad_option, std::string(what) + " '" + llm::one_line(id, {}, 80) +
                                          "' is not a Batch API id (letters, digits, '_' and '-'); check batches.jsonl");
}

/// Our words first: which call, on what; then the client's (host, status, fix).
inline error in_call(error e, std::string const& what) {
  e.message = what + ": " + e.message;
  return e;
}

inline std::string random_boundary() {
  std::random_device rd;
  std::uint64_t v = (std::uint64_t(rd()) << 32) ^ rd();
  static constexpr char hex[] = "0123456789abcdef";
  std::string b = "autointerp-batch-";
  for (int i = 0; i < 16; ++i) b += hex[(v >> (4 * i)) & 15];
  return b;
}

/// Sends `req` through the client: the response, or the error with `what` in front.
inline boost::asio::awaitable<result<llm::api_response>> send(llm::client& c, llm::api_request req, std::string what) {
  auto op = c.async_send(req, autointerp::as_result(boost::asio::deferred));  // named: g++ 12
  auto r = co_await std::move(op);
  if (!r) co_return in_call(r.error(), what);
  co_return r;
}

inline boost::asio::awaitable<result<batch_object>> batch_call(llm::client& c, llm::api_request req, std::string what) {
  auto op = send(c, std::move(req), what);
  auto r = co_await std::move(op);
  if (!r) co_return r.error();
  co_return parse_batch_object(r->json, what);
}

}  // namespace detail

AUTOINTERP_DECL result<batch_object> parse_batch_object(boost::json::value const& v, std::string_view where) {
  auto bad = [&](std::string const& why) {
    return make_error(errc::bad_response, std::string(where) + ": the answer is not a batch object (" + why +
                                              "); check that the base URL is OpenAI's API");
  };
  auto const* o = v.if_object();
  if (!o) return bad("not a JSON object");
  batch_object b;
  b.id = std::string(detail::string_field(*o, "id"));
  if (b.id.empty()) return bad("no \"id\"");
  auto status_text = detail::string_field(*o, "status");
  auto status = parse_batch_status(status_text);
  if (!status) return bad("unknown status '" + llm::one_line(status_text, {}, 40) + "'");
  b.status = *status;
  b.input_file_id = std::string(detail::string_field(*o, "input_file_id"));
  b.output_file_id = std::string(detail::string_field(*o, "output_file_id"));
  b.error_file_id = std::string(detail::string_field(*o, "error_file_id"));
  b.endpoint = std::string(detail::string_field(*o, "endpoint"));
  b.completion_window = std::string(detail::string_field(*o, "completion_window"));
  if (auto const* rc = o->if_contains("request_counts"); rc && rc->is_object()) {
    b.counts.total = detail::count_field(rc->get_object(), "total");
    b.counts.completed = detail::count_field(rc->get_object(), "completed");
    b.counts.failed = detail::count_field(rc->get_object(), "failed");
  }
  if (auto const* errs = o->if_contains("errors"); errs && errs->is_object()) {
    if (auto const* data = errs->get_object().if_contains("data"); data && data->is_array()) {
      std::string text;
      for (auto const& e : data->get_array()) {
        auto const* eo = e.if_object();
        if (!eo) continue;
        if (!text.empty()) text += "; ";
        if (auto const* line = eo->if_contains("line"); line && line->is_number())
          text += "line " + std::to_string(line->to_number<std::int64_t>()) + ": ";
        auto code = detail::string_field(*eo, "code");
        if (!code.empty()) text += std::string(code) + ": ";
        text += std::string(detail::string_field(*eo, "message"));
      }
      b.errors = llm::one_line(text, {});
    }
  }
  b.created_at = detail::time_field(*o, "created_at");
  b.expires_at = detail::time_field(*o, "expires_at");
  if (auto const* meta = o->if_contains("metadata"); meta && meta->is_object())
    for (auto const& [k, v] : meta->get_object())
      if (v.is_string()) b.metadata.emplace(std::string(k), std::string(v.get_string()));
  return b;
}

AUTOINTERP_DECL result<file_object> parse_file_object(boost::json::value const& v, std::string_view where) {
  auto const* o = v.if_object();
  if (!o || detail::string_field(*o, "id").empty())
    return make_error(errc::bad_response, std::string(where) +
                                              ": the answer is not a file object (no \"id\"); check that the base URL is OpenAI's API");
  file_object f;
  f.id = std::string(detail::string_field(*o, "id"));
  f.bytes = detail::count_field(*o, "bytes");
  f.filename = std::string(detail::string_field(*o, "filename"));
  f.purpose = std::string(detail::string_field(*o, "purpose"));
  return f;
}

AUTOINTERP_DECL upload_form make_upload_form(std::string_view filename, std::string_view purpose, std::string_view boundary) {
  // A file name with a quote or a line break would break the part's header: replace those bytes.
  std::string name(filename);
  for (char& ch : name)
    if (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20) ch = '_';
  upload_form f;
  f.content_type = "multipart/form-data; boundary=" + std::string(boundary);
  f.prefix = "--" + std::string(boundary) + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n" +
             std::string(purpose) + "\r\n--" + std::string(boundary) +
             "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name +
             "\"\r\nContent-Type: application/jsonl\r\n\r\n";
  f.suffix = "\r\n--" + std::string(boundary) + "--\r\n";
  return f;
}

namespace detail {

AUTOINTERP_DECL boost::asio::awaitable<result<file_object>> upload_file(llm::client& c, std::filesystem::path file) {
  std::string const what = "uploading the batch input file " + file.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    co_return make_error(errc::file_not_found, what + ": no such file; write the round's input files first");
  auto form = make_upload_form(file.filename().string(), "batch", random_boundary());
  llm::api_request req;
  req.method = llm::api_method::post;
  req.path = "/files";
  req.content_type = std::move(form.content_type);
  req.body = std::move(form.prefix);
  req.body_file = file;
  req.body_suffix = std::move(form.suffix);
  req.noun = "file upload";
  req.timeout = file_transfer_timeout;
  auto op = send(c, std::move(req), what);
  auto r = co_await std::move(op);
  if (!r) co_return r.error();
  co_return parse_file_object(r->json, what);
}

AUTOINTERP_DECL boost::asio::awaitable<result<batch_object>> create_batch(llm::client& c, std::string input_file_id,
                                                                          batch_options options) {
  std::string const what = "creating a batch over input file " + input_file_id;
  if (!is_api_id(input_file_id)) co_return bad_id("the input file id", input_file_id);
  boost::json::object body{{"input_file_id", input_file_id},
                           {"endpoint", options.endpoint},
                           {"completion_window", options.completion_window}};
  if (!options.metadata.empty()) {
    boost::json::object meta;
    for (auto const& [k, v] : options.metadata) meta[k] = v;
    body["metadata"] = std::move(meta);
  }
  llm::api_request req;
  req.method = llm::api_method::post;
  req.path = "/batches";
  req.body = boost::json::serialize(body);
  req.noun = "batch creation";
  req.retry_after_sent = false;  // a second creation would run (and bill) every request twice
  auto op = batch_call(c, std::move(req), what);
  auto r = co_await std::move(op);
  if (!r && (r.error() == errc::timeout || r.error() == errc::connection_closed)) {
    auto e = r.error();
    e.message += "; the batch may exist: look for it (GET /v1/batches, or the dashboard) before submitting again";
    co_return e;
  }
  co_return r;
}

AUTOINTERP_DECL boost::asio::awaitable<result<batch_object>> get_batch(llm::client& c, std::string batch_id) {
  if (!is_api_id(batch_id)) co_return bad_id("the batch id", batch_id);
  llm::api_request req;
  req.method = llm::api_method::get;
  req.path = "/batches/" + batch_id;
  req.content_type.clear();
  req.noun = "batch status";
  auto op = batch_call(c, std::move(req), "getting batch " + batch_id);
  co_return co_await std::move(op);
}

AUTOINTERP_DECL boost::asio::awaitable<result<batch_object>> cancel_batch(llm::client& c, std::string batch_id) {
  if (!is_api_id(batch_id)) co_return bad_id("the batch id", batch_id);
  llm::api_request req;
  req.method = llm::api_method::post;
  req.path = "/batches/" + batch_id + "/cancel";
  req.content_type.clear();
  req.noun = "batch cancellation";
  auto op = batch_call(c, std::move(req), "cancelling batch " + batch_id);
  co_return co_await std::move(op);
}

AUTOINTERP_DECL boost::asio::awaitable<result<batch_page>> list_batches(llm::client& c, std::string after, std::uint32_t limit) {
  if (!after.empty() && !is_api_id(after)) co_return bad_id("the batch id", after);
  if (limit < 1) limit = 1;
  if (limit > 100) limit = 100;
  llm::api_request req;
  req.method = llm::api_method::get;
  req.path = "/batches?limit=" + std::to_string(limit) + (after.empty() ? std::string() : "&after=" + after);
  req.content_type.clear();
  req.noun = "batch list";
  std::string const what = "listing batches";
  auto op = send(c, std::move(req), what);
  auto r = co_await std::move(op);
  if (!r) co_return r.error();
  auto const* o = r->json.if_object();
  auto const* data = o ? o->if_contains("data") : nullptr;
  if (!data || !data->is_array())
    co_return make_error(errc::bad_response, what + ": the answer has no \"data\" list; check that the base URL is OpenAI's API");
  batch_page page;
  for (auto const& v : data->get_array()) {
    auto b = parse_batch_object(v, what);
    if (!b) co_return b.error();
    page.batches.push_back(std::move(*b));
  }
  if (auto const* more = o->if_contains("has_more"); more && more->is_bool()) page.has_more = more->get_bool();
  page.last_id = std::string(string_field(*o, "last_id"));
  co_return page;
}

AUTOINTERP_DECL boost::asio::awaitable<result<std::uint64_t>> download_file(llm::client& c, std::string file_id,
                                                                            std::filesystem::path to) {
  if (!is_api_id(file_id)) co_return bad_id("the file id", file_id);
  std::error_code ec;
  if (to.has_parent_path()) std::filesystem::create_directories(to.parent_path(), ec);
  llm::api_request req;
  req.method = llm::api_method::get;
  req.path = "/files/" + file_id + "/content";
  req.content_type.clear();
  req.download_to = to;
  req.expect_json = false;
  req.noun = "file download";
  req.timeout = file_transfer_timeout;
  auto op = send(c, std::move(req), "downloading batch file " + file_id + " to " + to.string());
  auto r = co_await std::move(op);
  if (!r) co_return r.error();
  co_return r->body_bytes;
}

}  // namespace detail

}  // namespace autointerp::batch
