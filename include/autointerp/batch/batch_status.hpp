#pragma once
// Where an OpenAI batch is in its life, and when to look again: the statuses the Batch API
// reports, and a pure polling schedule (no timers: the caller waits what it says).

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

namespace autointerp::batch {

/// The statuses of a batch, as the Batch API names them.
enum class batch_status {
  validating,   ///< the input file is being checked; nothing has run
  in_progress,  ///< requests are running
  finalizing,   ///< every request ran; the output and error files are being written
  completed,    ///< done: `output_file_id` and `error_file_id` hold the results
  failed,       ///< the input file was rejected; no request ran (nothing to pay)
  expired,      ///< the completion window ended first: the output file holds the requests that ran
  cancelling,   ///< cancel was asked for; running requests finish
  cancelled,    ///< cancelled: the output file holds the requests that ran
};

namespace detail {
inline constexpr std::array<std::string_view, 8> batch_status_names{
    "validating", "in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled"};
}

/// The API's name of `s`, e.g. "in_progress".
constexpr std::string_view to_string(batch_status s) noexcept {
  return detail::batch_status_names[static_cast<std::size_t>(s)];
}

/// The status named `text` (exactly as the API writes it), or nothing for a name we do not know.
constexpr std::optional<batch_status> parse_batch_status(std::string_view text) noexcept {
  for (std::size_t i = 0; i < detail::batch_status_names.size(); ++i)
    if (detail::batch_status_names[i] == text) return static_cast<batch_status>(i);
  return std::nullopt;
}

/// Whether the batch will not change any more: completed, failed, expired or cancelled.
constexpr bool is_terminal(batch_status s) noexcept {
  return s == batch_status::completed || s == batch_status::failed || s == batch_status::expired ||
         s == batch_status::cancelled;
}

/// Whether a batch in status `s` has (or will have) an output file worth downloading: its requests
/// ran, all of them (completed) or some (expired, cancelled).
constexpr bool has_results(batch_status s) noexcept {
  return s == batch_status::completed || s == batch_status::expired || s == batch_status::cancelled;
}

/// Settings of the poll schedule.
struct poll_settings {
  std::chrono::milliseconds first{10'000};  ///< the first wait after submitting (`--batch-poll-interval`)
  double factor = 1.5;                      ///< each later wait is the previous one times this (>= 1)
  std::chrono::milliseconds max{60'000};    ///< waits never grow past this (nor below `first`)
};

/// When to poll a batch next: `first`, then growing by `factor` up to `max`. A batch takes minutes
/// to hours, so early polls catch small test batches and later ones do not spam the API. Pure: the
/// caller waits the returned duration on its own timer, so tests drive it without sleeping.
class poll_schedule {
 public:
  explicit poll_schedule(poll_settings s = {}) noexcept : s_(s) {
    if (s_.first.count() < 0) s_.first = std::chrono::milliseconds(0);
    if (!(s_.factor >= 1)) s_.factor = 1;  // also NaN
    if (s_.max < s_.first) s_.max = s_.first;
  }

  /// The wait before the next poll; each call advances the schedule.
  std::chrono::milliseconds next() noexcept {
    if (!started_) {
      started_ = true;
      current_ = s_.first;
      return current_;
    }
    double grown = std::ceil(static_cast<double>(current_.count()) * s_.factor);
    auto cap = static_cast<double>(s_.max.count());
    current_ = std::chrono::milliseconds(static_cast<std::int64_t>(std::min(grown, cap)));
    return current_;
  }

  /// Starts over from `first` (e.g. after the batch moved on, to catch the next step quickly).
  void reset() noexcept { started_ = false; }

  poll_settings const& settings() const noexcept { return s_; }

 private:
  poll_settings s_;
  std::chrono::milliseconds current_{0};
  bool started_ = false;
};

}  // namespace autointerp::batch
