#pragma once
// Rate budgets: requests per minute, tokens per minute and requests in flight, adapting down on 429.
//
// A pure state machine: the caller passes the time, so tests run it on a fake clock. The client
// asks `try_acquire` before each attempt and waits as told, then calls `settle` when it is done.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace autointerp::llm {

/// Rate budget settings; 0 disables a limit.
struct rate_limits {
  double requests_per_minute = 0;  ///< 0 = unlimited
  double tokens_per_minute = 0;    ///< prompt estimate + max_tokens charged up front; 0 = unlimited
  std::size_t max_in_flight = 64;  ///< attempts on the wire at once; 0 = unlimited
  /// Burst: each bucket holds this much time's worth of its rate (at least one request, and at
  /// least one request's tokens: a request larger than the bucket waits for a full bucket).
  std::chrono::milliseconds burst{10'000};
  std::uint32_t default_max_tokens = 512;  ///< charged for requests that leave max_tokens unset
  bool adaptive = true;                    ///< on 429 scale the limits down, then recover
  double decrease_factor = 0.5;            ///< multiply the rates and in-flight cap by this on 429
  double min_factor = 1.0 / 32;            ///< never below this fraction of the configured limits
  double recovery_step = 0.1;              ///< fraction of the configured limits won back ...
  std::chrono::milliseconds recovery_interval{5'000};  ///< ... per interval of successes without 429
};

/// The requests-per-minute, tokens-per-minute and in-flight budgets of one client.
/// Not thread-safe: use it from the client's executor.
class rate_limiter {
 public:
  using clock = std::chrono::steady_clock;

  /// The answer to `try_acquire`.
  struct decision {
    bool granted = false;
    bool wait_for_release = false;  ///< in-flight cap reached: wait until an attempt settles
    clock::duration wait{0};        ///< otherwise: try again after this long
  };

  rate_limiter(rate_limits const& l, clock::time_point now) noexcept
      : limits_(l), last_refill_(now), last_change_(now) {
    requests_ = capacity(limits_.requests_per_minute, 1);
    tokens_ = capacity(limits_.tokens_per_minute, 1);
  }

  /// Tokens charged up front for a request: the prompt estimate plus max_tokens (or the default).
  std::uint64_t charge_for(std::uint64_t prompt_estimate, std::optional<std::uint32_t> max_tokens) const noexcept {
    return prompt_estimate + max_tokens.value_or(limits_.default_max_tokens);
  }

  /// Starts an attempt charging `tokens` when the budgets allow it; otherwise says how to wait.
  decision try_acquire(std::uint64_t tokens, clock::time_point now) noexcept {
    refill(now);
    decision d;
    if (limits_.max_in_flight && in_flight_ >= in_flight_cap()) {
      d.wait_for_release = true;
      return d;
    }
    double wait_s = 0;
    if (limits_.requests_per_minute > 0) {
      double need = std::min(1.0, capacity(limits_.requests_per_minute, 1));
      if (requests_ < need) wait_s = std::max(wait_s, (need - requests_) / per_second(limits_.requests_per_minute));
    }
    if (limits_.tokens_per_minute > 0) {
      double need = std::min(static_cast<double>(tokens), capacity(limits_.tokens_per_minute, 1));
      if (tokens_ < need) wait_s = std::max(wait_s, (need - tokens_) / per_second(limits_.tokens_per_minute));
    }
    if (wait_s > 0) {
      // Round up so the caller does not wake a hair too early and spin.
      d.wait = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(wait_s)) + std::chrono::milliseconds(1);
      return d;
    }
    if (limits_.requests_per_minute > 0) requests_ -= 1;
    if (limits_.tokens_per_minute > 0) tokens_ -= static_cast<double>(tokens);  // may go into debt
    ++in_flight_;
    d.granted = true;
    return d;
  }

  /// Ends an attempt that charged `charged` tokens. With the server's real usage the difference is
  /// refunded (or charged); without it (the attempt failed) the tokens are refunded, the request is not.
  void settle(std::uint64_t charged, std::optional<std::uint64_t> actual, clock::time_point now) noexcept {
    refill(now);
    if (in_flight_) --in_flight_;
    if (limits_.tokens_per_minute > 0) {
      double refund = static_cast<double>(charged) - static_cast<double>(actual.value_or(0));
      tokens_ = std::min(tokens_ + refund, capacity(limits_.tokens_per_minute, 1));
    }
  }

  /// The server said 429: scale the limits down and empty the buckets.
  void on_rate_limited(clock::time_point now) noexcept {
    refill(now);
    if (!limits_.adaptive) return;
    factor_ = std::max(limits_.min_factor, factor_ * limits_.decrease_factor);
    requests_ = std::min(requests_, 0.0);
    tokens_ = std::min(tokens_, 0.0);
    last_change_ = now;
  }

  /// An attempt succeeded: after each quiet `recovery_interval`, win back `recovery_step`.
  void on_success(clock::time_point now) noexcept {
    refill(now);
    if (!limits_.adaptive || factor_ >= 1) return;
    if (now - last_change_ >= limits_.recovery_interval) {
      factor_ = std::min(1.0, factor_ + limits_.recovery_step);
      last_change_ = now;
    }
  }

  /// The current fraction of the configured limits (1 = full speed).
  double factor() const noexcept { return factor_; }
  std::size_t in_flight() const noexcept { return in_flight_; }
  /// The in-flight cap now (0 = unlimited); at least 1.
  std::size_t in_flight_cap() const noexcept {
    if (!limits_.max_in_flight) return 0;
    return std::max<std::size_t>(1, static_cast<std::size_t>(std::floor(static_cast<double>(limits_.max_in_flight) * factor_)));
  }
  double effective_requests_per_minute() const noexcept { return limits_.requests_per_minute * factor_; }
  double effective_tokens_per_minute() const noexcept { return limits_.tokens_per_minute * factor_; }
  double request_tokens() const noexcept { return requests_; }
  double token_balance() const noexcept { return tokens_; }

 private:
  double per_second(double per_minute) const noexcept { return per_minute * factor_ / 60.0; }
  double capacity(double per_minute, double at_least) const noexcept {
    double burst_s = std::chrono::duration<double>(limits_.burst).count();
    return std::max(at_least, per_second(per_minute) * burst_s);
  }
  void refill(clock::time_point now) noexcept {
    if (now <= last_refill_) return;
    double dt = std::chrono::duration<double>(now - last_refill_).count();
    last_refill_ = now;
    if (limits_.requests_per_minute > 0)
      requests_ = std::min(capacity(limits_.requests_per_minute, 1), requests_ + dt * per_second(limits_.requests_per_minute));
    if (limits_.tokens_per_minute > 0)
      tokens_ = std::min(capacity(limits_.tokens_per_minute, 1), tokens_ + dt * per_second(limits_.tokens_per_minute));
  }

  rate_limits limits_;
  double factor_ = 1;
  double requests_ = 0, tokens_ = 0;
  std::size_t in_flight_ = 0;
  clock::time_point last_refill_, last_change_;
};

}  // namespace autointerp::llm
