#pragma once

#include <autointerp/explain/highlight.hpp>

#include <algorithm>
#include <cmath>

namespace autointerp::explain {

AUTOINTERP_DECL std::string token_text(std::span<std::uint32_t const> ids, std::vector<std::string> const& strings,
                                       std::size_t i) {
  if (strings.size() == ids.size() && i < strings.size()) return strings[i];
  if (i < ids.size()) return "[#" + std::to_string(ids[i]) + "]";
  return {};
}

AUTOINTERP_DECL std::vector<bool> active_mask(std::span<float const> activations, float threshold) {
  // NaN and negative thresholds behave like 0; 1 or more would hide every token, so cap just below.
  if (!(threshold > 0.f)) threshold = 0.f;
  if (threshold >= 1.f) threshold = 0.999f;
  float max = 0.f;
  for (float a : activations)
    if (a > max) max = a;  // NaN compares false and never becomes the maximum
  std::vector<bool> mask(activations.size(), false);
  if (!(max > 0.f) || std::isinf(max)) {
    if (std::isinf(max))
      for (std::size_t i = 0; i < activations.size(); ++i) mask[i] = std::isinf(activations[i]) && activations[i] > 0;
    return mask;
  }
  float const cut = threshold * max;
  for (std::size_t i = 0; i < activations.size(); ++i) mask[i] = activations[i] > cut && activations[i] > 0.f;
  return mask;
}

AUTOINTERP_DECL std::string highlight(records::activating_example const& example, float threshold) {
  std::size_t const n = example.tokens.size();
  std::size_t const m = std::min(n, example.activations.size());
  auto mask = active_mask(std::span<float const>(example.activations.data(), m), threshold);
  std::string out;
  bool open = false;
  for (std::size_t i = 0; i < n; ++i) {
    bool const on = i < m && mask[i];
    if (on && !open) out += "<<";
    if (!on && open) out += ">>";
    open = on;
    out += token_text(example.tokens, example.str_tokens, i);
  }
  if (open) out += ">>";
  return out;
}

AUTOINTERP_DECL std::string levels_list(records::activating_example const& example, float threshold) {
  std::size_t const n = example.tokens.size();
  std::size_t const m = std::min(n, example.activations.size());
  std::span<float const> acts(example.activations.data(), m);
  auto mask = active_mask(acts, threshold);
  float max = 0.f;
  for (float a : acts)
    if (a > max) max = a;
  bool const have_levels = example.levels.size() == n;
  std::string out;
  for (std::size_t i = 0; i < m; ++i) {
    if (!mask[i]) continue;
    int level = 0;
    if (have_levels) {
      level = std::min<int>(example.levels[i], 10);
    } else if (max > 0.f && std::isfinite(max)) {
      level = static_cast<int>(std::clamp(std::ceil(10.0 * acts[i] / max), 0.0, 10.0));
    }
    if (!out.empty()) out += ", ";
    out += '"';
    out += token_text(example.tokens, example.str_tokens, i);
    out += "\" (" + std::to_string(level) + ")";
  }
  return out;
}

AUTOINTERP_DECL std::string plain_text(records::non_activating_example const& example) {
  std::string out;
  for (std::size_t i = 0; i < example.tokens.size(); ++i) out += token_text(example.tokens, example.str_tokens, i);
  return out;
}

}  // namespace autointerp::explain
