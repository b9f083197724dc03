#pragma once
// Out-of-line parts of torch_topk.hpp.

#include <autointerp/neighbours/torch_topk.hpp>

#include <algorithm>
#include <cmath>

namespace autointerp::neighbours {

namespace detail {
// torch's comparator for largest=True: NaN first, then greater values; ties compare false.
struct torch_greater {
  bool operator()(scored_index const& x, scored_index const& y) const noexcept {
    return (std::isnan(x.first) && !std::isnan(y.first)) || x.first > y.first;
  }
};
}  // namespace detail

AUTOINTERP_DECL std::vector<scored_index> torch_topk(std::span<float const> row, std::size_t k) {
  std::size_t const n = row.size();
  k = std::min(k, n);
  if (k == 0) return {};
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
  bool const negative = std::any_of(scores.begin(), scores.end(), [](float s) { return s < 0; });
  if (k * 64 > n || negative) {
    std::vector<float> row(n, 0.0f);
    for (std::size_t i = 0; i < indices.size(); ++i) row[indices[i]] = scores[i];
    return torch_topk(row, k);
  }
  std::vector<scored_index> q;
  q.reserve(k + indices.size());
  for (std::size_t j = 0; j < k; ++j) q.emplace_back(0.0f, static_cast<std::int64_t>(j));
  for (std::size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] < k) q[indices[i]].first = scores[i];
    else q.emplace_back(scores[i], static_cast<std::int64_t>(indices[i]));
  }
  std::partial_sort(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(k), q.end(), detail::torch_greater{});
  q.resize(k);
  return q;
}

}  // namespace autointerp::neighbours
