// The LLM client's pure parts, without sockets or sleeps: URLs and presets, proxy selection,
// delay headers, the retry state machine, the rate budgets on a fake clock, the wire format (chat
// and embeddings), and the fake embedding model the fake server uses.
#include <autointerp/batch/batch_api.hpp>
#include <autointerp/batch/batch_log.hpp>
#include <autointerp/batch/batch_status.hpp>
#include <autointerp/batch/request_file.hpp>
#include <autointerp/batch/result_file.hpp>
#include <autointerp/llm/embedding.hpp>
#include <autointerp/llm/endpoint.hpp>
#include <autointerp/llm/price_table.hpp>
#include <autointerp/llm/proxy.hpp>
#include <autointerp/llm/spend_budget.hpp>
#include <autointerp/llm/rate_limiter.hpp>
#include <autointerp/llm/retry_policy.hpp>
#include <autointerp/llm/wire.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "fake_embeddings.hpp"

namespace llm = autointerp::llm;
using autointerp::errc;
using namespace std::chrono_literals;

TEST(llm_url, parses_schemes_ports_paths_and_ipv6) {
  auto u = llm::parse_url("https://openrouter.ai/api/v1/");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "openrouter.ai");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "/api/v1");
  EXPECT_EQ(u->authority(), "openrouter.ai");
  u = llm::parse_url("http://127.0.0.1:8000/v1");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->port, 8000);
  EXPECT_EQ(u->authority(), "127.0.0.1:8000");
  u = llm::parse_url("http://[::1]:11434");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->path, "");
  EXPECT_EQ(u->authority(), "[::1]:11434");
  for (auto bad : {"ftp://x", "openrouter.ai/api", "http://:80", "http://h:0", "http://h:99999", "http://h:12x", "http://[::1"}) {
    auto r = llm::parse_url(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error() == errc::bad_url);
    EXPECT_NE(r.error().message.find(bad), std::string::npos);
  }
}

TEST(llm_presets, read_keys_and_base_urls_from_the_environment) {
  ::unsetenv("OPENROUTER_API_KEY");
  auto r = llm::openrouter();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::missing_api_key);
  EXPECT_NE(r.error().message.find("OPENROUTER_API_KEY"), std::string::npos);
  ::setenv("OPENROUTER_API_KEY", "sk-or-test", 1);
  r = llm::openrouter("https://example.org", "autointerp tests");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->base_url, "https://openrouter.ai/api/v1");
  EXPECT_EQ(r->api_key, "sk-or-test");
  EXPECT_EQ(r->headers.size(), 2u);
  ::unsetenv("OPENROUTER_API_KEY");

  ::setenv("OPENAI_API_KEY", "sk-test", 1);
  ::setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1", 1);
  auto o = llm::preset("openai");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->base_url, "http://127.0.0.1:9/v1");
  ::unsetenv("OPENAI_BASE_URL");
  o = llm::openai();
  ASSERT_TRUE(o);
  EXPECT_EQ(o->base_url, "https://api.openai.com/v1");
  ::unsetenv("OPENAI_API_KEY");

  auto l = llm::preset("local", "http://127.0.0.1:8080/v1");
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->api_key.empty());
  EXPECT_TRUE(llm::preset("local").error() == errc::bad_option);
  EXPECT_TRUE(llm::preset("anthropic").error() == errc::bad_option);
}

TEST(llm_proxy, no_proxy_matches_hosts_suffixes_ports_and_star) {
  EXPECT_TRUE(llm::bypasses_proxy("api.example.com", "example.com"));
  EXPECT_TRUE(llm::bypasses_proxy("api.example.com", " .example.com "));
  EXPECT_TRUE(llm::bypasses_proxy("example.com", "other.org,example.com:443"));
  EXPECT_TRUE(llm::bypasses_proxy("API.Example.COM", "example.com"));
  EXPECT_TRUE(llm::bypasses_proxy("anything", "*"));
  EXPECT_TRUE(llm::bypasses_proxy("::1", "[::1]:8080"));
  EXPECT_FALSE(llm::bypasses_proxy("notexample.com", "example.com"));
  EXPECT_FALSE(llm::bypasses_proxy("example.com", ""));
  EXPECT_FALSE(llm::bypasses_proxy("example.com", ",,"));

  auto target = llm::parse_url("https://openrouter.ai/api/v1").value();
  auto p = llm::select_proxy(target, {"proxy.internal:3128", "localhost"});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->has_value());
  EXPECT_EQ((*p)->host, "proxy.internal");
  EXPECT_EQ((*p)->port, 3128);
  p = llm::select_proxy(target, {"http://proxy.internal:3128", "openrouter.ai"});
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->has_value());
  EXPECT_TRUE(llm::select_proxy(target, {"https://proxy:443", ""}).error() == errc::bad_url);
  EXPECT_EQ(llm::proxy_credentials("http://us%40er:p%3Ass@proxy:3128"), "us@er:p:ss");
  EXPECT_EQ(llm::proxy_credentials("http://proxy:3128"), "");
}

TEST(llm_retry_after, reads_milliseconds_seconds_and_http_dates) {
  auto now = std::chrono::sys_days{std::chrono::year{2026} / 11 / 29} + 10h;  // fake clock
  EXPECT_EQ(llm::parse_retry_after("1500", "", now), 1500ms);
  EXPECT_EQ(llm::parse_retry_after("250.7", "9", now), 250ms) << "retry-after-ms wins";
  EXPECT_EQ(llm::parse_retry_after("", "3", now), 3000ms);
  EXPECT_EQ(llm::parse_retry_after("", " 1.5 ", now), 1500ms);
  EXPECT_EQ(llm::parse_retry_after("", "Sun, 29 Nov 2026 10:00:07 GMT", now), 7000ms);
  EXPECT_EQ(llm::parse_retry_after("", "Sunday, 29-Nov-26 10:01:00 GMT", now), 60000ms);
  EXPECT_EQ(llm::parse_retry_after("", "Sun Nov 29 10:00:02 2026", now), 2000ms);
  EXPECT_EQ(llm::parse_retry_after("", "Sun Nov  1 10:00:02 2026", now), 0ms) << "a date in the past";
  EXPECT_FALSE(llm::parse_retry_after("", "", now));
  EXPECT_FALSE(llm::parse_retry_after("soon", "tomorrow", now));
  EXPECT_FALSE(llm::parse_retry_after("", "-5", now));
  EXPECT_FALSE(llm::parse_retry_after("", "Sun, 32 Nov 2026 10:00:07 GMT", now));
  EXPECT_FALSE(llm::parse_retry_after("", "Sun, 29 Nov 2026 10:00:07 PST", now));
}

TEST(llm_retry, non_retryable_failures_give_up_at_once) {
  llm::retry_policy p;
  llm::retry_state s(p);
  s.on_attempt(nullptr);
  EXPECT_EQ(s.on_failure(llm::failure_kind::fatal, std::nullopt, 0.5, nullptr).what, llm::retry_decision::action::give_up);
  EXPECT_EQ(s.on_failure(llm::failure_kind::stop_job, 10ms, 0.5, nullptr).what, llm::retry_decision::action::give_up);
}

TEST(llm_retry, backoff_is_exponential_with_full_jitter_and_capped) {
  llm::retry_policy p;
  p.max_attempts = 10;
  p.base_delay = 100ms;
  p.max_backoff = 1000ms;
  llm::retry_state s(p);
  std::vector<std::int64_t> top, bottom, mid;
  for (int i = 0; i < 6; ++i) {
    s.on_attempt(nullptr);
    top.push_back(s.on_failure(llm::failure_kind::retryable, std::nullopt, 0.999999, nullptr).delay.count());
    bottom.push_back(s.on_failure(llm::failure_kind::retryable, std::nullopt, 0.0, nullptr).delay.count());
    auto d = s.on_failure(llm::failure_kind::retryable, std::nullopt, 0.5, nullptr);
    EXPECT_FALSE(d.server_delay);
    mid.push_back(d.delay.count());
  }
  EXPECT_EQ(top, (std::vector<std::int64_t>{99, 199, 399, 799, 999, 999}));
  EXPECT_EQ(bottom, (std::vector<std::int64_t>{0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(mid, (std::vector<std::int64_t>{50, 100, 200, 400, 500, 500}));
}

TEST(llm_retry, server_delay_is_used_and_capped) {
  llm::retry_policy p;
  p.max_server_delay = 5000ms;
  llm::retry_state s(p);
  s.on_attempt(nullptr);
  auto d = s.on_failure(llm::failure_kind::retryable, 1200ms, 0.1, nullptr);
  EXPECT_EQ(d.what, llm::retry_decision::action::retry);
  EXPECT_TRUE(d.server_delay);
  EXPECT_EQ(d.delay, 1200ms);
  d = s.on_failure(llm::failure_kind::retryable, 3600'000ms, 0.1, nullptr);
  EXPECT_EQ(d.delay, 5000ms);
}

TEST(llm_retry, stops_after_max_attempts) {
  llm::retry_policy p;
  p.max_attempts = 3;
  llm::retry_state s(p);
  std::vector<llm::retry_decision::action> got;
  for (int i = 0; i < 3; ++i) {
    s.on_attempt(nullptr);
    got.push_back(s.on_failure(llm::failure_kind::retryable, std::nullopt, 0.5, nullptr).what);
  }
  using a = llm::retry_decision::action;
  EXPECT_EQ(got, (std::vector<a>{a::retry, a::retry, a::attempts_exhausted}));
  EXPECT_EQ(s.attempts(), 3u);
}

TEST(llm_retry, budget_limits_retries_across_requests) {
  llm::retry_policy p;
  p.max_attempts = 100;
  p.budget_initial = 2;
  p.budget_ratio = 0.5;
  p.budget_max = 3;
  llm::retry_budget budget(p);
  llm::retry_state a(p), b(p);
  a.on_attempt(&budget);  // deposits 0.5: 2.5
  EXPECT_DOUBLE_EQ(budget.balance(), 2.5);
  using act = llm::retry_decision::action;
  EXPECT_EQ(a.on_failure(llm::failure_kind::retryable, std::nullopt, 0, &budget).what, act::retry);  // 1.5
  EXPECT_EQ(a.on_failure(llm::failure_kind::retryable, std::nullopt, 0, &budget).what, act::retry);  // 0.5
  EXPECT_EQ(a.on_failure(llm::failure_kind::retryable, std::nullopt, 0, &budget).what, act::budget_exhausted);
  b.on_attempt(&budget);  // 1.0
  EXPECT_EQ(b.on_failure(llm::failure_kind::retryable, std::nullopt, 0, &budget).what, act::retry);
  EXPECT_EQ(b.on_failure(llm::failure_kind::retryable, std::nullopt, 0, &budget).what, act::budget_exhausted);
  for (int i = 0; i < 100; ++i) budget.on_first_attempt();
  EXPECT_DOUBLE_EQ(budget.balance(), 3.0) << "capped at budget_max";

  p.budget_ratio = -1;  // disabled
  llm::retry_budget off(p);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(off.try_spend());
}

namespace {
struct fake_clock {
  llm::rate_limiter::clock::time_point now{std::chrono::hours(1000)};
  void advance(llm::rate_limiter::clock::duration d) { now += d; }
};
}  // namespace

TEST(llm_rate, requests_per_minute_is_a_token_bucket) {
  fake_clock clock;
  llm::rate_limits l;
  l.requests_per_minute = 60;  // one per second
  l.burst = 5s;                // five at once
  l.max_in_flight = 0;
  llm::rate_limiter r(l, clock.now);
  for (int i = 0; i < 5; ++i) {
    auto d = r.try_acquire(0, clock.now);
    ASSERT_TRUE(d.granted) << i;
    r.settle(0, 0, clock.now);
  }
  auto d = r.try_acquire(0, clock.now);
  EXPECT_FALSE(d.granted);
  EXPECT_FALSE(d.wait_for_release);
  EXPECT_GE(d.wait, 1s);
  EXPECT_LE(d.wait, 1s + 2ms);
  clock.advance(999ms);
  EXPECT_FALSE(r.try_acquire(0, clock.now).granted);
  clock.advance(2ms);
  EXPECT_TRUE(r.try_acquire(0, clock.now).granted);
  clock.advance(1h);  // refills to the burst, not beyond
  int granted = 0;
  while (r.try_acquire(0, clock.now).granted) ++granted;
  EXPECT_EQ(granted, 5);
}

TEST(llm_rate, tokens_are_charged_up_front_and_settled_with_real_usage) {
  fake_clock clock;
  llm::rate_limits l;
  l.tokens_per_minute = 6000;  // 100 per second
  l.burst = 10s;               // 1000 tokens
  l.max_in_flight = 0;
  llm::rate_limiter r(l, clock.now);
  EXPECT_EQ(r.charge_for(100, 300), 400u);
  EXPECT_EQ(r.charge_for(100, std::nullopt), 100u + l.default_max_tokens);
  ASSERT_TRUE(r.try_acquire(400, clock.now).granted);
  ASSERT_TRUE(r.try_acquire(400, clock.now).granted);
  EXPECT_DOUBLE_EQ(r.token_balance(), 200);
  auto d = r.try_acquire(400, clock.now);
  ASSERT_FALSE(d.granted);
  EXPECT_GE(d.wait, 2s);  // 200 missing at 100/s
  r.settle(400, 150, clock.now);  // used 150 of 400: 250 back
  EXPECT_DOUBLE_EQ(r.token_balance(), 450);
  ASSERT_TRUE(r.try_acquire(400, clock.now).granted);
  r.settle(400, std::nullopt, clock.now);  // failed attempt: all refunded
  EXPECT_DOUBLE_EQ(r.token_balance(), 450);
  // A request larger than the whole bucket waits for a full bucket, then goes into debt.
  clock.advance(1h);
  ASSERT_TRUE(r.try_acquire(5000, clock.now).granted);
  EXPECT_DOUBLE_EQ(r.token_balance(), -4000);
  EXPECT_FALSE(r.try_acquire(1, clock.now).granted);
}

TEST(llm_rate, in_flight_cap_waits_for_a_release) {
  fake_clock clock;
  llm::rate_limits l;
  l.max_in_flight = 2;
  llm::rate_limiter r(l, clock.now);
  EXPECT_TRUE(r.try_acquire(10, clock.now).granted);
  EXPECT_TRUE(r.try_acquire(10, clock.now).granted);
  auto d = r.try_acquire(10, clock.now);
  EXPECT_FALSE(d.granted);
  EXPECT_TRUE(d.wait_for_release);
  r.settle(10, 10, clock.now);
  EXPECT_EQ(r.in_flight(), 1u);
  EXPECT_TRUE(r.try_acquire(10, clock.now).granted);
}

TEST(llm_rate, adapts_down_on_429_and_recovers) {
  fake_clock clock;
  llm::rate_limits l;
  l.requests_per_minute = 600;
  l.max_in_flight = 64;
  l.recovery_interval = 5s;
  l.recovery_step = 0.25;
  llm::rate_limiter r(l, clock.now);
  r.on_rate_limited(clock.now);
  EXPECT_DOUBLE_EQ(r.factor(), 0.5);
  EXPECT_EQ(r.in_flight_cap(), 32u);
  EXPECT_DOUBLE_EQ(r.effective_requests_per_minute(), 300);
  EXPECT_FALSE(r.try_acquire(0, clock.now).granted) << "the bucket is emptied on 429";
  r.on_rate_limited(clock.now);
  EXPECT_DOUBLE_EQ(r.factor(), 0.25);
  for (int i = 0; i < 20; ++i) r.on_rate_limited(clock.now);
  EXPECT_DOUBLE_EQ(r.factor(), l.min_factor);
  EXPECT_EQ(r.in_flight_cap(), 2u);
  r.on_success(clock.now + 4s);  // too soon
  EXPECT_DOUBLE_EQ(r.factor(), l.min_factor);
  clock.advance(5s);
  r.on_success(clock.now);
  EXPECT_DOUBLE_EQ(r.factor(), l.min_factor + 0.25);
  for (int i = 0; i < 10; ++i) {
    clock.advance(5s);
    r.on_success(clock.now);
  }
  EXPECT_DOUBLE_EQ(r.factor(), 1.0);
  EXPECT_EQ(r.in_flight_cap(), 64u);

  l.adaptive = false;
  llm::rate_limiter fixed(l, clock.now);
  fixed.on_rate_limited(clock.now);
  EXPECT_DOUBLE_EQ(fixed.factor(), 1.0);
}

namespace {
llm::wire_context ctx() {
  return {"openrouter", "openrouter.ai", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", "sk-or-secret-key", "m/x"};
}
}  // namespace

TEST(llm_wire, serializes_only_what_was_set_and_merges_extra) {
  llm::chat_request r;
  r.model = "m/x";
  r.messages = {{"system", "be brief"}, {"user", "hi \"there\""}};
  auto v = boost::json::parse(llm::serialize_request(r)).as_object();
  EXPECT_EQ(v["model"], "m/x");
  EXPECT_EQ(v["messages"].as_array().size(), 2u);
  EXPECT_EQ(v["messages"].as_array()[1].as_object()["content"], "hi \"there\"");
  EXPECT_FALSE(v.contains("max_tokens"));
  EXPECT_FALSE(v.contains("logprobs"));
  r.max_tokens = 100;
  r.temperature = 0.0;
  r.logprobs = true;
  r.top_logprobs = 3;
  r.extra["provider"] = boost::json::object{{"sort", "price"}};
  r.extra["temperature"] = 0.5;
  v = boost::json::parse(llm::serialize_request(r)).as_object();
  EXPECT_EQ(v["max_tokens"].to_number<int>(), 100);
  EXPECT_EQ(v["logprobs"], true);
  EXPECT_EQ(v["top_logprobs"].to_number<int>(), 3);
  EXPECT_EQ(v["temperature"].as_double(), 0.5) << "extra overrides";
  EXPECT_TRUE(v["provider"].is_object());
}

TEST(llm_wire, parses_text_usage_cost_model_and_logprobs) {
  auto body = R"({"id":"gen-1","model":"openai/gpt-4o-mini","choices":[{"message":{"role":"assistant","content":"Hello"},
    "finish_reason":"stop","logprobs":{"content":[{"token":"Hel","logprob":-0.25,"top_logprobs":[{"token":"Hel","logprob":-0.25},
    {"token":"Hi","logprob":-1.5}]},{"token":"lo","logprob":-0.01}]}}],
    "usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14,"cost":0.00042}})";
  auto r = llm::parse_chat_response(body, ctx());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text, "Hello");
  EXPECT_EQ(r->finish_reason, "stop");
  EXPECT_EQ(r->model, "openai/gpt-4o-mini");
  EXPECT_EQ(r->id, "gen-1");
  EXPECT_EQ(r->usage.prompt_tokens, 12u);
  EXPECT_EQ(r->usage.completion_tokens, 2u);
  EXPECT_EQ(r->usage.total_tokens, 14u);
  ASSERT_TRUE(r->usage.cost);
  EXPECT_DOUBLE_EQ(*r->usage.cost, 0.00042);
  ASSERT_EQ(r->logprobs.size(), 2u);
  EXPECT_EQ(r->logprobs[0].token, "Hel");
  EXPECT_DOUBLE_EQ(r->logprobs[0].logprob, -0.25);
  ASSERT_EQ(r->logprobs[0].top.size(), 2u);
  EXPECT_EQ(r->logprobs[0].top[1].token, "Hi");
  EXPECT_TRUE(r->logprobs[1].top.empty());

  r = llm::parse_chat_response(R"({"choices":[{"message":{"content":"x"}}]})", ctx());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->usage.cost);
  EXPECT_EQ(r->usage.total_tokens, 0u);
}

TEST(llm_wire, classifies_bad_bodies_and_errors_inside_200) {
  auto fail = [](std::string_view body) { return llm::parse_chat_response(body, ctx()).error(); };
  auto f = fail("{not json");
  EXPECT_TRUE(f.error == errc::bad_response);
  EXPECT_EQ(f.kind, llm::failure_kind::retryable);
  f = fail(R"({"choices":[]})");
  EXPECT_EQ(f.kind, llm::failure_kind::retryable);
  f = fail(R"({"choices":[{"message":{"content":null},"finish_reason":"length"}]})");
  EXPECT_TRUE(f.error == errc::bad_response);
  EXPECT_EQ(f.kind, llm::failure_kind::fatal);
  EXPECT_NE(f.error.message.find("finish_reason: length"), std::string::npos);
  EXPECT_NE(f.error.message.find("max_tokens"), std::string::npos);
  f = fail(R"({"error":{"code":502,"message":"upstream down","metadata":{"provider_name":"Acme","raw":"boom"}}})");
  EXPECT_TRUE(f.error == errc::provider_error);
  EXPECT_EQ(f.kind, llm::failure_kind::retryable);
  EXPECT_EQ(f.status, 502u);
  EXPECT_EQ(f.error.remote, "upstream down [provider Acme]: boom");
  f = fail(R"({"error":{"code":402,"message":"Insufficient credits"}})");
  EXPECT_TRUE(f.error == errc::payment_required);
  EXPECT_EQ(f.kind, llm::failure_kind::stop_job);
  f = fail(R"({"error":{"code":"400","message":"bad"}})");
  EXPECT_TRUE(f.error == errc::bad_request);
  EXPECT_EQ(f.kind, llm::failure_kind::fatal);
  f = fail(R"({"error":{"message":"something"}})");  // no code: assume a transient provider failure
  EXPECT_EQ(f.kind, llm::failure_kind::retryable);
  f = fail(R"({"choices":[{"error":{"code":500,"message":"model crashed"},"finish_reason":"error"}]})");
  EXPECT_TRUE(f.error == errc::provider_error);
  EXPECT_EQ(f.kind, llm::failure_kind::retryable);
  EXPECT_EQ(f.error.remote, "model crashed");
}

TEST(llm_wire, status_errors_name_the_endpoint_the_status_and_the_fix) {
  auto f = llm::classify_status(401, R"({"error":{"message":"Invalid key sk-or-secret-key","code":401}})", ctx());
  EXPECT_TRUE(f.error == errc::unauthorized);
  EXPECT_EQ(f.kind, llm::failure_kind::fatal);
  EXPECT_EQ(f.error.message, "401 from openrouter.ai: the API key was rejected; set OPENROUTER_API_KEY");
  EXPECT_EQ(f.error.remote, "Invalid key [redacted]") << "the key never appears";
  struct row {
    unsigned status;
    errc code;
    llm::failure_kind kind;
  };
  using k = llm::failure_kind;
  for (auto [status, code, kind] : {row{400, errc::bad_request, k::fatal}, row{402, errc::payment_required, k::stop_job},
                                    row{403, errc::forbidden, k::fatal}, row{404, errc::not_found, k::fatal},
                                    row{408, errc::server_error, k::retryable}, row{409, errc::server_error, k::retryable},
                                    row{422, errc::bad_request, k::fatal}, row{429, errc::rate_limited, k::retryable},
                                    row{500, errc::server_error, k::retryable}, row{503, errc::server_error, k::retryable},
                                    row{599, errc::server_error, k::retryable}, row{301, errc::bad_response, k::fatal},
                                    row{413, errc::bad_request, k::fatal}}) {
    auto g = llm::classify_status(status, "plain text\nbody", ctx(), 5ms);
    EXPECT_TRUE(g.error == code) << status;
    EXPECT_EQ(g.kind, kind) << status;
    EXPECT_EQ(g.server_delay, 5ms);
    EXPECT_EQ(g.error.message.rfind(std::to_string(status) + " from openrouter.ai: ", 0), 0u) << g.error.message;
    EXPECT_EQ(g.error.remote, "plain text body") << "one line";
    EXPECT_EQ(g.error.message.find('\n'), std::string::npos);
  }
  auto nf = llm::classify_status(404, "", ctx());
  EXPECT_NE(nf.error.message.find("https://openrouter.ai/api/v1"), std::string::npos);
  EXPECT_NE(nf.error.message.find("'m/x'"), std::string::npos);
}

TEST(llm_wire, one_line_truncates_on_utf8_boundaries_and_redacts) {
  std::string s = "ab\xC3\xA9" "cd";  // "abécd"
  EXPECT_EQ(llm::one_line(s, "", 3), "ab...");
  EXPECT_EQ(llm::one_line(s, "", 4), "ab\xC3\xA9...");
  EXPECT_EQ(llm::one_line("key=SECRET; again SECRET", "SECRET"), "key=[redacted]; again [redacted]");
  EXPECT_EQ(llm::one_line("abc", "ab"), "abc") << "secrets shorter than 4 bytes are not searched";
}

namespace {
llm::embedding_request texts(std::size_t n, std::optional<std::uint32_t> dimensions = std::nullopt) {
  llm::embedding_request r;
  r.model = "m/x";
  for (std::size_t i = 0; i < n; ++i) r.input.push_back("text " + std::to_string(i));
  r.dimensions = dimensions;
  return r;
}
}  // namespace

TEST(llm_wire, serializes_embedding_requests_as_a_list_of_floats) {
  llm::embedding_request r;
  r.model = "text-embedding-3-small";
  r.input = {"one", "two \"quoted\""};
  auto v = boost::json::parse(llm::serialize_request(r)).as_object();
  EXPECT_EQ(v.size(), 3u) << boost::json::serialize(v);
  EXPECT_EQ(v["model"], "text-embedding-3-small");
  ASSERT_TRUE(v["input"].is_array());
  EXPECT_EQ(v["input"].as_array(), (boost::json::array{"one", "two \"quoted\""}));
  EXPECT_EQ(v["encoding_format"], "float");
  EXPECT_FALSE(v.contains("dimensions"));
  r.input = {"alone"};
  r.dimensions = 64;
  v = boost::json::parse(llm::serialize_request(r)).as_object();
  EXPECT_EQ(v["input"].as_array(), (boost::json::array{"alone"})) << "always a list, even of one";
  EXPECT_EQ(v["dimensions"].to_number<int>(), 64);
}

TEST(llm_wire, estimates_embedding_input_tokens_from_bytes) {
  llm::embedding_request r;
  EXPECT_EQ(llm::estimate_input_tokens(r), 0u);
  r.input = {std::string(400, 'x'), "", "abc"};
  EXPECT_EQ(llm::estimate_input_tokens(r), 403u / 4 + 3) << "about four bytes a token, plus one a text";
}

TEST(llm_wire, parses_embeddings_into_input_order_by_index) {
  auto body = R"({"object":"list","model":"m/x-v2","data":[
    {"object":"embedding","index":2,"embedding":[0,0,1]},
    {"object":"embedding","index":0,"embedding":[0.5,-0.25,2e-3]},
    {"object":"embedding","index":1,"embedding":[1,-1,0]}],
    "usage":{"prompt_tokens":9,"total_tokens":9,"cost":0.00002}})";
  auto r = llm::parse_embedding_response(body, texts(3), ctx());
  ASSERT_TRUE(r) << r.error().error.what();
  ASSERT_EQ(r->embeddings.size(), 3u);
  EXPECT_EQ(r->embeddings[0], (std::vector<float>{0.5f, -0.25f, 2e-3f}));
  EXPECT_EQ(r->embeddings[1], (std::vector<float>{1, -1, 0}));
  EXPECT_EQ(r->embeddings[2], (std::vector<float>{0, 0, 1}));
  EXPECT_EQ(r->model, "m/x-v2");
  EXPECT_EQ(r->usage.prompt_tokens, 9u);
  EXPECT_EQ(r->usage.completion_tokens, 0u);
  EXPECT_EQ(r->usage.total_tokens, 9u);
  ASSERT_TRUE(r->usage.cost);
  EXPECT_DOUBLE_EQ(*r->usage.cost, 0.00002);

  // Without "index" the list's order is the input order; without total_tokens, prompt_tokens is it.
  r = llm::parse_embedding_response(R"({"data":[{"embedding":[3]},{"embedding":[4]}],"usage":{"prompt_tokens":4}})",
                                    texts(2), ctx());
  ASSERT_TRUE(r) << r.error().error.what();
  EXPECT_EQ(r->embeddings, (std::vector<std::vector<float>>{{3}, {4}}));
  EXPECT_EQ(r->usage.total_tokens, 4u);
  EXPECT_FALSE(r->usage.cost);
  EXPECT_EQ(r->model, "");

  r = llm::parse_embedding_response(R"({"data":[{"index":0,"embedding":[1,2,3]}]})", texts(1, 3), ctx());
  ASSERT_TRUE(r) << "dimensions met";
}

TEST(llm_wire, parses_base64_embeddings_of_little_endian_float32) {
  // [1.0, -2.5] as little-endian float32 is 00 00 80 3f 00 00 20 c0.
  auto r = llm::parse_embedding_response(R"({"data":[{"index":0,"embedding":"AACAPwAAIMA="}]})", texts(1), ctx());
  ASSERT_TRUE(r) << r.error().error.what();
  EXPECT_EQ(r->embeddings[0], (std::vector<float>{1.0f, -2.5f}));
  for (auto [b64, why] : {std::pair{"AAC*PwAA", "not base64"}, std::pair{"AACA", "3 bytes"},
                          std::pair{"AADAfw==", "not a finite number at position 0"} /* NaN */}) {
    auto f = llm::parse_embedding_response(std::string(R"({"data":[{"embedding":")") + b64 + "\"}]}", texts(1), ctx());
    ASSERT_FALSE(f) << b64;
    EXPECT_TRUE(f.error().error == errc::bad_response);
    EXPECT_NE(f.error().error.message.find(why), std::string::npos) << f.error().error.message;
  }
}

TEST(llm_wire, bad_embedding_answers_are_fatal_and_say_what_was_wrong) {
  struct row {
    char const* body;
    std::size_t inputs;
    std::optional<std::uint32_t> dimensions;
    char const* says;
  };
  for (auto const& each : {
           row{R"({"object":"list"})", 1, {}, "has no \"data\" list; check that the base URL serves OpenAI's /embeddings"},
           row{R"({"data":{"embedding":[1]}})", 1, {}, "has no \"data\" list"},
           row{R"({"data":[{"embedding":[1]}]})", 2, {}, "has 1 vectors for 2 inputs"},
           row{R"({"data":[{"embedding":[1]},{"embedding":[2]}]})", 1, {}, "has 2 vectors for 1 inputs"},
           row{R"({"data":[{"embedding":[0.1,"x"]}]})", 1, {}, "vector for input 0 has a value that is not a finite number at position 1 (\"x\")"},
           row{R"({"data":[{"embedding":[0.1,null]}]})", 1, {}, "not a finite number at position 1 (null)"},
           row{R"({"data":[{"embedding":[0e400,1]}]})", 1, {}, "not a finite number at position 0"},  // NaN in Boost.JSON 1.81
           row{R"({"data":[{"embedding":[1,1e400]}]})", 1, {}, "not a finite number at position 1"},   // infinity
           row{R"({"data":[{"embedding":[1e39]}]})", 1, {}, "not a finite number at position 0"},      // beyond float
           row{R"({"data":[{"embedding":[[1]]}]})", 1, {}, "not a finite number at position 0"},
           row{R"({"data":[{"index":0,"embedding":[1,2]},{"index":1,"embedding":[1,2,3]}]})", 2, {},
               "has vectors of different lengths: 2 values for input 0, 3 for input 1"},
           row{R"({"data":[{"embedding":[]}]})", 1, {}, "vector for input 0 is empty"},
           row{R"({"data":[{"index":0}]})", 1, {}, "vector for input 0 is missing"},
           row{R"({"data":[{"index":0,"embedding":7}]})", 1, {}, "vector for input 0 is missing"},
           row{R"({"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]})", 2, {}, "has two vectors with index 0"},
           row{R"({"data":[{"index":2,"embedding":[1]},{"index":0,"embedding":[2]}]})", 2, {}, "gives item 0 the index 2, not one of 0..1"},
           row{R"({"data":[{"index":-1,"embedding":[1]}]})", 1, {}, "the index -1"},
           row{R"({"data":[{"index":0.5,"embedding":[1]}]})", 1, {}, "the index 5E-1"},
           row{R"({"data":[{"index":"0","embedding":[1]}]})", 1, {}, "the index \"0\""},
           row{R"({"data":[{"embedding":[1,2]}]})", 1, 3u, "has 2 values per vector where 3 dimensions were asked for"},
       }) {
    SCOPED_TRACE(each.body);
    auto f = llm::parse_embedding_response(each.body, texts(each.inputs, each.dimensions), ctx());
    ASSERT_FALSE(f);
    EXPECT_TRUE(f.error().error == errc::bad_response);
    EXPECT_EQ(f.error().kind, llm::failure_kind::fatal) << "the same input would get the same answer";
    EXPECT_EQ(f.error().status, 200u);
    auto const& m = f.error().error.message;
    EXPECT_EQ(m.rfind("200 from openrouter.ai: the embeddings answer ", 0), 0u) << m;
    EXPECT_NE(m.find(each.says), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos);
  }
  // Invalid JSON and errors inside a 200 are read as for chats.
  auto f = llm::parse_embedding_response("{\"data\": [", texts(1), ctx()).error();
  EXPECT_TRUE(f.error == errc::bad_response);
  EXPECT_EQ(f.kind, llm::failure_kind::retryable);
  f = llm::parse_embedding_response(R"({"error":{"code":401,"message":"bad key sk-or-secret-key"}})", texts(1), ctx()).error();
  EXPECT_TRUE(f.error == errc::unauthorized);
  EXPECT_EQ(f.error.remote, "bad key [redacted]");
  f = llm::parse_embedding_response(R"({"error":{"code":503,"message":"warming up"}})", texts(1), ctx()).error();
  EXPECT_TRUE(f.error == errc::provider_error);
  EXPECT_EQ(f.kind, llm::failure_kind::retryable);
}

TEST(fake_embedding, is_a_normalised_hashed_bag_of_lowercased_words) {
  namespace t = autointerp::testing;
  EXPECT_EQ(t::fnv1a64(""), 14695981039346656037ull);
  EXPECT_EQ(t::fnv1a64("a"), 0xaf63dc4c8601ec8cull);  // the published FNV-1a test vector
  EXPECT_EQ(t::fake_embedding_words("Don't stop, 2x!  ÉtÉ"), (std::vector<std::string>{"don", "t", "stop", "2x", "t"}))
      << "non-ASCII bytes separate words";
  auto cat = t::fake_embedding("The cat");
  ASSERT_EQ(cat.size(), t::fake_embedding_dimension);
  ASSERT_EQ(t::fake_embedding_dimension, 256u);
  for (std::size_t i = 0; i < cat.size(); ++i) {
    bool hit = i == t::fnv1a64("the") % 256 || i == t::fnv1a64("cat") % 256;
    EXPECT_FLOAT_EQ(cat[i], hit ? static_cast<float>(1 / std::sqrt(2.0)) : 0.0f) << i;
  }
  EXPECT_EQ(t::fake_embedding("cat, THE!"), cat) << "order, case and punctuation do not matter";
  EXPECT_EQ(t::fake_embedding("Instruct: find it.\nQuery: the CAT"), cat) << "a query's instruction does not count";
  EXPECT_EQ(t::fake_embedding("Instruct: find it.\nQuery: the token \" cat\""), t::fake_embedding("cat"))
      << "a query with a quoted token is that token";
  EXPECT_EQ(t::fake_embedding_words("a >>> b == c, d"), (std::vector<std::string>{"a", ">>>", "b", "==", "c", "d"}));
  auto twice = t::fake_embedding("cat cat");
  EXPECT_FLOAT_EQ(twice[t::fnv1a64("cat") % 256], 1.0f);
  EXPECT_EQ(t::fake_embedding(". ! ?"), std::vector<float>(256, 0.0f)) << "no words, no direction";
  double norm = 0;
  for (float x : t::fake_embedding("a longer text with several words, some repeated: words words")) norm += double(x) * x;
  EXPECT_NEAR(norm, 1.0, 1e-6);
}

TEST(llm_wire, reads_cached_prompt_tokens_and_marks_the_servers_cost) {
  auto r = llm::parse_chat_response(R"({"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":100,
    "completion_tokens":5,"prompt_tokens_details":{"cached_tokens":64},"cost":0.001}})", ctx());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->usage.cached_tokens, 64u);
  EXPECT_TRUE(r->usage.cost_from_server);
  auto t = llm::accounted(r->usage);
  EXPECT_EQ(t.prompt_tokens, 100u);
  EXPECT_EQ(t.cached_tokens, 64u);
  EXPECT_DOUBLE_EQ(t.cost, 0.001);
  // More cached than prompt tokens is the server's mistake: capped at the prompt.
  r = llm::parse_chat_response(R"({"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":10,
    "completion_tokens":1,"prompt_tokens_details":{"cached_tokens":50}}})", ctx());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->usage.cached_tokens, 10u);
  EXPECT_FALSE(r->usage.cost_from_server);
}

TEST(llm_prices, parse_the_flag_and_the_file_and_price_cached_tokens) {
  auto p = llm::parse_price_spec("prompt=0.15,completion=0.60,cached=0.075");
  ASSERT_TRUE(p) << p.error().what();
  // (900 x 0.15 + 100 x 0.075 + 50 x 0.60) / 1e6
  EXPECT_DOUBLE_EQ(p->cost(1000, 100, 50), (900 * 0.15 + 100 * 0.075 + 50 * 0.60) / 1e6);
  auto q = llm::parse_price_spec("completion=2,prompt=1");
  ASSERT_TRUE(q);
  EXPECT_DOUBLE_EQ(q->cost(1000, 400, 0), 1000 * 1.0 / 1e6);  // cached defaults to the prompt price
  for (char const* bad : {"prompt=1", "prompt=x,completion=1", "prompt=-1,completion=1", "prompt=1,completion=1,cache=2",
                          "prompt1,completion=2"}) {
    auto e = llm::parse_price_spec(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_NE(e.error().what().find("--price"), std::string::npos) << e.error().what();
  }
  auto t = llm::parse_price_file(R"({"openai/gpt-4o-mini":{"prompt":0.15,"completion":0.6},"*":{"prompt":1,"completion":2,"cached":0.5}})",
                                 "prices.json");
  ASSERT_TRUE(t) << t.error().what();
  ASSERT_NE(t->find("openai/gpt-4o-mini"), nullptr);
  EXPECT_DOUBLE_EQ(t->find("openai/gpt-4o-mini")->completion, 0.6);
  ASSERT_NE(t->find("other"), nullptr);
  EXPECT_DOUBLE_EQ(t->find("other")->cached_price(), 0.5);
  EXPECT_FALSE(llm::parse_price_file(R"({"m":{"prompt":1}})", "p.json"));
  EXPECT_FALSE(llm::parse_price_file(R"({"m":{"prompt":1e400,"completion":1}})", "p.json"));
  auto e = llm::parse_price_file("[1]", "p.json");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().what().find("p.json"), std::string::npos);
  EXPECT_FALSE(llm::load_price_file("/nonexistent/prices.json"));
}

TEST(llm_budget, admits_within_the_limit_counts_earlier_spending_and_finishes_started_groups) {
  llm::budget_limits limits;
  limits.max_cost_usd = 1.0;
  llm::token_usage earlier;
  earlier.cost = 0.5;
  llm::spend_budget b(limits, earlier);
  llm::token_prices prices{100, 0, std::nullopt};  // $0.10 per 1000 prompt tokens
  auto e = b.estimate("explain", 1000, std::nullopt, &prices);
  EXPECT_DOUBLE_EQ(e.cost_usd, 0.1);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(b.admit("m/" + std::to_string(i) + "/explain", e));
  EXPECT_DOUBLE_EQ(b.reserved().cost_usd, 0.4);
  // 0.5 spent + 0.4 in flight + 0.1 = 1.0: admitted; the next new group is not.
  ASSERT_TRUE(b.admit("m/4/explain", e));
  auto refused = b.admit("m/5/explain", e);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error() == errc::budget_exhausted);
  EXPECT_TRUE(is_fatal(refused.error()));
  EXPECT_NE(refused.error().what().find("--max-cost $1.0000"), std::string::npos) << refused.error().what();
  EXPECT_NE(refused.error().what().find("$0.5000 spent"), std::string::npos) << refused.error().what();
  // A group already started goes on; a refusal is latched for new groups.
  EXPECT_TRUE(b.admit("m/4/explain", e));
  EXPECT_TRUE(b.exhausted());
  // Settling releases the reservation and spends what was reported.
  llm::token_usage used;
  used.prompt_tokens = 1000;
  used.cost = 0.12;
  for (int i = 0; i < 6; ++i) b.settle("explain", e, used, true);
  EXPECT_NEAR(b.reserved().cost_usd, 0.0, 1e-12);
  EXPECT_NEAR(b.spent().cost, 0.5 + 6 * 0.12, 1e-12);
  EXPECT_NEAR(b.cost_overrun(), 0.5 + 6 * 0.12 - 1.0, 1e-12);
  // Without prices a call is estimated at its stage's mean cost so far.
  EXPECT_NEAR(b.estimate("explain", 1000, std::nullopt, nullptr).cost_usd, 0.12, 1e-12);
  EXPECT_DOUBLE_EQ(b.estimate("detection", 1000, std::nullopt, nullptr).cost_usd, 0.0);
  // With max_tokens the completion is priced at its cap.
  llm::token_prices with_completion{0, 1e6, std::nullopt};
  EXPECT_DOUBLE_EQ(b.estimate("explain", 0, 3, &with_completion).cost_usd, 3.0);
}

TEST(llm_budget, prompt_token_limit_and_tags_name_latent_stages) {
  llm::budget_limits limits;
  limits.max_prompt_tokens = 250;
  llm::spend_budget b(limits);
  auto e = b.estimate("fuzz", 100, 10, nullptr);
  ASSERT_TRUE(b.admit("", e));
  ASSERT_TRUE(b.admit("", e));
  auto refused = b.admit("", e);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().what().find("--max-prompt-tokens 250"), std::string::npos) << refused.error().what();
  llm::call_tag tag{"layers.6", 69, "detection", 3, 0};
  EXPECT_EQ(tag.group(), "layers.6/69/detection");
  EXPECT_EQ(tag.custom_id(), "layers.6/69/detection/3");
  tag.ask = 2;
  EXPECT_EQ(tag.custom_id(), "layers.6/69/detection/3/r2");
}

// The OpenAI Batch API's sans-io parts: statuses and the poll schedule, input files, result files
// and their index, batches.jsonl, and the API objects.

namespace batch = autointerp::batch;

namespace {

/// A fresh folder under the temp dir, removed at the end of the test.
struct temp_folder {
  std::filesystem::path path;
  explicit temp_folder(std::string const& name) {
    path = std::filesystem::temp_directory_path() / ("autointerp-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~temp_folder() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string slurp(std::filesystem::path const& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

llm::chat_request tagged(std::uint32_t latent, std::string model = "gpt-test") {
  llm::chat_request r;
  r.model = std::move(model);
  r.messages = {{"system", "You explain latents."}, {"user", "Latent " + std::to_string(latent) + " says \"hi\"\n"}};
  r.max_tokens = 100;
  r.temperature = 0.0;
  r.tag = llm::call_tag{"layers.3", latent, "explain", 0, 0};
  return r;
}

std::string output_line(std::string const& custom_id, std::string const& text, unsigned prompt = 40, unsigned cached = 32) {
  return R"({"id":"batch_req_1","custom_id":")" + custom_id + R"(","response":{"status_code":200,"request_id":"req_1","body":)" +
         R"({"id":"chatcmpl-1","model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":")" + text +
         R"("},"finish_reason":"stop"}],"usage":{"prompt_tokens":)" + std::to_string(prompt) +
         R"(,"completion_tokens":7,"total_tokens":)" + std::to_string(prompt + 7) +
         R"(,"prompt_tokens_details":{"cached_tokens":)" + std::to_string(cached) + R"(}}}},"error":null})";
}

}  // namespace

TEST(batch_status, names_parse_back_and_four_are_terminal) {
  using s = batch::batch_status;
  for (auto st : {s::validating, s::in_progress, s::finalizing, s::completed, s::failed, s::expired, s::cancelling, s::cancelled})
    EXPECT_EQ(batch::parse_batch_status(batch::to_string(st)), st);
  EXPECT_EQ(batch::to_string(s::in_progress), "in_progress");
  EXPECT_FALSE(batch::parse_batch_status("done"));
  EXPECT_FALSE(batch::parse_batch_status("Completed"));
  std::vector<s> terminal;
  for (auto st : {s::validating, s::in_progress, s::finalizing, s::completed, s::failed, s::expired, s::cancelling, s::cancelled})
    if (batch::is_terminal(st)) terminal.push_back(st);
  EXPECT_EQ(terminal, (std::vector<s>{s::completed, s::failed, s::expired, s::cancelled}));
  EXPECT_TRUE(batch::has_results(s::expired));
  EXPECT_FALSE(batch::has_results(s::failed));
}

TEST(batch_status, polls_after_the_interval_then_backs_off_to_a_minute) {
  batch::poll_schedule p;  // --batch-poll-interval 10 s, x1.5, at most 60 s
  std::vector<std::int64_t> waits;
  for (int i = 0; i < 8; ++i) waits.push_back(p.next().count());
  EXPECT_EQ(waits, (std::vector<std::int64_t>{10'000, 15'000, 22'500, 33'750, 50'625, 60'000, 60'000, 60'000}));
  p.reset();
  EXPECT_EQ(p.next().count(), 10'000);

  batch::poll_schedule doubling({2s, 2.0, 60s});
  EXPECT_EQ(doubling.next(), 2s);
  EXPECT_EQ(doubling.next(), 4s);
  EXPECT_EQ(doubling.next(), 8s);
  // A first interval above the cap is kept: the cap never shortens what the user asked for.
  batch::poll_schedule slow({120s, 1.5, 60s});
  EXPECT_EQ(slow.next(), 120s);
  EXPECT_EQ(slow.next(), 120s);
  // A factor below 1 (or NaN) would poll ever faster: treated as 1.
  batch::poll_schedule flat({5s, 0.5, 60s});
  flat.next();
  EXPECT_EQ(flat.next(), 5s);
  batch::poll_schedule nan({5s, std::nan(""), 60s});
  nan.next();
  EXPECT_EQ(nan.next(), 5s);
}

TEST(batch_request_file, lines_carry_the_clients_own_body_and_files_split_at_the_limits) {
  temp_folder dir("reqfile");
  auto req = tagged(7);
  auto line = batch::request_line(req.tag->custom_id(), req);
  ASSERT_EQ(line.back(), '\n');
  auto v = boost::json::parse(line);
  EXPECT_EQ(v.at("custom_id"), "layers.3/7/explain/0");
  EXPECT_EQ(v.at("method"), "POST");
  EXPECT_EQ(v.at("url"), "/v1/chat/completions");
  // The body is the client's serialization byte for byte, embedded as is.
  auto body = llm::serialize_request(req);
  EXPECT_NE(line.find("\"body\":" + body + "}\n"), std::string::npos);
  EXPECT_EQ(v.at("body"), boost::json::parse(body));

  // Split at 2 requests per file.
  batch::request_file_writer w(dir.path, "explain", {2, 1'000'000});
  std::vector<batch::request_file_info> closed;
  for (std::uint32_t i = 0; i < 5; ++i) {
    auto r = tagged(i);
    auto c = w.add(r.tag->custom_id(), r);
    ASSERT_TRUE(c) << c.error().message;
    if (*c) closed.push_back(std::move(**c));
    // While a file is written it is only under its temporary name.
    EXPECT_FALSE(std::filesystem::exists(dir.path / ("explain-0000" + std::to_string(closed.size()) + ".jsonl")));
  }
  auto last = w.close();
  ASSERT_TRUE(last && *last);
  closed.push_back(std::move(**last));
  ASSERT_EQ(closed.size(), 3u);
  EXPECT_EQ(closed[0].requests, 2u);
  EXPECT_EQ(closed[2].requests, 1u);
  EXPECT_EQ(closed[1].custom_ids, (std::vector<std::string>{"layers.3/2/explain/0", "layers.3/3/explain/0"}));
  EXPECT_EQ(closed[2].path, dir.path / "explain-00002.jsonl");
  EXPECT_EQ(closed[0].model, "gpt-test");
  std::size_t files = 0;
  for (auto const& f : closed) {
    auto text = slurp(f.path);
    EXPECT_EQ(text.size(), f.bytes);
    EXPECT_EQ(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')), f.requests);
  }
  for (auto const& e : std::filesystem::directory_iterator(dir.path)) {
    ++files;
    EXPECT_EQ(e.path().extension(), ".jsonl") << "no temporary left: " << e.path();
  }
  EXPECT_EQ(files, 3u);
  auto nothing = w.close();
  ASSERT_TRUE(nothing);
  EXPECT_FALSE(*nothing);

  // Split by bytes: a limit that holds two lines but not three; and by model.
  auto one = batch::request_line("layers.3/0/explain/0", tagged(0)).size();
  batch::request_file_writer by_bytes(dir.path / "b", "detection", {50'000, 2 * one + 1});
  std::size_t splits = 0;
  for (std::uint32_t i = 0; i < 4; ++i) {
    auto r = tagged(i);
    auto c = by_bytes.add(r.tag->custom_id(), r);
    ASSERT_TRUE(c);
    splits += c->has_value();
    if (*c) {
      EXPECT_LE((*c)->bytes, 2 * one + 1);
    }
  }
  EXPECT_EQ(splits, 1u);
  auto other = tagged(9, "gpt-other");
  auto c = by_bytes.add(other.tag->custom_id(), other);
  ASSERT_TRUE(c && *c) << "a new model starts a new file";
  EXPECT_EQ((*c)->model, "gpt-test");

  // Refused: a repeated custom_id in one file, a line over the byte limit, no id.
  batch::request_file_writer fresh(dir.path / "d", "detection");
  ASSERT_TRUE(fresh.add(other.tag->custom_id(), other));
  auto dup = fresh.add(other.tag->custom_id(), other);
  ASSERT_FALSE(dup);
  EXPECT_TRUE(dup.error() == errc::bad_option);
  EXPECT_NE(dup.error().message.find("layers.3/9/explain/0"), std::string::npos);
  batch::request_file_writer tiny(dir.path / "t", "x", {10, 20});
  auto big = tiny.add("id", tagged(1));
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message.find("more than an input file may hold"), std::string::npos);
  EXPECT_FALSE(tiny.add("", tagged(1)));
}

TEST(batch_result_file, reads_answers_with_cached_tokens_errors_and_survives_bad_lines) {
  std::string text = output_line("m/1/explain/0", "the token cat") + "\n" +
                     R"({"id":"batch_req_2","custom_id":"m/2/explain/0","response":{"status_code":400,"request_id":"req_2",)"
                     R"("body":{"error":{"message":"Invalid 'max_tokens'","type":"invalid_request_error"}}},"error":null})" "\n" +
                     R"({"id":"batch_req_3","custom_id":"m/3/explain/0","response":{"status_code":500,"request_id":"req_3",)"
                     R"("body":{"error":{"message":"server had an error"}}},"error":null})" "\n" +
                     "\n" +
                     R"({"id":"batch_req_4","custom_id":"m/4/explain/0","response":null,)"
                     R"("error":{"code":"batch_expired","message":"not run in time"}})" "\n" +
                     "this is not JSON\n" +
                     R"({"id":"x","response":{}})" "\n" +
                     output_line("m/5/explain/0", "ok").substr(0, 60);  // torn: the file ends mid-line
  std::istringstream in(text);
  batch::result_reader reader(in, "out.jsonl");
  std::vector<autointerp::result<batch::result_line>> got;
  while (auto r = reader.next()) got.push_back(std::move(*r));
  ASSERT_EQ(got.size(), 7u);

  ASSERT_TRUE(got[0]);
  ASSERT_TRUE(got[0]->ok());
  EXPECT_EQ(got[0]->custom_id, "m/1/explain/0");
  EXPECT_EQ(got[0]->status_code, 200u);
  EXPECT_EQ(got[0]->request_id, "req_1");
  EXPECT_EQ(got[0]->response->text, "the token cat");
  EXPECT_EQ(got[0]->response->usage.prompt_tokens, 40u);
  EXPECT_EQ(got[0]->response->usage.cached_tokens, 32u);
  EXPECT_EQ(got[0]->response->usage.completion_tokens, 7u);
  EXPECT_EQ(got[0]->response->finish_reason, "stop");

  ASSERT_TRUE(got[1]);
  ASSERT_TRUE(got[1]->failure);
  EXPECT_TRUE(got[1]->failure->error == errc::bad_request);
  EXPECT_EQ(got[1]->failure->kind, llm::failure_kind::fatal);
  EXPECT_NE(got[1]->failure->error.message.find("m/2/explain/0"), std::string::npos);
  EXPECT_NE(got[1]->failure->error.remote.find("Invalid 'max_tokens'"), std::string::npos);

  ASSERT_TRUE(got[2]);
  EXPECT_EQ(got[2]->failure->kind, llm::failure_kind::retryable);
  EXPECT_EQ(got[2]->status_code, 500u);

  ASSERT_TRUE(got[3]) << "the blank line is skipped";
  EXPECT_EQ(got[3]->custom_id, "m/4/explain/0");
  EXPECT_EQ(got[3]->status_code, 0u);
  EXPECT_EQ(got[3]->failure->kind, llm::failure_kind::retryable);
  EXPECT_NE(got[3]->failure->error.message.find("batch_expired"), std::string::npos);
  EXPECT_EQ(got[3]->failure->error.remote, "not run in time");

  ASSERT_FALSE(got[4]);
  EXPECT_TRUE(got[4].error() == errc::bad_response);
  EXPECT_NE(got[4].error().message.find("out.jsonl line 6"), std::string::npos);
  ASSERT_FALSE(got[5]);
  EXPECT_NE(got[5].error().message.find("custom_id"), std::string::npos);
  ASSERT_FALSE(got[6]);
  EXPECT_NE(got[6].error().message.find("torn"), std::string::npos);

  // A 200 whose answer has no text fails as a chat call would (fatal, naming the finish reason).
  auto null_content = batch::parse_result_line(
      R"({"custom_id":"a","response":{"status_code":200,"body":{"choices":[{"message":{"content":null},"finish_reason":"length"}]}}})");
  ASSERT_TRUE(null_content);
  ASSERT_TRUE(null_content->failure);
  EXPECT_NE(null_content->failure->error.message.find("raise max_tokens"), std::string::npos);
}

TEST(batch_result_file, the_index_finds_one_line_by_custom_id_and_the_last_round_wins) {
  temp_folder dir("resindex");
  auto out1 = dir.path / "round1.out.jsonl";
  auto err1 = dir.path / "round1.err.jsonl";
  auto out2 = dir.path / "round2.out.jsonl";
  {
    std::ofstream f(out1, std::ios::binary);
    for (int i = 0; i < 200; ++i) f << output_line("m/" + std::to_string(i) + "/explain/0", "first " + std::to_string(i)) << "\n";
    f << "garbage line\n";
  }
  {
    std::ofstream f(err1, std::ios::binary);
    f << R"({"id":"e","custom_id":"m/500/explain/0","response":null,"error":{"code":"batch_expired","message":"late"}})" << "\n";
  }
  {
    std::ofstream f(out2, std::ios::binary);
    f << output_line("m/500/explain/0", "retried") << "\n" << output_line("m/7/explain/0", "second 7");  // no final newline
  }
  auto ix = batch::result_index::build({out1, err1, out2});
  ASSERT_TRUE(ix) << ix.error().message;
  EXPECT_EQ(ix->size(), 203u);
  EXPECT_EQ(ix->bad_lines(), 1u);
  ASSERT_EQ(ix->first_bad_lines().size(), 1u);
  EXPECT_NE(ix->first_bad_lines()[0].message.find("round1.out.jsonl line 201"), std::string::npos);
  for (int i : {0, 1, 99, 199}) {
    auto r = ix->find("m/" + std::to_string(i) + "/explain/0");
    ASSERT_TRUE(r && *r) << i;
    EXPECT_EQ((*r)->response->text, "first " + std::to_string(i));
    EXPECT_EQ((*r)->response->usage.cached_tokens, 32u);
  }
  auto seven = ix->find("m/7/explain/0");
  ASSERT_TRUE(seven && *seven);
  EXPECT_EQ((*seven)->response->text, "second 7") << "a later file wins";
  auto retried = ix->find("m/500/explain/0");
  ASSERT_TRUE(retried && *retried);
  EXPECT_TRUE((*retried)->ok()) << "the retry's answer, not the expired line";
  auto missing = ix->find("m/1000/explain/0");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
  // Lookups in any order, repeated: each reads its own line.
  auto again = ix->find("m/0/explain/0");
  ASSERT_TRUE(again && *again);
  EXPECT_EQ((*again)->custom_id, "m/0/explain/0");

  auto none = batch::result_index::build({dir.path / "absent.jsonl"});
  ASSERT_FALSE(none);
  EXPECT_TRUE(none.error() == errc::file_not_found);
}

TEST(batch_log, records_batches_reads_them_back_and_answers_what_to_poll_and_what_not_to_resubmit) {
  temp_folder dir("batchlog");
  auto file = dir.path / "batches.jsonl";
  {
    auto log = batch::batch_log::open(file);
    ASSERT_TRUE(log) << log.error().message;
    batch::batch_record a{"batch_a", "file-1", "explain", batch::batch_status::validating, "", "", 0};
    ASSERT_TRUE(log->record_submitted(a, {"m/1/explain/0", "m/2/explain/0"}));
    batch::batch_record b{"batch_b", "file-2", "explain", batch::batch_status::validating, "", "", 0};
    ASSERT_TRUE(log->record_submitted(b, {"m/3/explain/0"}));
    batch::batch_record c{"batch_c", "file-3", "detection", batch::batch_status::validating, "", "", 0};
    ASSERT_TRUE(log->record_submitted(c, {"m/1/detection/0"}));
    ASSERT_TRUE(log->record_status("batch_a", batch::batch_status::in_progress));
    ASSERT_TRUE(log->record_status("batch_a", batch::batch_status::completed, "file-out", "file-err"));
    ASSERT_TRUE(log->record_status("batch_c", batch::batch_status::failed));
    EXPECT_FALSE(log->record_status("batch_zzz", batch::batch_status::completed)) << "unknown batches are refused";
    EXPECT_TRUE(log->is_submitted("m/3/explain/0"));
  }
  // A crash mid-append leaves a torn last line.
  {
    std::ofstream f(file, std::ios::binary | std::ios::app);
    f << R"({"batch_id":"batch_b","status":"compl)";
  }
  auto log = batch::batch_log::open(file);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->skipped_lines(), 1u);
  ASSERT_EQ(log->batches().size(), 3u);
  auto const* a = log->find("batch_a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, batch::batch_status::completed);
  EXPECT_EQ(a->output_file_id, "file-out");
  EXPECT_EQ(a->error_file_id, "file-err");
  EXPECT_EQ(a->input_file_id, "file-1");
  EXPECT_EQ(a->requests, 2u);
  auto unfinished = log->unfinished();
  ASSERT_EQ(unfinished.size(), 1u);
  EXPECT_EQ(unfinished[0].batch_id, "batch_b");
  EXPECT_EQ(unfinished[0].stage, "explain");
  EXPECT_TRUE(log->is_submitted("m/1/explain/0"));
  EXPECT_TRUE(log->is_submitted("m/3/explain/0")) << "in flight: poll it, do not submit it again";
  EXPECT_FALSE(log->is_submitted("m/1/detection/0")) << "its batch failed validation: nothing ran";
  EXPECT_FALSE(log->is_submitted("m/9/explain/0"));
  ASSERT_TRUE(log->batch_of("m/2/explain/0"));
  EXPECT_EQ(log->batch_of("m/2/explain/0")->batch_id, "batch_a");

  // The next line starts on its own line after the torn one; a resubmission moves the id.
  batch::batch_record d{"batch_d", "file-4", "detection", batch::batch_status::validating, "", "", 0};
  ASSERT_TRUE(log->record_submitted(d, {"m/1/detection/0"}));
  ASSERT_TRUE(log->record_status("batch_b", batch::batch_status::expired));
  auto reread = batch::batch_log::open(file);
  ASSERT_TRUE(reread);
  EXPECT_EQ(reread->skipped_lines(), 1u);
  EXPECT_TRUE(reread->is_submitted("m/1/detection/0"));
  EXPECT_EQ(reread->batch_of("m/1/detection/0")->batch_id, "batch_d");
  EXPECT_EQ(reread->find("batch_b")->status, batch::batch_status::expired);
  EXPECT_TRUE(reread->unfinished().size() == 1u && reread->unfinished()[0].batch_id == "batch_d");
  auto text = slurp(file);
  EXPECT_NE(text.find(R"("custom_ids":["m/1/explain/0","m/2/explain/0"])"), std::string::npos);
  EXPECT_NE(text.find("\"status\":\"compl\n{"), std::string::npos) << text;
}

TEST(batch_api_objects, parse_batches_files_and_make_the_upload_form) {
  auto b = batch::parse_batch_object(boost::json::parse(R"({"id":"batch_abc","object":"batch","endpoint":"/v1/chat/completions",
    "input_file_id":"file-in","completion_window":"24h","status":"in_progress","output_file_id":null,"error_file_id":null,
    "created_at":1711471533,"expires_at":1711557933,"request_counts":{"total":100,"completed":40,"failed":2}})"));
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->id, "batch_abc");
  EXPECT_EQ(b->status, batch::batch_status::in_progress);
  EXPECT_EQ(b->input_file_id, "file-in");
  EXPECT_TRUE(b->output_file_id.empty());
  EXPECT_EQ(b->counts.total, 100u);
  EXPECT_EQ(b->counts.completed, 40u);
  EXPECT_EQ(b->counts.failed, 2u);
  EXPECT_EQ(b->created_at, 1711471533);
  auto failed = batch::parse_batch_object(boost::json::parse(R"({"id":"batch_x","status":"failed",
    "errors":{"object":"list","data":[{"code":"invalid_json","message":"bad line","line":3}]}})"));
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->errors, "line 3: invalid_json: bad line");
  auto unknown = batch::parse_batch_object(boost::json::parse(R"({"id":"batch_x","status":"paused"})"));
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("paused"), std::string::npos);
  EXPECT_FALSE(batch::parse_batch_object(boost::json::parse(R"({"status":"completed"})")));
  auto f = batch::parse_file_object(boost::json::parse(R"({"id":"file-1","bytes":120,"filename":"a.jsonl","purpose":"batch"})"));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->bytes, 120u);
  EXPECT_FALSE(batch::parse_file_object(boost::json::parse("[]")));

  auto form = batch::make_upload_form("explain-00000.jsonl", "batch", "BOUNDARY");
  EXPECT_EQ(form.content_type, "multipart/form-data; boundary=BOUNDARY");
  EXPECT_EQ(form.prefix + "DATA" + form.suffix,
            "--BOUNDARY\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
            "--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"explain-00000.jsonl\"\r\n"
            "Content-Type: application/jsonl\r\n\r\nDATA\r\n--BOUNDARY--\r\n");
  EXPECT_NE(batch::make_upload_form("a\"b\r\n.jsonl", "batch", "B").prefix.find("filename=\"a_b__.jsonl\""), std::string::npos);
}
