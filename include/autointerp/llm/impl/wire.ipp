#pragma once
// Out-of-line parts of autointerp/llm/wire.hpp.

#include <autointerp/detail/json_number.hpp>
#include <autointerp/llm/wire.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <string>

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

AUTOINTERP_DECL parse_outcome parse_chat_response(std::string_view body, wire_context const& ctx) {
  auto fail = [&](errc code, failure_kind kind, std::string what, std::string remote = {}) {
    attempt_failure f;
    f.kind = kind;
    f.status = 200;
    f.error = make_error(code, "200 from " + std::string(ctx.host) + ": " + std::move(what), std::move(remote));
    return f;
  };
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object())
    return fail(errc::bad_response, failure_kind::retryable,
                "the answer is not a JSON object (" + ec.message() + "); a proxy or the provider garbled it",
                one_line(body, ctx.api_key, 200));
  if (auto const* err = detail::find(v, "error"); err && !err->is_null()) {
    unsigned code = detail::error_code_number(*err);
    auto d = detail::describe(code ? code : 502, ctx);
    attempt_failure f;
    f.kind = d.kind;
    f.status = code;
    errc e = d.kind == failure_kind::retryable ? errc::provider_error : d.code;
    f.error = make_error(e, "200 from " + std::string(ctx.host) + " carried error " + (code ? std::to_string(code) : "") +
                                ": " + d.what, one_line(detail::remote_from_json(v), ctx.api_key));
    return f;
  }
  auto const* choices = detail::find(v, "choices");
  if (!choices || !choices->is_array() || choices->get_array().empty())
    return fail(errc::bad_response, failure_kind::retryable, "the answer has no choices; the provider sent an empty completion",
                one_line(body, ctx.api_key, 200));
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
  if (auto const* u = detail::find(v, "usage"); u && u->is_object()) {
    out.usage.prompt_tokens = detail::count_or_zero(detail::find(*u, "prompt_tokens"));
    out.usage.completion_tokens = detail::count_or_zero(detail::find(*u, "completion_tokens"));
    out.usage.total_tokens = detail::count_or_zero(detail::find(*u, "total_tokens"));
    if (!out.usage.total_tokens) out.usage.total_tokens = out.usage.prompt_tokens + out.usage.completion_tokens;
    out.usage.cost = detail::number(detail::find(*u, "cost"));
  }
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

}  // namespace autointerp::llm
