#pragma once
// Out-of-line parts of cooccurrence.hpp.

#include <autointerp/neighbours/cooccurrence.hpp>
#include <autointerp/neighbours/detail/run_team.hpp>
#include <autointerp/neighbours/torch_topk.hpp>

#include <algorithm>
#include <bit>
#include <utility>
#include <atomic>
#include <mutex>
#include <optional>
#include <string>

namespace autointerp::neighbours {

namespace detail {

inline std::string mib_text(std::uint64_t bytes) {
  if (bytes < (1u << 20)) return std::to_string(bytes) + " bytes";
  return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB";
}

inline error over_budget(std::string_view module, std::uint64_t activations, std::uint64_t need,
                         std::size_t budget) {
  return make_error(errc::memory_budget,
                    "module " + std::string(module) + ": co-occurrence needs about " + mib_text(need) + " for " +
                        std::to_string(activations) + " activations, over the memory budget of " + mib_text(budget) +
                        "; raise cooccurrence_options::memory_budget");
}

inline void prefetch(void const* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}

// Bytes of the token sets in both directions plus the token offsets.
constexpr std::uint64_t set_bytes(std::uint64_t activations, std::uint64_t n_tokens) noexcept {
  return activations * 8 + (n_tokens + 1) * 8;
}

}  // namespace detail

AUTOINTERP_DECL result<latent_token_sets> read_token_sets(cache::dataset const& data, std::string_view module,
                                                          cooccurrence_options const& options,
                                                          progress_callback const& progress) {
  auto info = data.module(module);
  if (!info) return info.error();
  std::uint32_t const width = (*info)->width;
  std::uint64_t const ctx = (*info)->ctx_len;
  latent_token_sets sets;
  sets.tokens.resize(width);
  std::atomic<std::uint64_t> activations{0};
  std::atomic<std::uint64_t> max_token{0};
  std::atomic<std::uint32_t> next{0}, done{0};
  std::atomic<bool> stop{false};
  std::optional<error> failure;
  std::mutex failure_mutex;
  auto fail = [&](error e) {
    std::lock_guard lock(failure_mutex);
    if (!failure) failure = std::move(e);
    stop = true;
  };
  std::uint64_t const rows = (*info)->rows;
  std::uint32_t const chunk = 64;
  detail::run_team(std::max<std::size_t>(1, options.threads), [&](std::size_t worker) {
    for (std::uint32_t begin; !stop && (begin = next.fetch_add(chunk)) < width;) {
      std::uint32_t const end = std::min(width, begin + chunk);
      for (std::uint32_t l = begin; l < end && !stop; ++l) {
        auto acts = data.load_latent(module, l);
        if (!acts) return fail(acts.error());
        auto& out = sets.tokens[l];
        out.reserve(acts->size());
        for (std::size_t i = 0; i < acts->size(); ++i) {
          std::uint64_t id = std::uint64_t(acts->rows[i]) * ctx + acts->positions[i];
          if (id >= (std::uint64_t{1} << 32))
            return fail(make_error(errc::bad_shape, "module " + std::string(module) +
                                                        ": co-occurrence counts at most 2^32 tokens; this cache has more"));
          if (out.empty() || out.back() != id) out.push_back(static_cast<std::uint32_t>(id));
        }
        out.shrink_to_fit();
        if (!out.empty()) {
          std::uint64_t seen = max_token.load();
          while (out.back() > seen && !max_token.compare_exchange_weak(seen, out.back())) {
          }
        }
        auto total = activations.fetch_add(out.size()) + out.size();
        std::uint64_t const n_tokens = rows ? rows * ctx : max_token.load() + 1;
        if (options.memory_budget && detail::set_bytes(total, n_tokens) > options.memory_budget)
          return fail(detail::over_budget(module, total, detail::set_bytes(total, n_tokens), options.memory_budget));
      }
      auto d = done.fetch_add(end - begin) + (end - begin);
      if (worker == 0 && progress) progress("reading", d, width);
    }
  });
  if (failure) return *failure;
  if (progress) progress("reading", width, width);
  sets.n_tokens = rows ? rows * ctx : (activations.load() ? max_token.load() + 1 : 0);
  return sets;
}

AUTOINTERP_DECL result<neighbour_lists> cooccurrence_neighbours(latent_token_sets const& sets,
                                                                cooccurrence_options const& options,
                                                                progress_callback const& progress) {
  if (options.k == 0) return make_error(errc::bad_option, "cooccurrence_options::k is 0; ask for at least one neighbour");
  std::uint32_t const width = static_cast<std::uint32_t>(sets.tokens.size());
  neighbour_lists out;
  out.lists.resize(width);
  // delphi's matrix is as wide as the largest active latent + 1; its topk sees rows of that length.
  std::uint32_t n = 0;
  std::uint64_t activations = 0;
  for (std::uint32_t l = 0; l < width; ++l) {
    if (!sets.tokens[l].empty()) n = l + 1;
    activations += sets.tokens[l].size();
  }
  for (auto const& s : sets.tokens)
    if (s.empty()) ++out.skipped;
  if (n == 0) return out;
  std::size_t const threads = std::max<std::size_t>(1, options.threads);
  std::uint64_t const need = detail::set_bytes(activations, sets.n_tokens) + std::uint64_t(threads) * n * 8;
  if (options.memory_budget && need > options.memory_budget)
    return detail::over_budget("of these sets", activations, need, options.memory_budget);

  // The same sets by token: the latents active at each token, ascending.
  std::vector<std::uint64_t> at(sets.n_tokens + 1, 0);
  for (auto const& s : sets.tokens)
    for (auto t : s) {
      if (t >= sets.n_tokens) return make_error(errc::bad_shape, "a token id of the co-occurrence sets is past n_tokens");
      ++at[t + 1];
    }
  for (std::uint64_t t = 0; t < sets.n_tokens; ++t) at[t + 1] += at[t];
  std::vector<std::uint32_t> active(activations);
  {
    std::vector<std::uint64_t> fill(at.begin(), at.end() - 1);
    for (std::uint32_t l = 0; l < n; ++l)
      for (auto t : sets.tokens[l]) active[fill[t]++] = l;
  }

  std::vector<std::uint32_t> sizes(n);
  for (std::uint32_t l = 0; l < n; ++l) sizes[l] = static_cast<std::uint32_t>(sets.tokens[l].size());

  std::size_t const want = std::size_t{options.k} + 1;
  std::atomic<std::uint32_t> next{0}, done{0};
  std::atomic<std::uint64_t> pairs{0};
  std::uint32_t const chunk = 32;
  std::size_t const words = (std::size_t{n} + 63) / 64;
  detail::run_team(threads, [&](std::size_t worker) {
    std::vector<std::uint32_t> count(n, 0);
    // Which latents a row touched, as a bitset with a second level over its non-zero words: the
    // row's non-zeros come out in index order, as torch's topk needs them, without a sort.
    std::vector<std::uint64_t> bits(words, 0), summary((words + 63) / 64, 0);
    std::vector<std::uint32_t> idx;
    std::vector<float> scores;
    std::uint64_t my_pairs = 0;
    for (std::uint32_t begin; (begin = next.fetch_add(chunk)) < n;) {
      std::uint32_t const end = std::min(n, begin + chunk);
      for (std::uint32_t a = begin; a < end; ++a) {
        auto const& mine = sets.tokens[a];
        if (mine.empty()) continue;
        std::size_t const m = mine.size();
        for (std::size_t i = 0; i < m; ++i) {
          // The tokens' lists are scattered over the whole matrix: fetch ahead, the offsets
          // first, then the lists they point at.
          if (i + 16 < m) detail::prefetch(&at[mine[i + 16]]);
          if (i + 4 < m) detail::prefetch(active.data() + at[mine[i + 4]]);
          std::uint32_t const t = mine[i];
          auto const* p = active.data() + at[t];
          auto const* e = active.data() + at[t + 1];
          my_pairs += static_cast<std::uint64_t>(e - p) - 1;
          for (; p != e; ++p)
            if (count[*p]++ == 0) {
              std::uint32_t const b = *p;
              bits[b >> 6] |= std::uint64_t{1} << (b & 63);
              summary[b >> 12] |= std::uint64_t{1} << ((b >> 6) & 63);
            }
        }
        idx.clear();
        scores.clear();
        std::uint64_t const n_a = mine.size();
        for (std::size_t s = 0; s < summary.size(); ++s) {
          for (std::uint64_t sw = std::exchange(summary[s], 0); sw; sw &= sw - 1) {
            std::size_t const w = s * 64 + static_cast<std::size_t>(std::countr_zero(sw));
            for (std::uint64_t bw = std::exchange(bits[w], 0); bw; bw &= bw - 1) {
              auto const b = static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(bw)));
              idx.push_back(b);
              scores.push_back(jaccard_score(count[b], n_a, sizes[b]));
              count[b] = 0;
            }
          }
        }
        auto top = torch_topk_sparse(n, idx, scores, want);
        auto& list = out.lists[a];
        list.reserve(top.empty() ? 0 : top.size() - 1);
        for (std::size_t i = 1; i < top.size(); ++i)
          list.push_back({top[i].first, static_cast<std::uint32_t>(top[i].second)});
      }
      auto d = done.fetch_add(end - begin) + (end - begin);
      if (worker == 0 && progress) progress("counting", d, n);
    }
    pairs += my_pairs;
  });
  out.pairs = pairs.load() / 2;
  if (progress) progress("counting", n, n);
  return out;
}

}  // namespace autointerp::neighbours
