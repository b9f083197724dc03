#pragma once
// Out-of-line parts of non_activating.hpp.

#include <autointerp/detail/json_number.hpp>
#include <autointerp/records/non_activating.hpp>
#include <autointerp/records/python_random.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

namespace autointerp::records {

AUTOINTERP_DECL result<neighbour_table> parse_neighbours(std::string_view json, std::string const& source) {
  auto bad = [&](std::string const& why) {
    return make_error(errc::bad_config, source + ": " + why +
                                            " (expected delphi's neighbour file: {\"<latent>\": [[score, latent], ...]})");
  };
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(json, ec);
  if (ec) return bad("not valid JSON: " + ec.message());
  if (!doc.is_object()) return bad("the top level is not an object");
  neighbour_table table;
  table.reserve(doc.as_object().size());
  auto as_index = [](boost::json::value const& v, std::uint64_t& out) {
    if (v.is_uint64()) out = v.as_uint64();
    else if (v.is_int64() && v.as_int64() >= 0) out = static_cast<std::uint64_t>(v.as_int64());
    else if (v.is_double() && v.as_double() >= 0 && v.as_double() < 4294967296.0 &&
             std::floor(v.as_double()) == v.as_double())
      out = static_cast<std::uint64_t>(v.as_double());
    else return false;
    return out <= 0xffffffffu;
  };
  for (auto const& [key, list] : doc.as_object()) {
    std::uint64_t latent = 0;
    auto [end, err] = std::from_chars(key.data(), key.data() + key.size(), latent);
    if (err != std::errc{} || end != key.data() + key.size() || latent > 0xffffffffu)
      return bad("key \"" + std::string(key) + "\" is not a latent index");
    if (!list.is_array()) return bad("the value of \"" + std::string(key) + "\" is not a list");
    std::vector<neighbour> entries;
    entries.reserve(list.as_array().size());
    for (auto const& item : list.as_array()) {
      if (!item.is_array() || item.as_array().size() != 2)
        return bad("an entry of \"" + std::string(key) + "\" is not a [score, latent] pair");
      auto const& pair = item.as_array();
      auto score = autointerp::detail::finite_number(pair[0]);
      if (!score) return bad("a score of \"" + std::string(key) + "\" is not a finite number");
      std::uint64_t idx = 0;
      if (!as_index(pair[1], idx)) return bad("a neighbour of \"" + std::string(key) + "\" is not a latent index");
      entries.push_back({*score, static_cast<std::uint32_t>(idx)});
    }
    table[static_cast<std::uint32_t>(latent)] = std::move(entries);
  }
  return table;
}

AUTOINTERP_DECL result<neighbour_table> load_neighbours(std::filesystem::path const& file) {
  std::error_code fec;
  if (!std::filesystem::exists(file, fec))
    return make_error(errc::file_not_found, file.string() + ": neighbour file not found (delphi names it "
                                                            "<module>-<type>.json, e.g. layers.3-co-occurrence.json)");
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(errc::unreadable_file, file.string() + ": cannot open the neighbour file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return make_error(errc::unreadable_file, file.string() + ": cannot read the neighbour file");
  return parse_neighbours(text, file.string());
}

namespace detail {
inline non_activating_example window_example(cache::token_matrix const& tokens, std::uint64_t window,
                                             std::uint32_t len, float distance) {
  non_activating_example ex;
  auto begin = tokens.ids.begin() + static_cast<std::ptrdiff_t>(window * len);
  ex.tokens.assign(begin, begin + len);
  ex.distance = distance;
  return ex;
}
}  // namespace detail

AUTOINTERP_DECL std::vector<non_activating_example> random_non_activating(cache::token_matrix const& tokens,
                                                                          window_mask const& active,
                                                                          std::uint32_t example_ctx_len,
                                                                          std::uint32_t n, std::uint64_t seed) {
  std::vector<non_activating_example> out;
  std::uint64_t const silent = active.size() - active.count();
  if (n == 0 || example_ctx_len == 0 || silent < n) return out;
  if (active.size() * example_ctx_len > tokens.ids.size()) return out;
  python_random rng(seed);
  auto const index = active.clear_index();
  out.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint64_t k = rng.randbelow(silent);
    out.push_back(detail::window_example(tokens, active.nth_clear(k, index), example_ctx_len, -1.0f));
  }
  return out;
}

AUTOINTERP_DECL std::vector<non_activating_example> neighbour_non_activating(
    cache::token_matrix const& tokens, window_mask const& active, std::uint32_t example_ctx_len, std::uint32_t n,
    std::span<neighbour_activity const> neighbours, std::uint64_t seed) {
  std::vector<non_activating_example> out;
  if (n == 0 || example_ctx_len == 0 || tokens.ctx == 0) return out;
  std::uint64_t const len = example_ctx_len, ctx = tokens.ctx;
  if (active.size() * len > tokens.ids.size()) return out;
  for (auto const& nb : neighbours) {
    if (out.size() >= n) break;
    if (!nb.activity) continue;
    auto const& a = *nb.activity;
    std::size_t const count = std::min({a.rows.size(), a.positions.size(), a.values.size()});
    // Maxima of the neighbour's windows where this latent is silent, in matrix order of first
    // appearance (delphi's unique_consecutive over the neighbour's sorted activations).
    std::vector<std::pair<std::uint64_t, float>> windows;  // (window, max)
    for (std::size_t i = 0; i < count; ++i) {
      if (a.rows[i] >= tokens.rows || a.positions[i] >= ctx) continue;
      std::uint64_t win = (a.rows[i] * ctx + a.positions[i]) / len;
      if (win >= active.size() || active.test(win)) continue;
      float v = a.values[i];
      if (windows.empty() || windows.back().first != win) windows.push_back({win, v});
      else if (std::isnan(v) || (!std::isnan(windows.back().second) && v > windows.back().second))
        windows.back().second = v;
    }
    if (windows.empty()) continue;
    std::vector<std::pair<float, std::uint32_t>> keyed(windows.size());
    for (std::size_t i = 0; i < windows.size(); ++i) keyed[i] = {windows[i].second, static_cast<std::uint32_t>(i)};
    std::sort(keyed.begin(), keyed.end(), [](auto const& x, auto const& y) {
      return (std::isnan(x.first) && !std::isnan(y.first)) || x.first > y.first;
    });
    std::size_t take = std::min(keyed.size(), max_windows_per_neighbour);
    for (std::size_t i = 0; i < take; ++i)
      out.push_back(detail::window_example(tokens, windows[keyed[i].second].first, example_ctx_len,
                                           static_cast<float>(-nb.distance)));
  }
  if (out.empty()) return random_non_activating(tokens, active, example_ctx_len, n, seed);
  return out;
}

}  // namespace autointerp::records
