#pragma once
// A spending budget shared by the clients of a job: every call is admitted against it before it is
// sent, from an estimate, and settled with what the server reported. Sans-io: no clock, no I/O.

#include <autointerp/error.hpp>
#include <autointerp/llm/price_table.hpp>
#include <autointerp/llm/token_usage.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

namespace autointerp::llm {

/// The limits of a budget; unset = no limit. The names are how errors call the settings (the CLI's
/// flags by default). Plain aggregate.
struct budget_limits {
  std::optional<double> max_cost_usd;
  std::optional<std::uint64_t> max_prompt_tokens;
  std::string cost_setting = "--max-cost";
  std::string tokens_setting = "--max-prompt-tokens";

  bool any() const noexcept { return max_cost_usd || max_prompt_tokens; }
};

/// What a call is expected to take, reserved while it is in flight.
struct call_estimate {
  std::uint64_t prompt_tokens = 0;
  double cost_usd = 0;
};

/// The budget of a job (a whole output folder: what earlier runs spent is passed in).
///
/// - Admission: a call is admitted when what was spent, plus the estimates of the calls in
///   flight, plus its own estimate stays within every limit. A call's estimate is its prompt size
///   plus its `max_tokens` (else the mean completion of its stage so far) at the model's prices; a
///   model without prices is estimated at the mean cost of its stage's calls so far.
/// - Groups: once a call of a group (one latent's stage) is admitted, the group's later calls are
///   admitted too, so a latent's stage that started is finished and saved rather than paid for and
///   dropped. This, and the calls in flight, is what a budget can be over-run by.
/// - Once a call is refused every later new group is refused too (the job is stopping).
/// - Not thread-safe: use it from the executor its clients run on.
class spend_budget {
 public:
  explicit spend_budget(budget_limits limits, token_usage spent_before = {})
      : limits_(std::move(limits)), spent_(spent_before) {}

  budget_limits const& limits() const noexcept { return limits_; }
  /// What was spent: earlier runs and the settled calls of this one.
  token_usage const& spent() const noexcept { return spent_; }
  /// What the calls in flight are expected to take.
  call_estimate const& reserved() const noexcept { return reserved_; }
  /// True once a call was refused.
  bool exhausted() const noexcept { return refused_.has_value(); }
  /// The refusal, once there was one.
  std::optional<error> const& refusal() const noexcept { return refused_; }
  /// By how much the spending passed the cost limit (0 when it did not, or there is none).
  double cost_overrun() const noexcept {
    return limits_.max_cost_usd && spent_.cost > *limits_.max_cost_usd ? spent_.cost - *limits_.max_cost_usd : 0;
  }
  /// By how many tokens the prompts passed the prompt-token limit.
  std::uint64_t prompt_token_overrun() const noexcept {
    return limits_.max_prompt_tokens && spent_.prompt_tokens > *limits_.max_prompt_tokens
               ? spent_.prompt_tokens - *limits_.max_prompt_tokens
               : 0;
  }

  /// The estimate of a call of `stage` with a prompt of about `prompt_tokens` and at most
  /// `max_tokens` of answer, at `prices` (null: the model has none).
  call_estimate estimate(std::string_view stage, std::uint64_t prompt_tokens, std::optional<std::uint32_t> max_tokens,
                         token_prices const* prices) const {
    call_estimate e;
    e.prompt_tokens = prompt_tokens;
    auto it = stages_.find(stage);
    stage_means const* m = it == stages_.end() ? nullptr : &it->second;
    if (prices) {
      double completion = max_tokens ? *max_tokens : m && m->calls ? m->completion_tokens / m->calls : 0;
      e.cost_usd = prices->cost(prompt_tokens, 0, static_cast<std::uint64_t>(completion));
    } else if (m && m->calls) {
      e.cost_usd = m->cost / m->calls;
    }
    return e;
  }

  /// Admits a call of `group` (a latent's stage, e.g. "layers.6/69/detection"; empty: a group of its
  /// own) estimated at `e`, and reserves the estimate. Errors: `errc::budget_exhausted`, naming
  /// the limit and what was spent.
  result<void> admit(std::string_view group, call_estimate const& e) {
    std::size_t const key = std::hash<std::string_view>{}(group);
    bool const started = !group.empty() && groups_.count(key) > 0;
    if (!started) {
      if (refused_) return *refused_;
      if (auto why = over_limit(e)) {
        refused_ = make_error(errc::budget_exhausted, *why);
        return *refused_;
      }
      if (!group.empty()) groups_.insert(key);
    }
    reserved_.prompt_tokens += e.prompt_tokens;
    reserved_.cost_usd += e.cost_usd;
    return {};
  }

  /// Ends an admitted call: its reservation is released and `used` (what the server reported, zero
  /// for a call that failed without an answer) is spent and counted in its stage's means.
  void settle(std::string_view stage, call_estimate const& e, token_usage const& used, bool answered) {
    reserved_.prompt_tokens -= std::min(reserved_.prompt_tokens, e.prompt_tokens);
    reserved_.cost_usd = std::max(0.0, reserved_.cost_usd - e.cost_usd);
    spent_ += used;
    if (!answered) return;
    auto it = stages_.find(stage);
    if (it == stages_.end()) it = stages_.emplace(std::string(stage), stage_means{}).first;
    it->second.calls += 1;
    it->second.cost += used.cost;
    it->second.completion_tokens += static_cast<double>(used.completion_tokens);
  }

 private:
  struct stage_means {
    double calls = 0, cost = 0, completion_tokens = 0;
  };

  static std::string usd(double v) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "$%.4f", v);
    return buf;
  }

  std::optional<std::string> over_limit(call_estimate const& e) const {
    // A nano-dollar of slack, so sums of the same prices that meet the limit exactly are not refused by rounding.
    if (limits_.max_cost_usd && spent_.cost + reserved_.cost_usd + e.cost_usd > *limits_.max_cost_usd + 1e-9)
      return limits_.cost_setting + " " + usd(*limits_.max_cost_usd) + " reached: " + usd(spent_.cost) +
             " spent (earlier runs of this folder included), " + usd(reserved_.cost_usd) +
             " in flight, and the next call would cost about " + usd(e.cost_usd) +
             "; resume with a larger " + limits_.cost_setting + " to go on";
    if (limits_.max_prompt_tokens &&
        spent_.prompt_tokens + reserved_.prompt_tokens + e.prompt_tokens > *limits_.max_prompt_tokens)
      return limits_.tokens_setting + " " + std::to_string(*limits_.max_prompt_tokens) + " reached: " +
             std::to_string(spent_.prompt_tokens) + " prompt tokens spent (earlier runs of this folder included), " +
             std::to_string(reserved_.prompt_tokens) + " in flight, and the next call needs about " +
             std::to_string(e.prompt_tokens) + "; resume with a larger " + limits_.tokens_setting + " to go on";
    return std::nullopt;
  }

  budget_limits limits_;
  token_usage spent_;
  call_estimate reserved_;
  std::optional<error> refused_;
  std::unordered_set<std::size_t> groups_;
  std::map<std::string, stage_means, std::less<>> stages_;
};

}  // namespace autointerp::llm
