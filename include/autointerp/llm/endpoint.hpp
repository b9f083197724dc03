#pragma once
// Where chat requests go: a base URL, an API key and the provider presets.

#include <autointerp/error.hpp>

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autointerp::llm {

/// A base URL split into the parts a connection needs.
struct url_parts {
  bool tls = false;        ///< https
  std::string host;        ///< without IPv6 brackets
  std::uint16_t port = 0;  ///< explicit or the scheme's default
  std::string path;        ///< base path without a trailing slash, e.g. "/api/v1"; may be empty
  bool default_port = true;

  /// host[:port] as the Host header and CONNECT want it.
  std::string authority() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return default_port ? h : h + ":" + std::to_string(port);
  }
};

/// Parses "http[s]://host[:port][/path]". Errors: `errc::bad_url` naming `what` (the setting).
inline result<url_parts> parse_url(std::string_view url, std::string_view what = "base URL") {
  auto bad = [&](std::string_view why) {
    return make_error(errc::bad_url, std::string(what) + " '" + std::string(url) + "' " + std::string(why) +
                                         "; write it as http[s]://host[:port][/path]");
  };
  url_parts u;
  std::string_view rest;
  if (url.substr(0, 8) == "https://") {
    u.tls = true, u.port = 443, rest = url.substr(8);
  } else if (url.substr(0, 7) == "http://") {
    u.port = 80, rest = url.substr(7);
  } else {
    return bad("has no http:// or https:// scheme");
  }
  auto slash = rest.find_first_of("/?#");
  std::string_view auth = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (auto at = auth.rfind('@'); at != std::string_view::npos) auth = auth.substr(at + 1);  // user info
  std::string_view port;
  if (!auth.empty() && auth.front() == '[') {
    auto close = auth.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed IPv6 bracket");
    u.host = std::string(auth.substr(1, close - 1));
    auto after = auth.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("has junk after the IPv6 address");
      port = after.substr(1);
    }
  } else {
    auto colon = auth.find(':');
    u.host = std::string(auth.substr(0, colon));
    if (colon != std::string_view::npos) port = auth.substr(colon + 1);
  }
  if (u.host.empty()) return bad("has no host");
  if (!port.empty()) {
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc{} || ptr != port.data() + port.size() || p == 0 || p > 65535)
      return bad("has an invalid port");
    u.default_port = p == (u.tls ? 443u : 80u);
    u.port = static_cast<std::uint16_t>(p);
  }
  if (auto q = path.find_first_of("?#"); q != std::string_view::npos) path = path.substr(0, q);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  u.path = std::string(path);
  return u;
}

/// An OpenAI-compatible server and how to authenticate to it.
///
/// The key is sent as `Authorization: Bearer <key>` and never appears in messages, logs or files;
/// text a server sends back is scrubbed of it too.
struct endpoint {
  std::string name = "local";  ///< preset name, for messages
  std::string base_url;        ///< e.g. "https://openrouter.ai/api/v1"; "/chat/completions" is appended
  std::string api_key;         ///< empty: no Authorization header
  std::string key_env;         ///< the environment variable the key belongs in, for fix hints
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra request headers
};

namespace detail {
inline std::string getenv_string(char const* name) {
  char const* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}
}  // namespace detail

/// OpenRouter: base https://openrouter.ai/api/v1, key from OPENROUTER_API_KEY. `app_url` and
/// `app_title` become OpenRouter's optional attribution headers (HTTP-Referer, X-Title).
/// Errors: `errc::missing_api_key` when the variable is unset or empty. Reads the environment, so
/// do not call it while another thread changes the environment.
inline result<endpoint> openrouter(std::string app_url = {}, std::string app_title = {}) {
  endpoint e{"openrouter", "https://openrouter.ai/api/v1", detail::getenv_string("OPENROUTER_API_KEY"),
             "OPENROUTER_API_KEY", {}};
  if (e.api_key.empty())
    return make_error(errc::missing_api_key,
                      "the openrouter provider needs an API key; set OPENROUTER_API_KEY (https://openrouter.ai/keys)");
  if (!app_url.empty()) e.headers.emplace_back("HTTP-Referer", std::move(app_url));
  if (!app_title.empty()) e.headers.emplace_back("X-Title", std::move(app_title));
  return e;
}

/// OpenAI: key from OPENAI_API_KEY, base from OPENAI_BASE_URL (default https://api.openai.com/v1).
/// Errors: `errc::missing_api_key` when OPENAI_API_KEY is unset or empty.
inline result<endpoint> openai() {
  endpoint e{"openai", detail::getenv_string("OPENAI_BASE_URL"), detail::getenv_string("OPENAI_API_KEY"),
             "OPENAI_API_KEY", {}};
  if (e.base_url.empty()) e.base_url = "https://api.openai.com/v1";
  if (e.api_key.empty())
    return make_error(errc::missing_api_key, "the openai provider needs an API key; set OPENAI_API_KEY");
  return e;
}

/// Any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama's /v1, ...), http or https.
/// The key is optional.
inline endpoint local(std::string base_url, std::string api_key = {}) {
  return endpoint{"local", std::move(base_url), std::move(api_key), {}, {}};
}

/// A preset by name: "openrouter", "openai" or "local" (`base_url` is used by "local" and, when not
/// empty, overrides the others' base). Errors: `errc::bad_option` for an unknown name, and those of
/// the preset.
inline result<endpoint> preset(std::string_view name, std::string base_url = {}) {
  result<endpoint> e = make_error(errc::bad_option, "unknown provider '" + std::string(name) +
                                                        "'; use openrouter, openai or local");
  if (name == "openrouter") e = openrouter();
  else if (name == "openai") e = openai();
  else if (name == "local") {
    if (base_url.empty())
      return make_error(errc::bad_option, "the local provider needs a base URL, e.g. http://127.0.0.1:8000/v1");
    return local(std::move(base_url));
  }
  if (e && !base_url.empty()) e->base_url = std::move(base_url);
  return e;
}

}  // namespace autointerp::llm
