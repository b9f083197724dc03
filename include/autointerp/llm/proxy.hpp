#pragma once
// Which proxy, if any, a connection goes through: HTTPS_PROXY / NO_PROXY semantics.

#include <autointerp/llm/endpoint.hpp>

#include <cctype>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace autointerp::llm {

/// Proxy settings. `url` empty = no proxy. The proxy is reached with plain HTTP and asked to open a
/// tunnel with CONNECT; user:password in its URL becomes Proxy-Authorization (Basic).
struct proxy_settings {
  std::string url;       ///< e.g. "http://proxy.internal:3128"
  std::string no_proxy;  ///< comma-separated hosts or domain suffixes that bypass the proxy; "*" = all
};

/// The settings the environment asks for: HTTPS_PROXY (or https_proxy) for https endpoints,
/// HTTP_PROXY (or http_proxy) for http ones, and NO_PROXY (or no_proxy). Reads the environment.
inline proxy_settings proxy_from_environment(bool tls) {
  auto get = [](char const* a, char const* b) {
    char const* v = std::getenv(a);
    if (!v || !*v) v = std::getenv(b);
    return v ? std::string(v) : std::string();
  };
  return {tls ? get("HTTPS_PROXY", "https_proxy") : get("HTTP_PROXY", "http_proxy"), get("NO_PROXY", "no_proxy")};
}

/// True when `host` matches the NO_PROXY list: "*", an exact host, or a domain suffix ("example.com"
/// and ".example.com" both cover "api.example.com"). Entries may carry a port, which is ignored.
/// Case-insensitive.
inline bool bypasses_proxy(std::string_view host, std::string_view no_proxy) noexcept {
  auto lower_eq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    return true;
  };
  while (!no_proxy.empty()) {
    auto comma = no_proxy.find(',');
    std::string_view e = no_proxy.substr(0, comma);
    no_proxy = comma == std::string_view::npos ? std::string_view{} : no_proxy.substr(comma + 1);
    while (!e.empty() && std::isspace(static_cast<unsigned char>(e.front()))) e.remove_prefix(1);
    while (!e.empty() && std::isspace(static_cast<unsigned char>(e.back()))) e.remove_suffix(1);
    if (e == "*") return true;
    if (!e.empty() && e.front() != '[') {
      auto colon = e.rfind(':');
      if (colon != std::string_view::npos && e.find(':') == colon) e = e.substr(0, colon);  // host:port
    } else if (!e.empty()) {
      auto close = e.find(']');
      e = close == std::string_view::npos ? e.substr(1) : e.substr(1, close - 1);
    }
    while (!e.empty() && e.front() == '.') e.remove_prefix(1);
    if (e.empty()) continue;
    if (lower_eq(host, e)) return true;
    if (host.size() > e.size() && host[host.size() - e.size() - 1] == '.' &&
        lower_eq(host.substr(host.size() - e.size()), e))
      return true;
  }
  return false;
}

/// The proxy to use for `target`, if any. Errors: `errc::bad_url` when the proxy URL is not valid.
inline result<std::optional<url_parts>> select_proxy(url_parts const& target, proxy_settings const& p) {
  if (p.url.empty() || bypasses_proxy(target.host, p.no_proxy)) return std::optional<url_parts>{};
  std::string u = p.url;
  if (u.find("://") == std::string::npos) u = "http://" + u;  // "host:port" is common in the wild
  auto parsed = parse_url(u, "proxy URL");
  if (!parsed) return parsed.error();
  if (parsed->tls)
    return make_error(errc::bad_url, "proxy URL '" + p.url + "' uses https; only http:// proxies (CONNECT) are supported");
  return std::optional<url_parts>(std::move(*parsed));
}

/// The user:password part of a proxy URL, percent-decoded; empty when there is none.
inline std::string proxy_credentials(std::string_view proxy_url) {
  auto scheme = proxy_url.find("://");
  if (scheme != std::string_view::npos) proxy_url = proxy_url.substr(scheme + 3);
  auto end = proxy_url.find_first_of("/?#");
  auto auth = proxy_url.substr(0, end);
  auto at = auth.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string out;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < at; ++i) {
    if (auth[i] == '%' && i + 2 < at && hex(auth[i + 1]) >= 0 && hex(auth[i + 2]) >= 0) {
      out += static_cast<char>(hex(auth[i + 1]) * 16 + hex(auth[i + 2]));
      i += 2;
    } else {
      out += auth[i];
    }
  }
  return out;
}

}  // namespace autointerp::llm
