#pragma once
// Progress of a run on stderr: a redrawn bar on a terminal, plain periodic lines otherwise.

#include <autointerp/pipeline/latent_outcome.hpp>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace autointerp::pipeline {

/// Counts finished latents and prints how far a run is: done/total, rate, ETA, failures, tokens and
/// cost. On a terminal one bar is redrawn at most 10 times a second; otherwise (logs, CI, a Job's
/// output) one line at most every `plain_interval`, and always a last line from `finish()`.
/// Not thread-safe: feed it from the scheduler's `on_finished` hook.
class progress {
 public:
  using clock = std::chrono::steady_clock;

  /// `out` null disables printing (the counters still work). `terminal` defaults to isatty(out).
  explicit progress(std::size_t total, std::FILE* out = stderr, int terminal = -1,
                    std::chrono::seconds plain_interval = std::chrono::seconds(10))
      : total_(total), out_(out), plain_interval_(plain_interval), start_(clock::now()), last_print_(start_) {
    tty_ = terminal >= 0 ? terminal != 0 : (out && ::isatty(::fileno(out)));
  }

  /// Latents found done by an earlier run: they count towards done but not towards the rate.
  void add_already_done(std::size_t n) noexcept { already_ += n; }

  void add(latent_outcome const& o, clock::time_point now = clock::now()) {
    ++done_;
    if (o.status == latent_status::failed) ++failed_;
    if (o.status == latent_status::unparsed) ++unparsed_;
    prompt_tokens_ += o.usage.prompt_tokens;
    completion_tokens_ += o.usage.completion_tokens;
    cost_ += o.usage.cost;
    auto const since = now - last_print_;
    if (tty_ ? since >= std::chrono::milliseconds(100) : since >= plain_interval_) print(now);
  }

  /// Prints the final state (and ends the terminal bar's line).
  void finish(clock::time_point now = clock::now()) {
    print(now);
    if (out_ && tty_) std::fputc('\n', out_);
    if (out_) std::fflush(out_);
  }

  std::size_t done() const noexcept { return done_ + already_; }
  std::size_t failed() const noexcept { return failed_; }

  /// The status text without bar or line ending, e.g.
  /// `120/500 (24%) 3.2/s ETA 1m58s, 3 failed, 1 unparsed, tokens 51k in / 6.0k out, $0.0123`.
  std::string status(clock::time_point now = clock::now()) const {
    double const secs = std::chrono::duration<double>(now - start_).count();
    double const rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
    std::size_t const d = done();
    std::string s = std::to_string(d) + "/" + std::to_string(total_);
    if (total_ > 0) s += " (" + std::to_string(d * 100 / total_) + "%)";
    char buf[64];
    std::snprintf(buf, sizeof buf, " %.1f/s", rate);
    s += buf;
    if (rate > 0 && d < total_) s += " ETA " + duration_text(static_cast<double>(total_ - d) / rate);
    s += ", " + std::to_string(failed_) + " failed";
    if (unparsed_) s += ", " + std::to_string(unparsed_) + " unparsed";
    if (prompt_tokens_ || completion_tokens_) s += ", tokens " + count_text(prompt_tokens_) + " in / " + count_text(completion_tokens_) + " out";
    if (cost_ > 0) {
      std::snprintf(buf, sizeof buf, ", $%.4f", cost_);
      s += buf;
    }
    return s;
  }

 private:
  static std::string duration_text(double secs) {
    auto t = static_cast<long long>(std::llround(secs));
    if (t >= 3600) return std::to_string(t / 3600) + "h" + std::to_string(t % 3600 / 60) + "m";
    if (t >= 60) return std::to_string(t / 60) + "m" + std::to_string(t % 60) + "s";
    return std::to_string(t) + "s";
  }
  static std::string count_text(std::uint64_t n) {
    char buf[32];
    if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(n) / 1e6);
    else if (n >= 1000) std::snprintf(buf, sizeof buf, "%.1fk", static_cast<double>(n) / 1e3);
    else std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
    return buf;
  }

  void print(clock::time_point now) {
    last_print_ = now;
    if (!out_) return;
    if (tty_) {
      constexpr int width = 30;
      int const filled = total_ ? static_cast<int>(static_cast<double>(done()) / static_cast<double>(total_) * width) : width;
      std::string bar(static_cast<std::size_t>(filled > width ? width : filled), '#');
      bar.resize(width, '.');
      std::fprintf(out_, "\r\x1b[K[%s] %s", bar.c_str(), status(now).c_str());
    } else {
      std::fprintf(out_, "autointerp: %s\n", status(now).c_str());
    }
    std::fflush(out_);
  }

  std::size_t total_;
  std::FILE* out_;
  std::chrono::seconds plain_interval_;
  bool tty_ = false;
  clock::time_point start_, last_print_;
  std::size_t done_ = 0, already_ = 0, failed_ = 0, unparsed_ = 0;
  std::uint64_t prompt_tokens_ = 0, completion_tokens_ = 0;
  double cost_ = 0;
};

}  // namespace autointerp::pipeline
