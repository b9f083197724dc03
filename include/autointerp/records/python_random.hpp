#pragma once
// A random number generator that gives the same numbers as CPython's `random` module.
//
// delphi samples train/test examples with Python's `random.seed(22)` + `random.sample(...)`; to
// select exactly the windows delphi selects we need the same Mersenne Twister, seeded the same way,
// drawing bits and rejecting out-of-range values the same way, and `sample` choosing between its
// two strategies by the same size rule. The behaviour below is stated from CPython's documented
// algorithms (MT19937 with `init_by_array`, `getrandbits`, `_randbelow_with_getrandbits`, `sample`,
// `shuffle`, `random`) and checked against numbers printed by CPython 3.11 in the tests.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_set>
#include <utility>
#include <vector>

namespace autointerp::records {

/// CPython-compatible `random.Random` for the operations delphi uses.
///
/// Not thread-safe: one instance per thread (it is cheap: 2.5 KB of state).
class python_random {
 public:
  /// Same state as `random.Random(seed)` / `random.seed(seed)` for a non-negative integer seed.
  explicit python_random(std::uint64_t seed = 0) noexcept { this->seed(seed); }

  /// `random.seed(n)` for an integer: the absolute value, cut into 32-bit words (least significant
  /// first, at least one word), fed to MT19937's `init_by_array`.
  void seed(std::uint64_t n) noexcept {
    std::uint32_t key[2] = {static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(n >> 32)};
    init_by_array(std::span<std::uint32_t const>(key, (n >> 32) != 0 ? 2 : 1));
  }

  /// Seeds from an arbitrary-size non-negative integer given as 32-bit words, least significant
  /// first (what CPython does for big ints). Trailing zero words are ignored, as CPython does.
  void seed_words(std::span<std::uint32_t const> words) noexcept {
    std::size_t n = words.size();
    while (n > 1 && words[n - 1] == 0) --n;
    if (n == 0) {
      std::uint32_t zero = 0;
      init_by_array(std::span<std::uint32_t const>(&zero, 1));
    } else {
      init_by_array(words.first(n));
    }
  }

  /// The next 32 bits of the Mersenne Twister (CPython's `genrand_uint32`).
  std::uint32_t next_u32() noexcept {
    if (index_ >= n) twist();
    std::uint32_t y = state_[index_++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
  }

  /// `random.getrandbits(k)` for 0 <= k <= 64 (k = 0 returns 0 and draws nothing).
  std::uint64_t getrandbits(unsigned k) noexcept {
    if (k == 0) return 0;
    if (k <= 32) return next_u32() >> (32 - k);
    // Wider values are assembled from 32-bit words, least significant word first; the last word
    // keeps only its top bits.
    std::uint64_t low = next_u32();
    std::uint64_t high = next_u32() >> (64 - (k > 64 ? 64 : k));
    return low | (high << 32);
  }

  /// `random._randbelow(n)`: uniform in [0, n) by drawing `n.bit_length()` bits until the value
  /// is below n. Returns 0 for n == 0 without drawing (CPython raises there; callers never ask).
  std::uint64_t randbelow(std::uint64_t n) noexcept {
    if (n == 0) return 0;
    unsigned k = bit_length(n);
    std::uint64_t r = getrandbits(k);
    while (r >= n) r = getrandbits(k);
    return r;
  }

  /// `random.random()`: 53 random bits as a double in [0, 1).
  double random() noexcept {
    std::uint32_t a = next_u32() >> 5, b = next_u32() >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
  }

  /// The indices `random.sample(range(n), k)` returns, in order. Requires k <= n (returns the
  /// first min(k, n) picks otherwise, where CPython raises).
  ///
  /// CPython picks one of two strategies, and they draw different numbers: a partial
  /// Fisher-Yates over a copy of the population when n is at most a set-size threshold, else
  /// rejection sampling against a set of already chosen indices.
  std::vector<std::size_t> sample_indices(std::size_t n, std::size_t k) {
    if (k > n) k = n;
    std::vector<std::size_t> out;
    out.reserve(k);
    if (n <= sample_set_threshold(k)) {
      std::vector<std::size_t> pool(n);
      for (std::size_t i = 0; i < n; ++i) pool[i] = i;
      for (std::size_t i = 0; i < k; ++i) {
        std::size_t j = static_cast<std::size_t>(randbelow(n - i));
        out.push_back(pool[j]);
        pool[j] = pool[n - i - 1];
      }
    } else if (k <= 64) {
      // Same draws as CPython's set of chosen indices; for few picks a scan of `out` is faster.
      for (std::size_t i = 0; i < k; ++i) {
        std::size_t j = static_cast<std::size_t>(randbelow(n));
        while (std::find(out.begin(), out.end(), j) != out.end()) j = static_cast<std::size_t>(randbelow(n));
        out.push_back(j);
      }
    } else {
      std::unordered_set<std::size_t> selected;
      selected.reserve(k * 2);
      for (std::size_t i = 0; i < k; ++i) {
        std::size_t j = static_cast<std::size_t>(randbelow(n));
        while (selected.count(j) != 0) j = static_cast<std::size_t>(randbelow(n));
        selected.insert(j);
        out.push_back(j);
      }
    }
    return out;
  }

  /// `random.sample(population, k)`.
  template <class T>
  std::vector<T> sample(std::span<T const> population, std::size_t k) {
    std::vector<T> out;
    for (std::size_t i : sample_indices(population.size(), k)) out.push_back(population[i]);
    return out;
  }

  /// `random.shuffle(x)`.
  template <class T>
  void shuffle(std::span<T> x) noexcept {
    for (std::size_t i = x.size(); i-- > 1;) {
      std::size_t j = static_cast<std::size_t>(randbelow(i + 1));
      using std::swap;
      swap(x[i], x[j]);
    }
  }

  /// `random.sample`'s rule: populations up to this size are copied and swapped, larger ones use
  /// a set of chosen indices. 21, plus 4**ceil(log(3k, 4)) when k > 5 (computed in doubles, as
  /// CPython does).
  static std::size_t sample_set_threshold(std::size_t k) noexcept {
    std::size_t setsize = 21;
    if (k > 5) {
      double e = std::ceil(std::log(static_cast<double>(k) * 3.0) / std::log(4.0));
      if (e >= 31) return static_cast<std::size_t>(-1);
      setsize += std::size_t{1} << (2 * static_cast<unsigned>(e));
    }
    return setsize;
  }

 private:
  static constexpr std::size_t n = 624;
  static constexpr std::size_t m = 397;

  static unsigned bit_length(std::uint64_t v) noexcept {
    unsigned b = 0;
    while (v != 0) {
      ++b;
      v >>= 1;
    }
    return b;
  }

  void init_genrand(std::uint32_t s) noexcept {
    state_[0] = s;
    for (std::size_t i = 1; i < n; ++i)
      state_[i] = 1812433253u * (state_[i - 1] ^ (state_[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
    index_ = n;
  }

  void init_by_array(std::span<std::uint32_t const> key) noexcept {
    init_genrand(19650218u);
    std::size_t i = 1, j = 0;
    for (std::size_t k = n > key.size() ? n : key.size(); k != 0; --k) {
      state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1664525u)) + key[j] +
                  static_cast<std::uint32_t>(j);
      if (++i >= n) {
        state_[0] = state_[n - 1];
        i = 1;
      }
      if (++j >= key.size()) j = 0;
    }
    for (std::size_t k = n - 1; k != 0; --k) {
      state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1566083941u)) -
                  static_cast<std::uint32_t>(i);
      if (++i >= n) {
        state_[0] = state_[n - 1];
        i = 1;
      }
    }
    state_[0] = 0x80000000u;  // guarantees a non-zero state
    index_ = n;
  }

  void twist() noexcept {
    constexpr std::uint32_t upper = 0x80000000u, lower = 0x7fffffffu, matrix_a = 0x9908b0dfu;
    auto mix = [&](std::size_t k, std::size_t next, std::size_t far) {
      std::uint32_t y = (state_[k] & upper) | (state_[next] & lower);
      state_[k] = state_[far] ^ (y >> 1) ^ ((y & 1u) ? matrix_a : 0u);
    };
    std::size_t k = 0;
    for (; k < n - m; ++k) mix(k, k + 1, k + m);
    for (; k < n - 1; ++k) mix(k, k + 1, k + m - n);
    mix(n - 1, 0, m - 1);
    index_ = 0;
  }

  std::array<std::uint32_t, n> state_{};
  std::size_t index_ = n;
};

}  // namespace autointerp::records
