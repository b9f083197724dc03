#pragma once
// Out-of-line parts of torch_topk.hpp.

#include <autointerp/neighbours/torch_topk.hpp>

#include <algorithm>
#include <cmath>

namespace autointerp::neighbours {

namespace detail {
// torch's comparator for largest=True: NaN first, then greater values; ties compare false.
struct torch_greater {
  template <class Pair>
  bool operator()(Pair const& x, Pair const& y) const noexcept {
    return (std::isnan(x.first) && !std::isnan(y.first)) || x.first > y.first;
  }
};
// The same comparator for rows without NaN, where it reduces to `>`.
struct plain_greater {
  template <class Pair>
  bool operator()(Pair const& x, Pair const& y) const noexcept {
    return x.first > y.first;
  }
};

// The partial sort of the first k of `q`. The algorithms' comparisons and moves do not depend on
// the element type, so rows without NaN use 8-byte elements and a bare `>`: the same permutation,
// faster.
template <class Pair>
std::vector<scored_index> partial_sort_first(std::vector<Pair>& q, std::size_t k, bool has_nan) {
  auto const mid = q.begin() + static_cast<std::ptrdiff_t>(k);
  if (has_nan) std::partial_sort(q.begin(), mid, q.end(), torch_greater{});
  else std::partial_sort(q.begin(), mid, q.end(), plain_greater{});
  std::vector<scored_index> out(k);
  for (std::size_t i = 0; i < k; ++i) out[i] = {q[i].first, static_cast<std::int64_t>(q[i].second)};
  return out;
}
}  // namespace detail

AUTOINTERP_DECL std::vector<scored_index> torch_topk(std::span<float const> row, std::size_t k) {
  std::size_t const n = row.size();
  k = std::min(k, n);
  if (k == 0) return {};
  bool const has_nan = std::any_of(row.begin(), row.end(), [](float v) { return std::isnan(v); });
  if (k * 64 <= n && n < (std::size_t{1} << 32)) {
    std::vector<std::pair<float, std::uint32_t>> q(n);
    for (std::size_t j = 0; j < n; ++j) q[j] = {row[j], static_cast<std::uint32_t>(j)};
    return detail::partial_sort_first(q, k, has_nan);
  }
  std::vector<scored_index> q(n);
  for (std::size_t j = 0; j < n; ++j) q[j] = {row[j], static_cast<std::int64_t>(j)};
  auto const kk = static_cast<std::ptrdiff_t>(k);
  if (k * 64 <= n) {
    std::partial_sort(q.begin(), q.begin() + kk, q.end(), detail::torch_greater{});
  } else {
    std::nth_element(q.begin(), q.begin() + kk - 1, q.end(), detail::torch_greater{});
    std::sort(q.begin(), q.begin() + kk - 1, detail::torch_greater{});
  }
  q.resize(k);
  return q;
}

AUTOINTERP_DECL std::vector<scored_index> torch_topk_sparse(std::size_t n, std::span<std::uint32_t const> indices,
                                                            std::span<float const> scores, std::size_t k) {
  k = std::min(k, n);
  if (k == 0) return {};
  bool negative = false, has_nan = false;
  for (float s : scores) {
    negative = negative || s < 0;
    has_nan = has_nan || std::isnan(s);
  }
  if (k * 64 > n || negative) {
    std::vector<float> row(n, 0.0f);
    for (std::size_t i = 0; i < indices.size(); ++i) row[indices[i]] = scores[i];
    return torch_topk(row, k);
  }
  std::vector<std::pair<float, std::uint32_t>> q;
  q.reserve(k + indices.size());
  for (std::size_t j = 0; j < k; ++j) q.emplace_back(0.0f, static_cast<std::uint32_t>(j));
  for (std::size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] < k) q[indices[i]].first = scores[i];
    else q.emplace_back(scores[i], indices[i]);
  }
  return detail::partial_sort_first(q, k, has_nan);
}

}  // namespace autointerp::neighbours
