#pragma once
// torch's CPU `topk(largest=True, sorted=True)` of one row, replayed exactly, ties included.
//
// torch pairs each value with its index, in index order, and when k * 64 <= row length runs
// `std::partial_sort` comparing values only (greater first, NaN above everything); otherwise
// `std::nth_element` at k - 1 and a `std::sort` of the first k - 1. The order among equal values is
// therefore neither by index nor stable, but it is a function of libstdc++'s algorithms, which we
// call the same way. delphi's co-occurrence neighbours are such a topk of each row of its Jaccard
// matrix, so the same call gives the same lists.

#include <autointerp/config.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace autointerp::neighbours {

/// A (value, index) pair, the element type torch sorts.
using scored_index = std::pair<float, std::int64_t>;

/// The k largest of `row` with their indices, in torch's order. `k` larger than the row is
/// clamped to it (torch raises). Pure, thread-safe.
AUTOINTERP_DECL std::vector<scored_index> torch_topk(std::span<float const> row, std::size_t k);

/// The same result for a row of length `n` that is zero except at `indices` (ascending, distinct,
/// each < n) where it holds `scores`. When the partial sort applies and no score is negative,
/// zeros after position k never beat the heap's smallest element, so replaying the sort over the
/// first k positions plus the later non-zeros gives torch's answer in O(k + non-zeros); otherwise
/// the row is expanded and `torch_topk` runs on it. Pure, thread-safe.
AUTOINTERP_DECL std::vector<scored_index> torch_topk_sparse(std::size_t n, std::span<std::uint32_t const> indices,
                                                            std::span<float const> scores, std::size_t k);

}  // namespace autointerp::neighbours

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/neighbours/impl/torch_topk.ipp>
#endif
