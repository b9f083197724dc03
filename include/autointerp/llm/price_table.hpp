#pragma once
// What tokens cost: prices in USD per million tokens, for one model or per model, and the cost of a
// call's usage under them. Used when the server does not report `usage.cost` itself.

#include <autointerp/detail/json_number.hpp>
#include <autointerp/error.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace autointerp::llm {

/// Prices of one model in USD per million tokens. The cached price is what a prompt token read
/// from the provider's prompt cache costs; unset, it is the prompt price.
struct token_prices {
  double prompt = 0;
  double completion = 0;
  std::optional<double> cached;

  double cached_price() const noexcept { return cached ? *cached : prompt; }

  /// USD for `prompt_tokens` (of which `cached_tokens` came from the cache) and `completion_tokens`:
  /// ((prompt - cached) x prompt price + cached x cached price + completion x completion price) / 1e6.
  double cost(std::uint64_t prompt_tokens, std::uint64_t cached_tokens, std::uint64_t completion_tokens) const noexcept {
    auto const cached_n = cached_tokens < prompt_tokens ? cached_tokens : prompt_tokens;
    return (static_cast<double>(prompt_tokens - cached_n) * prompt + static_cast<double>(cached_n) * cached_price() +
            static_cast<double>(completion_tokens) * completion) /
           1e6;
  }
};

/// Prices per model, with an optional fallback for models not listed.
struct price_table {
  std::map<std::string, token_prices, std::less<>> by_model;
  std::optional<token_prices> fallback;  ///< `--price`, or the file's "*" entry

  bool empty() const noexcept { return by_model.empty() && !fallback; }
  /// The prices of `model`, or the fallback, or null.
  token_prices const* find(std::string_view model) const noexcept {
    if (auto it = by_model.find(model); it != by_model.end()) return &it->second;
    return fallback ? &*fallback : nullptr;
  }
};

namespace detail {
inline std::optional<double> price_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string s(text);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v) || v < 0) return std::nullopt;
  return v;
}
}  // namespace detail

/// Parses `--price prompt=0.15,completion=0.60,cached=0.075` (USD per million tokens; `cached` is
/// optional and defaults to the prompt price). `flag` names the setting in errors.
/// Errors: `errc::bad_option` naming the part that is wrong.
inline result<token_prices> parse_price_spec(std::string_view spec, std::string_view flag = "--price") {
  token_prices p;
  bool have_prompt = false, have_completion = false;
  auto bad = [&](std::string const& why) {
    return make_error(errc::bad_option, std::string(flag) + " '" + std::string(spec) + "': " + why +
                                            "; write prompt=USD,completion=USD[,cached=USD] per million tokens");
  };
  std::size_t start = 0;
  while (start <= spec.size()) {
    auto comma = spec.find(',', start);
    if (comma == std::string_view::npos) comma = spec.size();
    auto part = spec.substr(start, comma - start);
    start = comma + 1;
    if (part.empty()) continue;
    auto eq = part.find('=');
    if (eq == std::string_view::npos) return bad("'" + std::string(part) + "' has no '='");
    auto key = part.substr(0, eq);
    auto value = detail::price_number(part.substr(eq + 1));
    if (!value) return bad("'" + std::string(part.substr(eq + 1)) + "' is not a price (a number >= 0)");
    if (key == "prompt") p.prompt = *value, have_prompt = true;
    else if (key == "completion") p.completion = *value, have_completion = true;
    else if (key == "cached") p.cached = *value;
    else return bad("unknown key '" + std::string(key) + "'");
  }
  if (!have_prompt || !have_completion) return bad("both prompt and completion prices are needed");
  return p;
}

/// Parses a prices file: a JSON object mapping model names to `{"prompt": USD, "completion": USD,
/// "cached": USD}` per million tokens (`cached` optional); the key "*" is the fallback for models not
/// listed. `name` names the file in errors. Errors: `errc::bad_option`.
inline result<price_table> parse_price_file(std::string_view text, std::string const& name) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  auto bad = [&](std::string const& why) {
    return make_error(errc::bad_option, "--prices " + name + ": " + why +
                                            "; write {\"MODEL\": {\"prompt\": USD, \"completion\": USD, \"cached\": USD}} "
                                            "per million tokens");
  };
  if (ec) return bad("not JSON (" + ec.message() + ")");
  if (!v.is_object()) return bad("not a JSON object");
  price_table table;
  for (auto const& [model, entry] : v.get_object()) {
    std::string m(model);
    if (!entry.is_object()) return bad("the entry of '" + m + "' is not an object");
    auto const& o = entry.get_object();
    auto read = [&](char const* key) -> std::optional<double> {
      auto const* x = o.if_contains(key);
      if (!x) return std::nullopt;
      auto n = autointerp::detail::finite_number(*x);
      if (!n || *n < 0) return -1.0;
      return *n;
    };
    auto prompt = read("prompt"), completion = read("completion"), cached = read("cached");
    if (!prompt || !completion) return bad("'" + m + "' needs both \"prompt\" and \"completion\"");
    if (*prompt < 0 || *completion < 0 || (cached && *cached < 0)) return bad("a price of '" + m + "' is not a number >= 0");
    token_prices p{*prompt, *completion, cached};
    if (m == "*") table.fallback = p;
    else table.by_model.emplace(std::move(m), p);
  }
  return table;
}

/// Reads and parses a prices file (see `parse_price_file`). Errors: `errc::bad_option` (also when
/// the file cannot be read).
inline result<price_table> load_price_file(std::string const& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(errc::bad_option, "--prices " + path + ": cannot read the file; check the path");
  std::ostringstream s;
  s << in.rdbuf();
  return parse_price_file(s.str(), path);
}

}  // namespace autointerp::llm
