// Fuzzes the chat completion and embeddings body parsers (`parse_chat_response`,
// `parse_embedding_response`), the error-body reader behind `classify_status` and `remote_text`,
// and `one_line`. Invariants: nothing throws; a failure has our message and a server text that is
// one line, bounded, never contains the API key and is well-formed UTF-8 when the body is; a chat
// success carries exactly the first choice's content; an embeddings success has one vector per
// input, all of one length (the `dimensions` asked for, when asked), every value finite.
#include <autointerp/llm/wire.hpp>
#include <autointerp/tokenizer/detail/utf8.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace llm = autointerp::llm;
using autointerp::errc;
using autointerp::tokenizer::detail::is_valid_utf8;

constexpr std::string_view key = "sk-or-v1-0123456789abcdef";

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool one_line_text(std::string_view s, std::size_t max) {
  if (s.size() > max + 3) return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return s.find(key) == std::string_view::npos;
}

void check_failure(autointerp::error const& e, bool utf8_body) {
  check(!e.message.empty() && e.message.find(key) == std::string::npos);
  check(one_line_text(e.remote, 400));
  if (utf8_body) check(is_valid_utf8(e.remote));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string_view const body(reinterpret_cast<char const*>(data), size);
  bool const utf8_body = is_valid_utf8(body);
  llm::wire_context const ctx{.provider = "openrouter", .host = "openrouter.ai",
                              .base_url = "https://openrouter.ai/api/v1", .key_env = "OPENROUTER_API_KEY",
                              .api_key = key, .model = "openai/gpt-4o-mini"};

  auto out = llm::parse_chat_response(body, ctx);
  if (out) {
    // Only a JSON object whose first choice has string content, and no `error`, is a success.
    boost::system::error_code ec;
    boost::json::value const v = boost::json::parse(body, ec);
    check(!ec && v.is_object());
    auto const* err = v.as_object().if_contains("error");
    check(!err || err->is_null());
    auto const& choice = v.at("choices").as_array().at(0);
    check(out->text == choice.at("message").at("content").as_string());
    if (auto const* lp = choice.as_object().if_contains("logprobs"); lp && lp->is_object()) {
      auto const* content = lp->as_object().if_contains("content");
      if (content && content->is_array()) check(out->logprobs.size() == content->as_array().size());
    } else {
      check(out->logprobs.empty());
    }
  } else {
    auto const& f = out.error();
    check_failure(f.error, utf8_body);
    check(f.status == 0 || f.status == 200 || (f.status >= 100 && f.status <= 599));
    if (f.error == errc::provider_error) check(f.kind == llm::failure_kind::retryable);
  }

  for (std::size_t n : {std::size_t{1}, std::size_t{3}}) {
    llm::embedding_request req;
    req.model = "text-embedding-3-small";
    req.input.assign(n, "some text");
    if (n == 3) req.dimensions = 2;
    auto em = llm::parse_embedding_response(body, req, ctx);
    if (em) {
      check(em->embeddings.size() == n);
      auto const length = em->embeddings[0].size();
      check(length > 0 && (!req.dimensions || length == *req.dimensions));
      for (auto const& v : em->embeddings) {
        check(v.size() == length);
        for (float x : v) check(std::isfinite(x));
      }
    } else {
      auto const& f = em.error();
      check_failure(f.error, utf8_body);
      check(f.error.message.find('\n') == std::string::npos);
      if (f.error == errc::provider_error) check(f.kind == llm::failure_kind::retryable);
    }
  }

  for (unsigned status : {401u, 429u, 503u}) {
    auto f = llm::classify_status(status, body, ctx);
    check(f.status == status);
    check_failure(f.error, utf8_body);
  }
  auto const remote = llm::remote_text(body, key);
  check(one_line_text(remote, 400));
  if (utf8_body) check(is_valid_utf8(remote));
  for (std::size_t max : {std::size_t{0}, std::size_t{7}, std::size_t{64}}) {
    auto const line = llm::one_line(body, key, max);
    check(one_line_text(line, max));
    if (utf8_body) check(is_valid_utf8(line));
  }
  return 0;
}
