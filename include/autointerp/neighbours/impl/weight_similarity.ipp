#pragma once
// Out-of-line parts of weight_similarity.hpp.

#include <autointerp/neighbours/detail/run_team.hpp>
#include <autointerp/neighbours/torch_topk.hpp>
#include <autointerp/neighbours/weight_similarity.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <span>

namespace autointerp::neighbours {

AUTOINTERP_DECL std::vector<std::uint32_t> normalise_rows(weight_rows& w) {
  std::vector<std::uint32_t> bad;
  std::size_t const d = w.dim;
  for (std::uint32_t i = 0; i < w.latents; ++i) {
    float* row = w.values.data() + std::size_t{i} * d;
    double sum = 0;
    bool finite = true;
    for (std::size_t j = 0; j < d; ++j) {
      finite = finite && std::isfinite(row[j]);
      sum += double(row[j]) * double(row[j]);
    }
    auto const norm = static_cast<float>(std::sqrt(sum));
    if (!finite || !(norm > 0) || !std::isfinite(norm)) {
      std::fill(row, row + d, 0.0f);
      bad.push_back(i);
      continue;
    }
    for (std::size_t j = 0; j < d; ++j) row[j] /= norm;
  }
  return bad;
}

namespace detail {

// c[r][c] for rows [r0, r1) of `a` against every row of `b` (given transposed, [depth][cols]):
// four rows at a time over column tiles that stay in cache, inner loops that vectorise.
inline void plain_product_rows(float const* a, float const* bt, std::size_t r0, std::size_t r1, std::size_t cols,
                               std::size_t depth, float* c, std::size_t c_row0) {
  constexpr std::size_t tile = 128;
  float acc[4][tile];
  for (std::size_t c0 = 0; c0 < cols; c0 += tile) {
    std::size_t const len = std::min(tile, cols - c0);
    for (std::size_t r = r0; r < r1; r += 4) {
      std::size_t const rows = std::min<std::size_t>(4, r1 - r);
      for (auto& row : acc) std::fill(row, row + len, 0.0f);
      for (std::size_t j = 0; j < depth; ++j) {
        float const* x = bt + j * cols + c0;
        float const a0 = a[r * depth + j];
        float const a1 = rows > 1 ? a[(r + 1) * depth + j] : 0.0f;
        float const a2 = rows > 2 ? a[(r + 2) * depth + j] : 0.0f;
        float const a3 = rows > 3 ? a[(r + 3) * depth + j] : 0.0f;
        for (std::size_t k = 0; k < len; ++k) {
          float const xv = x[k];
          acc[0][k] += a0 * xv;
          acc[1][k] += a1 * xv;
          acc[2][k] += a2 * xv;
          acc[3][k] += a3 * xv;
        }
      }
      for (std::size_t q = 0; q < rows; ++q) std::copy(acc[q], acc[q] + len, c + (r + q - c_row0) * cols + c0);
    }
  }
}

}  // namespace detail

AUTOINTERP_DECL result<neighbour_lists> similarity_neighbours(weight_rows& w, similarity_options const& options,
                                                              progress_callback const& progress) {
  if (options.k == 0) return make_error(errc::bad_option, "similarity_options::k is 0; ask for at least one neighbour");
  std::size_t const n = w.latents, d = w.dim;
  neighbour_lists out;
  out.lists.resize(n);
  auto const bad = normalise_rows(w);
  out.skipped = static_cast<std::uint32_t>(bad.size());
  std::vector<bool> skip(n, false);
  for (auto i : bad) skip[i] = true;
  if (n == 0) return out;
  std::size_t const threads = std::max<std::size_t>(1, options.threads);
  std::size_t const block = std::clamp<std::size_t>(options.block_bytes / (n * sizeof(float)), 1, n);
  std::vector<float> scores(block * n);
  std::vector<float> transposed;  // [d][n], for the plain product only
  if (!options.gemm) {
    transposed.resize(n * d);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < d; ++j) transposed[j * n + i] = w.values[i * d + j];
  }
  std::size_t const want = std::size_t{options.k} + 1;
  for (std::size_t r0 = 0; r0 < n; r0 += block) {
    std::size_t const r1 = std::min(n, r0 + block);
    if (options.gemm) options.gemm(r1 - r0, n, d, w.values.data() + r0 * d, w.values.data(), scores.data());
    std::atomic<std::size_t> next{r0};
    detail::run_team(std::min(threads, r1 - r0), [&](std::size_t) {
      // Groups of rows: the plain product computes them, then each row is ranked.
      constexpr std::size_t group = 16;
      for (std::size_t g; (g = next.fetch_add(group)) < r1;) {
        std::size_t const g1 = std::min(r1, g + group);
        if (!options.gemm) detail::plain_product_rows(w.values.data(), transposed.data(), g, g1, n, d, scores.data(), r0);
        for (std::size_t r = g; r < g1; ++r) {
          if (skip[r]) continue;
          auto top = torch_topk(std::span<float const>(scores.data() + (r - r0) * n, n), want);
          auto& list = out.lists[r];
          list.reserve(top.empty() ? 0 : top.size() - 1);
          for (std::size_t i = 1; i < top.size(); ++i)
            list.push_back({top[i].first, static_cast<std::uint32_t>(top[i].second)});
        }
      }
    });
    if (progress) progress("similarity", r1, n);
  }
  return out;
}

}  // namespace autointerp::neighbours
