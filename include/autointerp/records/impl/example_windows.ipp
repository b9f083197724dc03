#pragma once
// Out-of-line parts of example_windows.hpp.

#include <autointerp/records/example_windows.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>
#include <utility>

namespace autointerp::records {

AUTOINTERP_DECL std::uint64_t window_mask::nth_clear(std::uint64_t k) const noexcept {
  for (std::size_t wi = 0; wi < bits_.size(); ++wi) {
    std::uint64_t clear = ~bits_[wi];
    std::uint64_t valid = n_ - wi * 64;
    if (valid < 64) clear &= (std::uint64_t{1} << valid) - 1;
    auto zeros = static_cast<std::uint64_t>(std::popcount(clear));
    if (k < zeros) {
      // Drop the k lowest clear bits, then the lowest remaining one is the answer.
      for (std::uint64_t j = 0; j < k; ++j) clear &= clear - 1;
      return wi * 64 + static_cast<std::uint64_t>(std::countr_zero(clear));
    }
    k -= zeros;
  }
  return n_;
}

AUTOINTERP_DECL std::vector<std::uint64_t> window_mask::clear_index() const {
  std::vector<std::uint64_t> index(bits_.size() + 1, 0);
  for (std::size_t wi = 0; wi < bits_.size(); ++wi) {
    std::uint64_t valid = n_ - wi * 64;
    std::uint64_t clear = ~bits_[wi];
    if (valid < 64) clear &= (std::uint64_t{1} << valid) - 1;
    index[wi + 1] = index[wi] + static_cast<std::uint64_t>(std::popcount(clear));
  }
  return index;
}

AUTOINTERP_DECL std::uint64_t window_mask::nth_clear(std::uint64_t k,
                                                     std::span<std::uint64_t const> index) const noexcept {
  if (index.size() != bits_.size() + 1 || index.empty() || k >= index.back()) return nth_clear(k);
  // The word holding the k-th clear bit: the last one with fewer than k + 1 clear bits before it.
  auto it = std::upper_bound(index.begin(), index.end(), k);
  std::size_t wi = static_cast<std::size_t>(it - index.begin()) - 1;
  std::uint64_t rest = k - index[wi];
  std::uint64_t clear = ~bits_[wi];
  for (std::uint64_t j = 0; j < rest; ++j) clear &= clear - 1;
  return wi * 64 + static_cast<std::uint64_t>(std::countr_zero(clear));
}

AUTOINTERP_DECL result<void> check_example_ctx_len(std::uint32_t example_ctx_len, std::size_t cache_ctx_len) {
  if (example_ctx_len != 0 && cache_ctx_len != 0 && cache_ctx_len % example_ctx_len == 0) return {};
  std::string divisors;
  int listed = 0;
  for (std::size_t d = 1; d <= cache_ctx_len && listed < 12; ++d) {
    if (cache_ctx_len % d != 0) continue;
    divisors += (listed ? ", " : "") + std::to_string(d);
    ++listed;
  }
  if (cache_ctx_len == 0)
    return make_error(errc::bad_shape, "the cache's token matrix has a context length of 0; the cache is broken");
  return make_error(errc::bad_option, "example_ctx_len " + std::to_string(example_ctx_len) +
                                          " does not divide the cache context length " +
                                          std::to_string(cache_ctx_len) + "; use a divisor such as " + divisors);
}

namespace detail {
// torch's CPU sort comparator for descending order: NaN first, then larger values.
inline bool torch_desc_less(float a, float b) noexcept {
  return (std::isnan(a) && !std::isnan(b)) || a > b;
}
// torch.max / argmax semantics: NaN wins, else the first largest value.
inline std::size_t torch_argmax(std::span<float const> v) noexcept {
  std::size_t best = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) return i;
    if (v[i] > v[best]) best = i;
  }
  return best;
}
}  // namespace detail

AUTOINTERP_DECL result<example_windows> example_windows::build(cache::token_matrix const& tokens,
                                                               cache::latent_activations const& latent,
                                                               window_kind kind, std::uint32_t example_ctx_len,
                                                               std::uint32_t max_examples) {
  std::string const who = "latent " + latent.latent.module + ":" + std::to_string(latent.latent.index);
  if (auto r = check_example_ctx_len(example_ctx_len, tokens.ctx); !r) return r.error();
  if (tokens.ids.size() != tokens.rows * tokens.ctx)
    return make_error(errc::bad_shape, "token matrix holds " + std::to_string(tokens.ids.size()) + " ids, not rows " +
                                           std::to_string(tokens.rows) + " x ctx " + std::to_string(tokens.ctx));
  std::size_t const n = latent.values.size();
  if (latent.rows.size() != n || latent.positions.size() != n)
    return make_error(errc::bad_shape, who + ": rows, positions and activations differ in length (" +
                                           std::to_string(latent.rows.size()) + ", " +
                                           std::to_string(latent.positions.size()) + ", " + std::to_string(n) + ")");
  if (n > 0xfffffff0u) return make_error(errc::bad_shape, who + ": more than 4e9 activations");

  std::uint64_t const ctx = tokens.ctx, len = example_ctx_len;
  std::uint64_t const n_windows = static_cast<std::uint64_t>(tokens.rows) * ctx / len;
  example_windows w;
  w.kind_ = kind;
  w.len_ = example_ctx_len;
  w.active_ = window_mask(n_windows);

  // Check every location and whether they are sorted (caches store them sorted: then this is
  // the only pass besides the one below).
  std::uint32_t const* rows_in = latent.rows.data();
  std::uint32_t const* pos_in = latent.positions.data();
  bool sorted = true;
  for (std::size_t i = 0; i < n; ++i) {
    if (rows_in[i] >= tokens.rows || pos_in[i] >= ctx)
      return make_error(errc::bad_shape, who + ": activation at row " + std::to_string(rows_in[i]) + ", position " +
                                             std::to_string(pos_in[i]) + " lies outside the " +
                                             std::to_string(tokens.rows) + " x " + std::to_string(ctx) +
                                             " token matrix; the cache and its tokens do not belong together");
    if (i > 0 && (rows_in[i] < rows_in[i - 1] || (rows_in[i] == rows_in[i - 1] && pos_in[i] < pos_in[i - 1])))
      sorted = false;
  }
  std::vector<std::uint32_t> order;
  if (!sorted) {
    order.resize(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
      return rows_in[a] != rows_in[b] ? rows_in[a] < rows_in[b] : pos_in[a] < pos_in[b];
    });
  }

  // One segment per window with activity, in matrix order (delphi's unique_consecutive).
  // Windows never straddle rows (len divides ctx), so window = row * per_row + position / len.
  std::uint64_t const per_row = ctx / len;
  bool const pow2 = (len & (len - 1)) == 0;
  unsigned const shift = static_cast<unsigned>(std::countr_zero(len));
  w.offsets_.resize(n);
  w.values_.resize(n);
  w.segments_.reserve(std::min<std::uint64_t>(n, n_windows));
  bool any_nan = false;
  std::uint64_t last_window = ~std::uint64_t{0};
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t i = sorted ? k : order[k];
    std::uint32_t pos = pos_in[i];
    std::uint64_t win = rows_in[i] * per_row + (pow2 ? pos >> shift : pos / len);
    float v = latent.values[i];
    w.offsets_[k] = pow2 ? (pos & static_cast<std::uint32_t>(len - 1)) : static_cast<std::uint32_t>(pos % len);
    w.values_[k] = v;
    if (win != last_window) {
      w.segments_.push_back({win, static_cast<std::uint32_t>(k), 0, v});
      w.active_.set(win);
      last_window = win;
    }
    segment& s = w.segments_.back();
    ++s.count;
    if (std::isnan(v)) {
      any_nan = true;
      s.max = v;
    } else if (!std::isnan(s.max) && v > s.max) {
      s.max = v;
    }
  }

  // Rank by maximum, descending, with torch's tie order (std::sort of (value, index) pairs with
  // torch's comparator; without NaNs the plain comparison gives the same outcomes, faster).
  std::vector<std::pair<float, std::uint32_t>> keyed(w.segments_.size());
  for (std::size_t i = 0; i < keyed.size(); ++i) keyed[i] = {w.segments_[i].max, static_cast<std::uint32_t>(i)};
  if (any_nan)
    std::sort(keyed.begin(), keyed.end(),
              [](auto const& a, auto const& b) { return detail::torch_desc_less(a.first, b.first); });
  else
    std::sort(keyed.begin(), keyed.end(), [](auto const& a, auto const& b) { return a.first > b.first; });

  if (kind == window_kind::max) {
    std::size_t keep = keyed.size();
    if (max_examples != 0 && keep > max_examples) keep = max_examples;
    w.ranked_.reserve(keep);
    for (std::size_t i = 0; i < keep; ++i) w.ranked_.push_back(keyed[i].second);
    return w;
  }

  // Centered: drop windows at the first and last position of a row.
  std::vector<std::uint32_t> kept;
  kept.reserve(keyed.size());
  for (auto const& [m, seg] : keyed) {
    std::uint64_t r = w.segments_[seg].window % per_row;
    if (r != 0 && r != per_row - 1) kept.push_back(seg);
  }
  std::size_t const u = kept.size();
  // Position of each kept window in `kept`, looked up by window index.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> by_window(u);
  for (std::size_t j = 0; j < u; ++j) by_window[j] = {w.segments_[kept[j]].window, static_cast<std::uint32_t>(j)};
  std::sort(by_window.begin(), by_window.end());
  auto find = [&](std::uint64_t win) -> std::uint32_t {
    auto it = std::lower_bound(by_window.begin(), by_window.end(), std::pair<std::uint64_t, std::uint32_t>{win, 0});
    return (it != by_window.end() && it->first == win) ? it->second : none;
  };
  // delphi fills the k-th example (in ranked order) that has a kept left neighbour with the k-th
  // match of its pairwise comparison, which enumerates matches in the order of the *neighbour*,
  // so the activations shown on the left belong to "the example whose left neighbour is the k-th
  // kept window that has a right neighbour". Same for the right side, mirrored.
  std::vector<std::uint32_t> left_targets, left_sources, right_targets, right_sources;
  for (std::size_t j = 0; j < u; ++j) {
    std::uint64_t win = w.segments_[kept[j]].window;
    if (find(win - 1) != none) left_targets.push_back(static_cast<std::uint32_t>(j));
    if (std::uint32_t nxt = find(win + 1); nxt != none) left_sources.push_back(nxt);
    if (find(win + 1) != none) right_targets.push_back(static_cast<std::uint32_t>(j));
    if (std::uint32_t prv = find(win - 1); prv != none) right_sources.push_back(prv);
  }
  w.centered_.assign(u, centered_info{});
  for (std::size_t k = 0; k < left_targets.size() && k < left_sources.size(); ++k)
    w.centered_[left_targets[k]].left = kept[left_sources[k]];
  for (std::size_t k = 0; k < right_targets.size() && k < right_sources.size(); ++k)
    w.centered_[right_targets[k]].right = kept[right_sources[k]];
  std::vector<float> dense(len);
  for (std::size_t j = 0; j < u; ++j) {
    std::fill(dense.begin(), dense.end(), 0.0f);
    w.scatter(kept[j], dense);
    std::size_t am = detail::torch_argmax(dense);
    w.centered_[j].start = static_cast<std::uint32_t>(am + len / 4);
  }
  std::size_t keep = u;
  if (max_examples != 0 && keep > max_examples) keep = max_examples;
  kept.resize(keep);
  w.centered_.resize(keep);
  w.ranked_ = std::move(kept);
  return w;
}

AUTOINTERP_DECL void example_windows::scatter(std::uint32_t seg, std::span<float> out) const noexcept {
  segment const& s = segments_[seg];
  for (std::uint32_t k = s.first; k < s.first + s.count; ++k) out[offsets_[k]] = values_[k];
}

AUTOINTERP_DECL std::uint64_t example_windows::token_offset(std::size_t i) const noexcept {
  std::uint64_t win = segments_[ranked_[i]].window;
  if (kind_ == window_kind::max) return win * len_;
  return (win - 1) * len_ + centered_[i].start;
}

AUTOINTERP_DECL void example_windows::activations(std::size_t i, std::span<float> out) const noexcept {
  std::fill(out.begin(), out.end(), 0.0f);
  if (kind_ == window_kind::max) {
    scatter(ranked_[i], out);
    return;
  }
  centered_info const& c = centered_[i];
  std::uint32_t const parts[3] = {c.left, ranked_[i], c.right};
  for (std::uint32_t p = 0; p < 3; ++p) {
    if (parts[p] == none) continue;
    segment const& s = segments_[parts[p]];
    for (std::uint32_t k = s.first; k < s.first + s.count; ++k) {
      std::int64_t at = static_cast<std::int64_t>(p) * len_ + offsets_[k] - c.start;
      if (at >= 0 && at < static_cast<std::int64_t>(len_)) out[static_cast<std::size_t>(at)] = values_[k];
    }
  }
}

AUTOINTERP_DECL float example_windows::max_activation(std::size_t i) const {
  std::vector<float> dense(len_);
  return max_activation(i, dense);
}

AUTOINTERP_DECL float example_windows::max_activation(std::size_t i, std::span<float> scratch) const noexcept {
  activations(i, scratch.first(len_));
  return scratch[detail::torch_argmax(scratch.first(len_))];
}

}  // namespace autointerp::records
