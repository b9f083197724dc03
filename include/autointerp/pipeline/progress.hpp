#pragma once
// Progress of a run, told to a sink the caller gives (the SDK prints nothing).

#include <autointerp/pipeline/latent_outcome.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>

namespace autointerp::pipeline {

/// What a progress sink is told.
struct progress_report {
  std::size_t done = 0;   ///< latents finished, those of earlier runs included
  std::size_t total = 0;
  bool final = false;     ///< the last report of the run (from `finish`)
  std::string status;     ///< e.g. `120/500 (24%) 3.2/s ETA 1m58s, 3 failed, tokens 51k in / 6.0k out, $0.0123 (projected $0.0513)`
};

/// Where progress goes: the caller decides (the CLI draws a bar on a terminal, plain lines in logs).
/// Called on the scheduler's strand; keep it short.
using progress_sink = std::function<void(progress_report const&)>;

/// Counts finished latents and tells a sink how far a run is: done/total, rate, ETA, failures,
/// tokens and cost with the cost projected to the whole job (the rest at this run's mean per
/// latent), at most once per `interval` and once more, as the final report, from
/// `finish()`. The SDK prints nothing itself. Not thread-safe: feed it from the scheduler's
/// `on_finished` hook.
class progress {
 public:
  using clock = std::chrono::steady_clock;

  /// `sink` may be empty (the counters still work).
  explicit progress(std::size_t total, progress_sink sink = {},
                    std::chrono::milliseconds interval = std::chrono::seconds(10))
      : total_(total), sink_(std::move(sink)), interval_(interval), start_(clock::now()), last_report_(start_) {}

  /// Latents found done by an earlier run: they count towards done but not towards the rate.
  void add_already_done(std::size_t n) noexcept { already_ += n; }

  void add(latent_outcome const& o, clock::time_point now = clock::now()) {
    ++done_;
    if (o.status == latent_status::failed) ++failed_;
    if (o.status == latent_status::unparsed) ++unparsed_;
    prompt_tokens_ += o.usage.prompt_tokens;
    completion_tokens_ += o.usage.completion_tokens;
    cost_ += o.usage.cost;
    // The last latent is left to `finish`, so the final state is reported once.
    if (done() < total_ && now - last_report_ >= interval_) report(now, false);
  }

  /// Reports the final state (once; later calls do nothing).
  void finish(clock::time_point now = clock::now()) {
    if (finished_) return;
    finished_ = true;
    report(now, true);
  }

  std::size_t done() const noexcept { return done_ + already_; }
  std::size_t failed() const noexcept { return failed_; }

  /// The status text without bar or line ending, e.g.
  /// `120/500 (24%) 3.2/s ETA 1m58s, 3 failed, 1 unparsed, tokens 51k in / 6.0k out, $0.0123 (projected $0.0513)`
  /// (the projection covers this run's latents; `add_already_done` ones cost nothing more).
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
      if (d < total_) {  // the rest at this run's mean cost per latent
        double const projected = cost_ + cost_ / static_cast<double>(done_) * static_cast<double>(total_ - d);
        std::snprintf(buf, sizeof buf, " (projected $%.4f)", projected);
        s += buf;
      }
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

  void report(clock::time_point now, bool final) {
    last_report_ = now;
    if (sink_) sink_(progress_report{done(), total_, final, status(now)});
  }

  std::size_t total_;
  progress_sink sink_;
  std::chrono::milliseconds interval_;
  bool finished_ = false;
  clock::time_point start_, last_report_;
  std::size_t done_ = 0, already_ = 0, failed_ = 0, unparsed_ = 0;
  std::uint64_t prompt_tokens_ = 0, completion_tokens_ = 0;
  double cost_ = 0;
};

}  // namespace autointerp::pipeline
