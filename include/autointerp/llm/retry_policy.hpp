#pragma once
// When to retry a failed attempt and how long to wait, as a small pure state machine.
//
// Nothing here touches a socket, a clock or a random generator: the caller passes the time and a
// uniform random number, so tests drive every decision with a fake clock.

#include <autointerp/error.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

namespace autointerp::llm {

/// Retry settings. Defaults suit a batch of thousands of requests against a hosted API.
struct retry_policy {
  std::uint32_t max_attempts = 6;                    ///< attempts in all, the first included; 1 = never retry
  std::chrono::milliseconds base_delay{500};         ///< backoff before the first retry (before jitter)
  std::chrono::milliseconds max_backoff{30'000};     ///< cap of the exponential backoff
  std::chrono::milliseconds max_server_delay{60'000};///< cap on a server's retry-after-ms / Retry-After
  /// Retry budget shared by every request of a client: each first attempt deposits `budget_ratio`
  /// tokens, each retry spends one, the balance never exceeds `budget_max`. A batch that runs into
  /// an outage thus retries at most about `budget_ratio` times per request instead of
  /// `max_attempts - 1` times. `budget_ratio` < 0 disables the budget.
  double budget_ratio = 0.5;
  double budget_initial = 20;
  double budget_max = 100;
};

/// How an attempt failed, as far as retrying is concerned.
enum class failure_kind {
  retryable,  ///< connection errors, timeouts, 408, 409, 429, 5xx, a retryable error in a 200 body
  fatal,      ///< this request cannot succeed as sent (400, 401, 403, 404, 422, oversized answer, ...)
  stop_job,   ///< nothing else will succeed either (402: no credit)
};

/// The retry budget shared by the requests of one client (see `retry_policy::budget_ratio`).
/// Not thread-safe: use it from the client's executor.
class retry_budget {
 public:
  explicit retry_budget(retry_policy const& p = {}) noexcept
      : ratio_(p.budget_ratio), max_(p.budget_max), balance_(std::min(p.budget_initial, p.budget_max)) {}
  /// A request made its first attempt.
  void on_first_attempt() noexcept {
    if (ratio_ >= 0) balance_ = std::min(max_, balance_ + ratio_);
  }
  /// Takes one retry from the budget; false when it is exhausted.
  bool try_spend() noexcept {
    if (ratio_ < 0) return true;
    if (balance_ < 1) return false;
    balance_ -= 1;
    return true;
  }
  double balance() const noexcept { return balance_; }

 private:
  double ratio_, max_, balance_;
};

/// What to do after a failed attempt.
struct retry_decision {
  enum class action {
    retry,             ///< wait `delay`, then try again
    give_up,           ///< report the attempt's error
    budget_exhausted,  ///< retryable, but the client's retry budget is spent
    attempts_exhausted,///< retryable, but `max_attempts` were made
  } what = action::give_up;
  std::chrono::milliseconds delay{0};
  bool server_delay = false;  ///< the delay came from the server's header (capped)
};

/// The retry state of one request.
class retry_state {
 public:
  explicit retry_state(retry_policy const& p) noexcept : policy_(p) {}

  /// Call before each attempt; the first call deposits into the budget.
  void on_attempt(retry_budget* budget) noexcept {
    if (attempts_++ == 0 && budget) budget->on_first_attempt();
  }
  std::uint32_t attempts() const noexcept { return attempts_; }

  /// Decides after a failed attempt. `server_delay` is what the server asked for (see
  /// `parse_retry_after`); `uniform` is a random number in [0, 1) for the jitter.
  retry_decision on_failure(failure_kind kind, std::optional<std::chrono::milliseconds> server_delay,
                            double uniform, retry_budget* budget) noexcept {
    retry_decision d;
    if (kind != failure_kind::retryable) return d;
    if (attempts_ >= std::max<std::uint32_t>(policy_.max_attempts, 1)) {
      d.what = retry_decision::action::attempts_exhausted;
      return d;
    }
    if (budget && !budget->try_spend()) {
      d.what = retry_decision::action::budget_exhausted;
      return d;
    }
    d.what = retry_decision::action::retry;
    if (server_delay) {
      d.server_delay = true;
      d.delay = std::clamp(*server_delay, std::chrono::milliseconds{0}, policy_.max_server_delay);
    } else {
      d.delay = backoff_cap(attempts_);
      uniform = std::clamp(uniform, 0.0, 1.0);
      d.delay = std::chrono::milliseconds(static_cast<std::int64_t>(std::floor(uniform * static_cast<double>(d.delay.count()))));
    }
    return d;
  }

  /// The upper bound of the full-jitter backoff after attempt `n` (1-based): base * 2^(n-1), capped.
  std::chrono::milliseconds backoff_cap(std::uint32_t n) const noexcept {
    double cap = static_cast<double>(policy_.base_delay.count()) * std::pow(2.0, std::min<std::uint32_t>(n, 64) - 1.0);
    cap = std::min(cap, static_cast<double>(policy_.max_backoff.count()));
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::max(cap, 0.0)));
  }

 private:
  retry_policy policy_;
  std::uint32_t attempts_ = 0;
};

namespace detail {
inline std::optional<double> parse_decimal(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.empty() || s.size() > 32) return std::nullopt;
  double v = 0, scale = 0;
  for (char c : s) {
    if (c == '.' && scale == 0) {
      scale = 1;
    } else if (c >= '0' && c <= '9') {
      if (scale == 0) v = v * 10 + (c - '0');
      else v += (c - '0') * (scale /= 10);
    } else {
      return std::nullopt;
    }
  }
  return v;
}

inline int month_index(std::string_view m) noexcept {
  constexpr std::string_view names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                        "jul", "aug", "sep", "oct", "nov", "dec"};
  if (m.size() != 3) return -1;
  char l[3] = {static_cast<char>(std::tolower(static_cast<unsigned char>(m[0]))),
               static_cast<char>(std::tolower(static_cast<unsigned char>(m[1]))),
               static_cast<char>(std::tolower(static_cast<unsigned char>(m[2])))};
  for (int i = 0; i < 12; ++i)
    if (names[i] == std::string_view(l, 3)) return i + 1;
  return -1;
}

/// An HTTP date in any of the three forms RFC 9110 requires recipients to accept:
/// "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994".
inline std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s) noexcept {
  // Tokenize on spaces, commas, dashes and colons; then match by shape.
  std::string_view tok[10];
  int n = 0;
  std::size_t i = 0;
  while (i < s.size() && n < 10) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',' || s[i] == '-' || s[i] == ':' || s[i] == '\t')) ++i;
    std::size_t b = i;
    while (i < s.size() && !(s[i] == ' ' || s[i] == ',' || s[i] == '-' || s[i] == ':' || s[i] == '\t')) ++i;
    if (i > b) tok[n++] = s.substr(b, i - b);
  }
  auto num = [](std::string_view t) -> int {
    if (t.empty() || t.size() > 4) return -1;
    int v = 0;
    for (char c : t) {
      if (c < '0' || c > '9') return -1;
      v = v * 10 + (c - '0');
    }
    return v;
  };
  int day, month, year, hh, mm, ss;
  if (n == 7 && month_index(tok[1]) > 0) {  // asctime: wkday mon day hh mm ss year
    month = month_index(tok[1]), day = num(tok[2]), hh = num(tok[3]), mm = num(tok[4]), ss = num(tok[5]),
    year = num(tok[6]);
  } else if (n == 8 && month_index(tok[2]) > 0) {  // IMF-fixdate or RFC 850: wkday day mon year hh mm ss GMT
    day = num(tok[1]), month = month_index(tok[2]), year = num(tok[3]), hh = num(tok[4]), mm = num(tok[5]),
    ss = num(tok[6]);
    if (tok[7] != "GMT" && tok[7] != "UTC") return std::nullopt;
    if (tok[3].size() == 2 && year >= 0) year += year < 70 ? 2000 : 1900;
  } else {
    return std::nullopt;
  }
  if (day < 1 || day > 31 || year < 1970 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
    return std::nullopt;
  std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                  std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days{ymd} + std::chrono::hours{hh} + std::chrono::minutes{mm} + std::chrono::seconds{ss};
}
}  // namespace detail

/// The delay a server asked for: `retry-after-ms` (milliseconds, OpenAI's) wins over `Retry-After`
/// (delta seconds or an HTTP date, compared with `now`). Empty or unparsable headers give nothing;
/// a date in the past gives zero. Never fails.
inline std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view retry_after_ms,
                                                                  std::string_view retry_after,
                                                                  std::chrono::system_clock::time_point now) noexcept {
  constexpr double max_ms = 1e12;
  if (auto ms = detail::parse_decimal(retry_after_ms))
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(*ms, max_ms)));
  if (auto s = detail::parse_decimal(retry_after))
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(*s * 1000.0, max_ms)));
  if (auto when = detail::parse_http_date(retry_after)) {
    if (*when <= now) return std::chrono::milliseconds{0};
    return std::chrono::duration_cast<std::chrono::milliseconds>(*when - now);
  }
  return std::nullopt;
}

}  // namespace autointerp::llm
