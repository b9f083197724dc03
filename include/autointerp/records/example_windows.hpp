#pragma once
// Cutting one latent's activations into example windows, ranked the way delphi ranks them.

#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/cache/token_matrix.hpp>
#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/records/record_options.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace autointerp::records {

/// Which windows of the token matrix contain activity (one bit per window of `example_ctx_len`
/// tokens, window w = tokens [w * len, (w + 1) * len) of the row-major matrix).
class window_mask {
 public:
  window_mask() = default;
  explicit window_mask(std::uint64_t n_windows) : n_(n_windows), bits_((n_windows + 63) / 64, 0) {}

  std::uint64_t size() const noexcept { return n_; }
  bool test(std::uint64_t w) const noexcept { return (bits_[w >> 6] >> (w & 63)) & 1u; }
  void set(std::uint64_t w) noexcept {
    std::uint64_t& word = bits_[w >> 6];
    std::uint64_t bit = std::uint64_t{1} << (w & 63);
    count_ += (word & bit) ? 0 : 1;
    word |= bit;
  }
  /// Windows whose bit is set.
  std::uint64_t count() const noexcept { return count_; }
  /// The index of the `k`-th (0-based) window whose bit is clear, in ascending order. Requires
  /// k < size() - count(). O(size() / 64); see `clear_index` for many queries.
  AUTOINTERP_DECL std::uint64_t nth_clear(std::uint64_t k) const noexcept;
  /// Clear bits before each 64-bit word (size words + 1), for `nth_clear(k, index)`.
  AUTOINTERP_DECL std::vector<std::uint64_t> clear_index() const;
  /// `nth_clear(k)` in O(log(size() / 64)) with `index` = `clear_index()`.
  AUTOINTERP_DECL std::uint64_t nth_clear(std::uint64_t k, std::span<std::uint64_t const> index) const noexcept;

 private:
  std::uint64_t n_ = 0;
  std::uint64_t count_ = 0;
  std::vector<std::uint64_t> bits_;
};

/// One latent's activating windows in delphi's order. Self-contained (keeps its own compact copy
/// of the activations), so it may outlive the `latent_activations` it was built from; windows are
/// materialised on demand, so building it costs O(activations + windows log windows).
///
/// - `window_kind::max`: every window containing an activation, ranked by its maximum activation,
///   descending. Ties keep the order torch's (unstable) CPU sort gives them, which is what
///   `std::sort` of libstdc++ gives for the same comparison; delphi's records match only with it.
/// - `window_kind::centered`: the same ranking, minus windows at the first or last position of a
///   row; each example is `len` tokens starting `len - len / 4` tokens before the window's first
///   maximum, taken from the window and its two neighbours. The activations shown in the
///   neighbouring parts are what delphi shows: delphi pairs each window with the activations of a
///   different window than its true neighbour (an indexing slip in its `torch.where` lookup); we
///   reproduce that pairing so records match delphi's. Tokens are always the true neighbours'.
class example_windows {
 public:
  example_windows() = default;

  /// Ranked examples kept (after dropping and `max_examples`).
  std::size_t size() const noexcept { return ranked_.size(); }
  bool empty() const noexcept { return ranked_.empty(); }
  window_kind kind() const noexcept { return kind_; }
  std::uint32_t ctx_len() const noexcept { return len_; }
  /// Windows of the token matrix that contain any activity (the numerator of
  /// `per_context_frequency`), counted before any window is dropped.
  std::uint64_t n_active_windows() const noexcept { return active_.count(); }
  /// All windows of the token matrix.
  std::uint64_t n_windows() const noexcept { return active_.size(); }
  /// Which windows contain activity.
  window_mask const& active_windows() const noexcept { return active_; }

  /// The window of the token matrix example `i` was ranked by (for centered examples, the middle
  /// one of the three it is cut from). Requires i < size().
  std::uint64_t window(std::size_t i) const noexcept { return segments_[ranked_[i]].window; }
  /// Offset, in the row-major token matrix, of example `i`'s first token; its tokens are the
  /// `ctx_len()` ids from there. Requires i < size().
  AUTOINTERP_DECL std::uint64_t token_offset(std::size_t i) const noexcept;
  /// Writes example `i`'s activations (one per token, 0 where silent) to `out` (size ctx_len()).
  AUTOINTERP_DECL void activations(std::size_t i, std::span<float> out) const noexcept;
  /// Largest activation of example `i` as delphi's `Example.max_activation` computes it (over the
  /// materialised window, so centered windows include their neighbouring parts).
  AUTOINTERP_DECL float max_activation(std::size_t i) const;
  /// `max_activation(i)` using `scratch` (at least ctx_len() floats) instead of allocating.
  AUTOINTERP_DECL float max_activation(std::size_t i, std::span<float> scratch) const noexcept;

  /// Builds the windows. Errors (`errc::bad_option`): `example_ctx_len` is 0 or does not divide
  /// the token matrix's context length. (`errc::bad_shape`): the arrays of `latent` differ in
  /// length, or a row/position lies outside the token matrix. Activations need not be sorted;
  /// duplicates of one (row, position) keep the last value. Thread-safe (pure function).
  /// `max_examples` 0 = no limit. Same as `make_example_windows`.
  static AUTOINTERP_DECL result<example_windows> build(cache::token_matrix const& tokens,
                                                       cache::latent_activations const& latent, window_kind kind,
                                                       std::uint32_t example_ctx_len, std::uint32_t max_examples);

 private:
  static constexpr std::uint32_t none = 0xffffffffu;
  struct segment {
    std::uint64_t window = 0;  // window index in the matrix
    std::uint32_t first = 0;   // range in offsets_/values_
    std::uint32_t count = 0;
    float max = 0;
  };
  struct centered_info {
    std::uint32_t left = none;   // segment shown in the left third
    std::uint32_t right = none;  // segment shown in the right third
    std::uint32_t start = 0;     // first token within the 3-window span
  };
  void scatter(std::uint32_t seg, std::span<float> out) const noexcept;

  window_kind kind_ = window_kind::max;
  std::uint32_t len_ = 0;
  window_mask active_;
  std::vector<segment> segments_;     // in matrix order
  std::vector<std::uint32_t> offsets_;  // position inside the window, per activation
  std::vector<float> values_;
  std::vector<std::uint32_t> ranked_;   // segment of each ranked example
  std::vector<centered_info> centered_;  // per ranked example (centered only)
};

/// Cuts `latent`'s activations into ranked windows of `example_ctx_len` tokens of `tokens`,
/// keeping the first `max_examples` (0 = all). See `example_windows::build` for errors.
inline result<example_windows> make_example_windows(cache::token_matrix const& tokens,
                                                    cache::latent_activations const& latent, window_kind kind,
                                                    std::uint32_t example_ctx_len, std::uint32_t max_examples) {
  return example_windows::build(tokens, latent, kind, example_ctx_len, max_examples);
}

/// Checks that `example_ctx_len` divides the cache context `cache_ctx_len`. Errors:
/// `errc::bad_option` saying which lengths would work.
AUTOINTERP_DECL result<void> check_example_ctx_len(std::uint32_t example_ctx_len, std::size_t cache_ctx_len);

}  // namespace autointerp::records

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/records/impl/example_windows.ipp>
#endif
