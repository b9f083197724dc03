#pragma once
// The fuzz scorer's highlights: which tokens go between << and >>, right or wrong, and how they show.

#include <autointerp/records/latent_record.hpp>
#include <autointerp/records/python_random.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace autointerp::score {

/// The tokens an activating example highlights: activation >= `threshold` x the example's
/// maximum, and above zero (delphi's rule; note `>=`, where the explainer's highlighting uses `>`).
/// An example whose maximum is not positive highlights nothing. Ascending indices. Pure.
inline std::vector<std::uint32_t> activating_highlights(std::span<float const> activations, float threshold) {
  float max = 0.f;
  for (float a : activations)
    if (a > max) max = a;  // NaN never becomes the maximum
  std::vector<std::uint32_t> out;
  if (!(max > 0.f)) return out;
  float const cut = threshold * max;
  for (std::size_t i = 0; i < activations.size(); ++i)
    if (activations[i] > 0.f && activations[i] >= cut) out.push_back(static_cast<std::uint32_t>(i));
  return out;
}

/// How many tokens a wrong fuzz example highlights: the mean number of nonzero activations per
/// activating test example, rounded up (delphi counts nonzero tokens, not tokens above the
/// threshold). At least 1, so a record whose test set is empty or silent still shows a highlight
/// (delphi asserts on an empty test set). Pure.
inline std::size_t wrong_highlight_count(std::span<records::activating_example const> test) {
  if (test.empty()) return 1;
  std::size_t nonzero = 0;
  for (auto const& ex : test)
    for (float a : ex.activations)
      if (a != 0.f) ++nonzero;
  std::size_t const n = test.size();
  return std::max<std::size_t>(1, (nonzero + n - 1) / n);
}

/// The tokens a wrong fuzz example highlights, exactly as delphi picks them: the eligible tokens are
/// those whose activation is <= `threshold` x the example's maximum (every token of a window without
/// activations; `activations` may be shorter than `n_tokens`, missing values count as 0). Of them
/// `min(count, eligible)` are chosen. When position `n_tokens - n_tokens / 4` is eligible it is always
/// one of them (where a planted or typical firing sits in delphi's windows) and the others are
/// `random.sample(rest, k - 1)`; otherwise `random.sample(eligible, k)`, with a CPython generator
/// freshly seeded with `seed` (delphi reseeds with 22 before every example). Ascending indices.
///
/// Unlike delphi, a window with exactly one eligible token highlights it (delphi's tensor squeeze
/// turns that case into its placeholder sentence), and one without any highlights nothing. Pure.
inline std::vector<std::uint32_t> wrong_highlights(std::span<float const> activations, std::size_t n_tokens,
                                                   std::size_t count, float threshold, std::uint64_t seed) {
  float max = 0.f;
  for (std::size_t i = 0; i < activations.size() && i < n_tokens; ++i)
    if (activations[i] > max) max = activations[i];
  // delphi's max_activation of a window without activations is 0, which makes every token eligible.
  float const cut = threshold * max;
  std::vector<std::uint32_t> eligible;
  for (std::size_t i = 0; i < n_tokens; ++i) {
    float const a = i < activations.size() ? activations[i] : 0.f;
    if (a <= cut) eligible.push_back(static_cast<std::uint32_t>(i));
  }
  std::size_t const k = std::min(count, eligible.size());
  std::vector<std::uint32_t> picks;
  if (k == 0) return picks;
  records::python_random rng(seed);
  auto const pos = static_cast<std::uint32_t>(n_tokens - n_tokens / 4);
  auto const at = std::find(eligible.begin(), eligible.end(), pos);
  if (at != eligible.end()) {
    picks.push_back(pos);
    eligible.erase(at);  // Python's list.remove keeps the order of the others
    if (k > 1)
      for (std::size_t j : rng.sample_indices(eligible.size(), k - 1)) picks.push_back(eligible[j]);
  } else {
    for (std::size_t j : rng.sample_indices(eligible.size(), k)) picks.push_back(eligible[j]);
  }
  std::sort(picks.begin(), picks.end());
  return picks;
}

namespace detail {
inline std::vector<bool> highlight_mask(std::size_t n, std::span<std::uint32_t const> highlighted) {
  std::vector<bool> mask(n, false);
  for (auto i : highlighted)
    if (i < n) mask[i] = true;
  return mask;
}
}  // namespace detail

/// The text of `str_tokens` with each run of consecutive highlighted tokens wrapped in one `<<`
/// `>>` pair, e.g. `The<< cat sat>> down`. Indices past the end are ignored. Pure.
inline std::string highlighted_text(std::span<std::string const> str_tokens, std::span<std::uint32_t const> highlighted) {
  auto const mask = detail::highlight_mask(str_tokens.size(), highlighted);
  std::string out;
  bool open = false;
  for (std::size_t i = 0; i < str_tokens.size(); ++i) {
    if (mask[i] && !open) out += "<<";
    if (!mask[i] && open) out += ">>";
    open = mask[i];
    out += str_tokens[i];
  }
  if (open) out += ">>";
  return out;
}

/// The highlighted spans: the concatenated text of each run of consecutive highlighted tokens, in
/// order (what a reader sees between one `<<` `>>` pair). Pure.
inline std::vector<std::string> highlighted_spans(std::span<std::string const> str_tokens,
                                                  std::span<std::uint32_t const> highlighted) {
  auto const mask = detail::highlight_mask(str_tokens.size(), highlighted);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < str_tokens.size(); ++i) {
    if (!mask[i]) continue;
    if (i == 0 || !mask[i - 1]) out.emplace_back();
    out.back() += str_tokens[i];
  }
  return out;
}

}  // namespace autointerp::score
