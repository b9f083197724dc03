#pragma once
// Out-of-line parts of autointerp/llm/wire.hpp.

#include <autointerp/detail/json_number.hpp>
#include <autointerp/llm/wire.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace autointerp::llm {

namespace detail {

inline boost::json::value const* find(boost::json::value const& v, std::string_view key) noexcept {
  auto const* o = v.if_object();
  if (!o) return nullptr;
  auto it = o->find(key);
  return it == o->end() ? nullptr : &it->value();
}

inline std::string_view string_or(boost::json::value const* v, std::string_view fallback = {}) noexcept {
  if (v && v->is_string()) return v->get_string();
  return fallback;
}

inline std::uint64_t count_or_zero(boost::json::value const* v) noexcept {
  if (!v) return 0;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64()) return v->get_int64() > 0 ? static_cast<std::uint64_t>(v->get_int64()) : 0;
  if (v->is_double()) return v->get_double() > 0 && v->get_double() < 1e18 ? static_cast<std::uint64_t>(v->get_double()) : 0;
  return 0;
}

inline std::optional<double> number(boost::json::value const* v) noexcept {
  if (!v) return std::nullopt;
  if (v->is_string()) return parse_decimal(v->get_string());  // some proxies send numbers as strings
  return autointerp::detail::finite_number(*v);
}

/// An error body's code as a number: {"error":{"code":429}} or "429"; 0 when absent or textual.
inline unsigned error_code_number(boost::json::value const& err) noexcept {
  auto n = number(find(err, "code"));
  if (!n || *n < 100 || *n > 599) return 0;
  return static_cast<unsigned>(*n);
}

inline std::string remote_from_json(boost::json::value const& v) {
  auto const* err = find(v, "error");
  if (!err) return {};
  if (err->is_string()) return std::string(err->get_string());
  std::string out(string_or(find(*err, "message")));
  if (auto const* meta = find(*err, "metadata")) {
    auto provider = string_or(find(*meta, "provider_name"));
    auto raw = find(*meta, "raw");
    std::string raw_text = raw ? (raw->is_string() ? std::string(raw->get_string()) : boost::json::serialize(*raw)) : std::string();
    if (!provider.empty()) out += std::string(" [provider ") + std::string(provider) + "]";
    if (!raw_text.empty()) out += ": " + raw_text;
  }
  return out;
}

struct status_text {
  errc code;
  failure_kind kind;
  std::string what;  ///< "the API key was rejected; set OPENROUTER_API_KEY"
};

inline status_text describe(unsigned status, wire_context const& c) {
  std::string key_fix = c.key_env.empty() ? std::string("check the API key given for this endpoint")
                                          : "set " + std::string(c.key_env);
  switch (status) {
    case 400:
    case 422:
      return {errc::bad_request, failure_kind::fatal,
              "the request was rejected as invalid; check the model name '" + std::string(c.model) + "' and the request options"};
    case 401: return {errc::unauthorized, failure_kind::fatal, "the API key was rejected; " + key_fix};
    case 402:
      return {errc::payment_required, failure_kind::stop_job,
              "the account has no credit left; add credits, then run again (the job stops here)"};
    case 403:
      return {errc::forbidden, failure_kind::fatal,
              "the request was refused (key permissions, region or moderation); check the key's permissions and the prompt"};
    case 404:
      return {errc::not_found, failure_kind::fatal,
              "not found; check the base URL '" + std::string(c.base_url) + "' and the model name '" + std::string(c.model) + "'"};
    case 408: return {errc::server_error, failure_kind::retryable, "the server timed out the request; try again later"};
    case 409: return {errc::server_error, failure_kind::retryable, "the server reported a conflict; try again later"};
    case 429:
      return {errc::rate_limited, failure_kind::retryable,
              "rate limited; lower the concurrency or the requests/tokens per minute budget"};
    default: break;
  }
  if (status >= 500 && status <= 599)
    return {errc::server_error, failure_kind::retryable, "the server failed; try again later or choose another model"};
  if (status >= 300 && status <= 399)
    return {errc::bad_response, failure_kind::fatal, "a redirect, which is not followed; use the final URL as the base URL"};
  if (status >= 400 && status <= 499)
    return {errc::bad_request, failure_kind::fatal, "the request was refused; check the base URL and the request options"};
  return {errc::bad_response, failure_kind::fatal, "an unexpected HTTP status; check that the base URL is an OpenAI-compatible API"};
}

/// A failed 200 answer: "200 from HOST: what".
inline attempt_failure failure_in_200(wire_context const& ctx, errc code, failure_kind kind, std::string what,
                                      std::string remote = {}) {
  attempt_failure f;
  f.kind = kind;
  f.status = 200;
  f.error = make_error(code, "200 from " + std::string(ctx.host) + ": " + std::move(what), std::move(remote));
  return f;
}

/// A 200 body as JSON, or its failure: not a JSON object (retryable: a proxy or the provider
/// garbled it), or OpenRouter's error inside a 200 (classified by its code).
inline std::optional<attempt_failure> error_in_200(boost::json::value const& v, wire_context const& ctx);

inline parse_result<boost::json::value> read_200_body(std::string_view body, wire_context const& ctx) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object())
    return failure_in_200(ctx, errc::bad_response, failure_kind::retryable,
                          "the answer is not a JSON object (" + ec.message() + "); a proxy or the provider garbled it",
                          one_line(body, ctx.api_key, 200));
  if (auto f = error_in_200(v, ctx)) return std::move(*f);
  return v;
}

/// OpenRouter's error inside a 200 answer, classified by its code; nothing when there is none.
inline std::optional<attempt_failure> error_in_200(boost::json::value const& v, wire_context const& ctx) {
  if (auto const* err = find(v, "error"); err && !err->is_null()) {
    unsigned code = error_code_number(*err);
    auto d = describe(code ? code : 502, ctx);
    attempt_failure f;
    f.kind = d.kind;
    f.status = code;
    errc e = d.kind == failure_kind::retryable ? errc::provider_error : d.code;
    f.error = make_error(e, "200 from " + std::string(ctx.host) + " carried error " + (code ? std::to_string(code) : "") +
                                ": " + d.what, one_line(remote_from_json(v), ctx.api_key));
    return f;
  }
  return std::nullopt;
}

/// The "usage" object of an answer; total_tokens defaults to prompt + completion.
inline usage read_usage(boost::json::value const& answer) {
  usage out;
  if (auto const* u = find(answer, "usage"); u && u->is_object()) {
    out.prompt_tokens = count_or_zero(find(*u, "prompt_tokens"));
    out.completion_tokens = count_or_zero(find(*u, "completion_tokens"));
    out.total_tokens = count_or_zero(find(*u, "total_tokens"));
    if (!out.total_tokens) out.total_tokens = out.prompt_tokens + out.completion_tokens;
    if (auto const* d = find(*u, "prompt_tokens_details"); d && d->is_object())
      out.cached_tokens = std::min(count_or_zero(find(*d, "cached_tokens")), out.prompt_tokens);
    out.cost = number(find(*u, "cost"));
    if (out.cost && *out.cost < 0) out.cost.reset();
    out.cost_from_server = out.cost.has_value();
  }
  return out;
}

/// The float32 values of an `encoding_format: "base64"` embedding (little-endian, as OpenAI sends
/// them), or why it is not one.
inline boost::system::result<std::vector<float>, std::string> floats_from_base64(std::string_view text) {
  auto sextet = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::vector<unsigned char> bytes;
  bytes.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int x = sextet(c);
    if (x < 0) return std::string("is a string that is not base64");
    acc = (acc << 6) | static_cast<std::uint32_t>(x);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<unsigned char>((acc >> bits) & 0xFF));
    }
  }
  if (bytes.size() % 4 != 0) return "is base64 of " + std::to_string(bytes.size()) + " bytes, not of float32 values";
  std::vector<float> out(bytes.size() / 4);
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto const* b = &bytes[4 * i];
    std::uint32_t u = std::uint32_t(b[0]) | std::uint32_t(b[1]) << 8 | std::uint32_t(b[2]) << 16 | std::uint32_t(b[3]) << 24;
    out[i] = std::bit_cast<float>(u);
    if (!std::isfinite(out[i])) return "has a value that is not a finite number at position " + std::to_string(i);
  }
  return out;
}

/// The values of a JSON list of numbers as floats, or why it is not one (a value that is not a
/// number, not finite, or beyond float's range).
inline boost::system::result<std::vector<float>, std::string> floats_from_list(boost::json::array const& list,
                                                                                std::string_view secret) {
  std::vector<float> out;
  out.reserve(list.size());
  for (auto const& x : list) {
    auto d = autointerp::detail::finite_number(x);
    // Beyond float's range the conversion itself would be undefined: refuse it first.
    if (!d || std::abs(*d) > static_cast<double>(std::numeric_limits<float>::max()))
      return "has a value that is not a finite number at position " + std::to_string(out.size()) + " (" +
             one_line(boost::json::serialize(x), secret, 40) + ")";
    out.push_back(static_cast<float>(*d));
  }
  return out;
}

}  // namespace detail

AUTOINTERP_DECL std::string one_line(std::string_view text, std::string_view secret, std::size_t max) {
  std::string s(text);
  if (secret.size() >= 4) {
    for (std::size_t at = s.find(secret); at != std::string::npos; at = s.find(secret, at + 10))
      s.replace(at, secret.size(), "[redacted]");
  }
  for (char& ch : s)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = ' ';
  if (s.size() > max) {
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not mid-character
    s.resize(cut);
    s += "...";
  }
  return s;
}

AUTOINTERP_DECL std::string remote_text(std::string_view body, std::string_view api_key) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  std::string text = ec ? std::string() : detail::remote_from_json(v);
  if (text.empty()) text = std::string(body);
  return one_line(text, api_key);
}

AUTOINTERP_DECL std::string serialize_request(chat_request const& r) {
  boost::json::object o;
  o["model"] = r.model;
  boost::json::array msgs;
  msgs.reserve(r.messages.size());
  for (auto const& m : r.messages) msgs.push_back(boost::json::object{{"role", m.role}, {"content", m.content}});
  o["messages"] = std::move(msgs);
  if (r.max_tokens) o["max_tokens"] = *r.max_tokens;
  if (r.temperature) o["temperature"] = *r.temperature;
  if (r.top_p) o["top_p"] = *r.top_p;
  if (r.logprobs) {
    o["logprobs"] = true;
    if (r.top_logprobs) o["top_logprobs"] = r.top_logprobs;
  }
  o["stream"] = false;
  for (auto const& kv : r.extra) o[kv.key()] = kv.value();
  return boost::json::serialize(o);
}

AUTOINTERP_DECL std::string serialize_request(embedding_request const& r) {
  boost::json::object o;
  o["model"] = r.model;
  boost::json::array input;
  input.reserve(r.input.size());
  for (auto const& text : r.input) input.emplace_back(text);
  o["input"] = std::move(input);
  o["encoding_format"] = "float";
  if (r.dimensions) o["dimensions"] = *r.dimensions;
  return boost::json::serialize(o);
}

AUTOINTERP_DECL attempt_failure classify_status(unsigned status, std::string_view body, wire_context const& ctx,
                                                std::optional<std::chrono::milliseconds> server_delay) {
  auto d = detail::describe(status, ctx);
  attempt_failure f;
  f.kind = d.kind;
  f.status = status;
  f.server_delay = server_delay;
  f.error = make_error(d.code, std::to_string(status) + " from " + std::string(ctx.host) + ": " + d.what,
                       remote_text(body, ctx.api_key));
  return f;
}

namespace detail {
/// A chat answer already parsed as JSON (and free of an error) read into a `chat_response`.
/// `body` is its text for messages; empty, the value is serialized when a message needs it.
inline parse_outcome chat_from_json(boost::json::value const& v, std::string_view body, wire_context const& ctx);
}  // namespace detail

AUTOINTERP_DECL parse_outcome parse_chat_response(std::string_view body, wire_context const& ctx) {
  auto read = detail::read_200_body(body, ctx);
  if (!read) return read.error();
  return detail::chat_from_json(*read, body, ctx);
}

AUTOINTERP_DECL parse_outcome parse_chat_answer(boost::json::value const& answer, wire_context const& ctx) {
  if (!answer.is_object())
    return detail::failure_in_200(ctx, errc::bad_response, failure_kind::retryable,
                                  "the answer is not a JSON object; a proxy or the provider garbled it",
                                  one_line(boost::json::serialize(answer), ctx.api_key, 200));
  if (auto f = detail::error_in_200(answer, ctx)) return std::move(*f);
  return detail::chat_from_json(answer, {}, ctx);
}

inline parse_outcome detail::chat_from_json(boost::json::value const& v, std::string_view body, wire_context const& ctx) {
  auto fail = [&](errc code, failure_kind kind, std::string what, std::string remote = {}) {
    return detail::failure_in_200(ctx, code, kind, std::move(what), std::move(remote));
  };
  auto const* choices = detail::find(v, "choices");
  if (!choices || !choices->is_array() || choices->get_array().empty())
    return fail(errc::bad_response, failure_kind::retryable, "the answer has no choices; the provider sent an empty completion",
                one_line(body.empty() ? std::string_view(boost::json::serialize(v)) : body, ctx.api_key, 200));
  auto const& choice = choices->get_array().front();
  if (auto const* err = detail::find(choice, "error"); err && !err->is_null()) {
    // OpenRouter: the model failed mid-generation; the choice carries the error.
    boost::json::object wrap{{"error", *err}};
    return fail(errc::provider_error, failure_kind::retryable, "the model failed while answering; try again later",
                one_line(detail::remote_from_json(boost::json::value(std::move(wrap))), ctx.api_key));
  }
  chat_response out;
  out.finish_reason = std::string(detail::string_or(detail::find(choice, "finish_reason")));
  auto const* message = detail::find(choice, "message");
  auto const* content = message ? detail::find(*message, "content") : nullptr;
  if (!content || !content->is_string()) {
    std::string why = out.finish_reason == "length" ? "raise max_tokens (a reasoning model may have spent them all)"
                                                    : "the model refused or called a tool; check the prompt or choose another model";
    return fail(errc::bad_response, failure_kind::fatal,
                "the answer has no text (content: null, finish_reason: " +
                    (out.finish_reason.empty() ? std::string("none") : one_line(out.finish_reason, ctx.api_key, 40)) + "); " + why);
  }
  out.text = std::string(content->get_string());
  out.model = std::string(detail::string_or(detail::find(v, "model")));
  out.id = std::string(detail::string_or(detail::find(v, "id")));
  out.usage = detail::read_usage(v);
  if (auto const* lp = detail::find(choice, "logprobs"); lp && lp->is_object()) {
    if (auto const* tokens = detail::find(*lp, "content"); tokens && tokens->is_array()) {
      out.logprobs.reserve(tokens->get_array().size());
      for (auto const& t : tokens->get_array()) {
        token_logprob tl;
        tl.token = std::string(detail::string_or(detail::find(t, "token")));
        tl.logprob = detail::number(detail::find(t, "logprob")).value_or(0);
        if (auto const* top = detail::find(t, "top_logprobs"); top && top->is_array())
          for (auto const& alt : top->get_array())
            tl.top.push_back({std::string(detail::string_or(detail::find(alt, "token"))),
                              detail::number(detail::find(alt, "logprob")).value_or(0)});
        out.logprobs.push_back(std::move(tl));
      }
    }
  }
  return out;
}

AUTOINTERP_DECL parse_result<embedding_response> parse_embedding_response(std::string_view body,
                                                                         embedding_request const& request,
                                                                         wire_context const& ctx) {
  auto read = detail::read_200_body(body, ctx);
  if (!read) return read.error();
  boost::json::value const& v = *read;
  auto bad = [&](std::string what) {
    return detail::failure_in_200(ctx, errc::bad_response, failure_kind::fatal, "the embeddings answer " + std::move(what));
  };
  auto const n = request.input.size();
  auto const* data = detail::find(v, "data");
  if (!data || !data->is_array())
    return bad("has no \"data\" list; check that the base URL serves OpenAI's /embeddings and that '" +
               std::string(ctx.model) + "' is an embedding model");
  auto const& items = data->get_array();
  if (items.size() != n)
    return bad("has " + std::to_string(items.size()) + " vectors for " + std::to_string(n) + " inputs");
  embedding_response out;
  out.embeddings.resize(n);
  std::vector<bool> seen(n, false);
  for (std::size_t i = 0; i < n; ++i) {
    auto const& item = items[i];
    std::size_t at = i;  // without an index, the list's order
    if (auto const* index = detail::find(item, "index"); index && !index->is_null()) {
      auto k = autointerp::detail::finite_number(*index);
      if (!k || *k < 0 || *k >= static_cast<double>(n) || *k != std::floor(*k))
        return bad("gives item " + std::to_string(i) + " the index " + one_line(boost::json::serialize(*index), ctx.api_key, 40) +
                   ", not one of 0.." + std::to_string(n - 1));
      at = static_cast<std::size_t>(*k);
    }
    if (seen[at]) return bad("has two vectors with index " + std::to_string(at));
    seen[at] = true;
    auto const* e = detail::find(item, "embedding");
    auto values = e && e->is_array()    ? detail::floats_from_list(e->get_array(), ctx.api_key)
                  : e && e->is_string() ? detail::floats_from_base64(e->get_string())
                                        : boost::system::result<std::vector<float>, std::string>(
                                              std::string("is missing (no list of numbers in \"embedding\")"));
    if (!values) return bad("vector for input " + std::to_string(at) + " " + values.error());
    out.embeddings[at] = std::move(*values);
  }
  if (n > 0) {
    auto const length = out.embeddings[0].size();
    if (length == 0) return bad("vector for input 0 is empty");
    for (std::size_t k = 1; k < n; ++k)
      if (out.embeddings[k].size() != length)
        return bad("has vectors of different lengths: " + std::to_string(length) + " values for input 0, " +
                   std::to_string(out.embeddings[k].size()) + " for input " + std::to_string(k));
    if (request.dimensions && length != *request.dimensions)
      return bad("has " + std::to_string(length) + " values per vector where " + std::to_string(*request.dimensions) +
                 " dimensions were asked for; the model or server ignores `dimensions`: leave it unset");
  }
  out.model = std::string(detail::string_or(detail::find(v, "model")));
  out.usage = detail::read_usage(v);
  return out;
}

}  // namespace autointerp::llm
