// The LLM client against the in-process fake server on 127.0.0.1: what it does for each scripted
// behaviour (retry or not, how long it waits, what it reports), keep-alive reuse, TLS trust, the
// CONNECT proxy, budgets and cancellation; for chats, and for embeddings, which share all of it. Waits are kept to milliseconds through the options; no
// assertion depends on how fast the machine is.
#include <autointerp/batch/batch_api.hpp>
#include <autointerp/batch/batch_status.hpp>
#include <autointerp/batch/request_file.hpp>
#include <autointerp/batch/result_file.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/with_diagnostics.hpp>

#include "fake_batch_api.hpp"
#include "fake_llm_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>
#include <thread>

namespace asio = boost::asio;
namespace llm = autointerp::llm;
using autointerp::errc;
using autointerp::result;
using autointerp::testing::fake_embedding;
using autointerp::testing::fake_llm_server;
using autointerp::testing::fake_reply;
using autointerp::testing::fake_request;
using namespace std::chrono_literals;

namespace {

constexpr char const* test_key = "sk-test-very-secret-key";

llm::chat_request request(std::string prompt = "What does latent 7 do?") {
  llm::chat_request r;
  r.model = "test/model";
  r.messages = {{"system", "You explain latents."}, {"user", std::move(prompt)}};
  r.max_tokens = 64;
  return r;
}

/// Fast options: millisecond backoff, no environment proxy, a key whose fix names a variable.
llm::client_options options_for(fake_llm_server const& server) {
  llm::client_options o;
  o.endpoint = llm::local(server.base_url(), test_key);
  o.endpoint.key_env = "TEST_LLM_KEY";
  o.proxy = llm::proxy_settings{};
  o.retry.base_delay = 1ms;
  o.retry.max_backoff = 4ms;
  o.retry.max_server_delay = 20ms;
  o.retry.max_attempts = 4;
  o.limits.recovery_interval = 0ms;
  o.seed = 7;
  if (server.tls()) {
    o.ca_file = server.ca_file();
    o.default_ca_paths = false;
  }
  return o;
}

/// Records the waits the client chose before each retry.
struct retry_log {
  std::vector<llm::retry_event> events;
  std::vector<std::string> messages;
  std::function<void(llm::retry_event const&)> hook() {
    return [this](llm::retry_event const& e) {
      events.push_back(e);
      messages.push_back(e.error.message + " | " + e.error.remote);
    };
  }
};

/// Runs `body(client)` to completion on `io`, then stops the servers so io.run() returns.
template <class Body>
void run(asio::io_context& io, Body body, std::vector<std::function<void()>> stops) {
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await body();
        done = true;
        for (auto& s : stops) s();
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  EXPECT_TRUE(done);
}

llm::embedding_request texts(std::vector<std::string> input) {
  llm::embedding_request r;
  r.model = "test/embedder";
  r.input = std::move(input);
  return r;
}

/// Starts the client's call for `req` (a chat or an embeddings request).
template <class Token>
auto start_call(llm::client& c, llm::chat_request const& req, Token&& token) {
  return c.async_chat(req, std::forward<Token>(token));
}
template <class Token>
auto start_call(llm::client& c, llm::embedding_request const& req, Token&& token) {
  return c.async_embed(req, std::forward<Token>(token));
}

/// One call through a fresh client against `server`.
template <class Response, class Request>
result<Response> call_once(asio::io_context& io, fake_llm_server& server, llm::client_options o, Request const& req,
                           std::function<void()> also_stop = {}) {
  llm::client c(io.get_executor(), std::move(o));
  std::optional<result<Response>> out;
  std::vector<std::function<void()>> stops{[&] { server.stop(); }};
  if (also_stop) stops.push_back(also_stop);
  run(io, [&]() -> asio::awaitable<void> { out = co_await start_call(c, req, autointerp::as_result(asio::deferred)); }, stops);
  return out ? std::move(*out) : result<Response>(autointerp::make_error(errc::cancelled, "did not finish"));
}

/// One chat through a fresh client against `server`.
result<llm::chat_response> chat_once(asio::io_context& io, fake_llm_server& server, llm::client_options o,
                                     llm::chat_request req = request(), std::function<void()> also_stop = {}) {
  return call_once<llm::chat_response>(io, server, std::move(o), req, std::move(also_stop));
}

/// One embeddings call through a fresh client against `server`.
result<llm::embedding_response> embed_once(asio::io_context& io, fake_llm_server& server, llm::client_options o,
                                           llm::embedding_request const& req) {
  return call_once<llm::embedding_response>(io, server, std::move(o), req);
}

}  // namespace

TEST(llm_client, answers_over_http_with_usage_cost_and_model) {
  asio::io_context io;
  std::optional<fake_request> seen;
  fake_llm_server server(io.get_executor(), [&](fake_request const& r) {
    seen = r;
    autointerp::testing::completion_fields f;
    f.model = "routed/model";
    f.cost = 0.00125;
    f.prompt_tokens = 21;
    f.completion_tokens = 4;
    return fake_reply::completion("Explanation: " + r.prompt(), f);
  });
  auto r = chat_once(io, server, options_for(server));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->text, "Explanation: What does latent 7 do?");
  EXPECT_EQ(r->finish_reason, "stop");
  EXPECT_EQ(r->model, "routed/model");
  EXPECT_EQ(r->usage.prompt_tokens, 21u);
  EXPECT_EQ(r->usage.completion_tokens, 4u);
  ASSERT_TRUE(r->usage.cost);
  EXPECT_DOUBLE_EQ(*r->usage.cost, 0.00125);
  EXPECT_EQ(r->attempts, 1u);
  EXPECT_GE(r->latency.count(), 0);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->method, "POST");
  EXPECT_EQ(seen->target, "/v1/chat/completions");
  EXPECT_EQ(seen->header("authorization"), std::string("Bearer ") + test_key);
  EXPECT_EQ(seen->header("content-type"), "application/json");
  EXPECT_EQ(seen->model(), "test/model");
  EXPECT_EQ(seen->json.as_object().at("max_tokens").to_number<int>(), 64);
  EXPECT_FALSE(seen->json.as_object().contains("logprobs"));
}

TEST(llm_client, asks_for_and_parses_logprobs) {
  asio::io_context io;
  std::optional<fake_request> seen;
  fake_llm_server server(io.get_executor(), [&](fake_request const& r) {
    seen = r;
    autointerp::testing::completion_fields f;
    f.logprobs = {{"Yes", -0.1}, {".", -2.5}};
    return fake_reply::completion("Yes.", f);
  });
  auto req = request();
  req.logprobs = true;
  req.top_logprobs = 2;
  auto r = chat_once(io, server, options_for(server), req);
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->logprobs.size(), 2u);
  EXPECT_EQ(r->logprobs[0].token, "Yes");
  EXPECT_DOUBLE_EQ(r->logprobs[1].logprob, -2.5);
  ASSERT_EQ(r->logprobs[1].top.size(), 1u);
  EXPECT_EQ(seen->json.as_object().at("logprobs"), true);
  EXPECT_EQ(seen->json.as_object().at("top_logprobs").to_number<int>(), 2);
}

TEST(llm_client, retries_429_waiting_what_the_server_asks_capped) {
  struct form {
    std::string name, value;
    std::chrono::milliseconds expected;
  };
  auto date_in_an_hour = [] {
    auto t = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now() + 1h);
    auto days = std::chrono::floor<std::chrono::days>(t);
    std::chrono::year_month_day ymd{days};
    std::chrono::hh_mm_ss hms{t - days};
    static char const* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buf[64];
    std::snprintf(buf, sizeof buf, "Mon, %02u %s %04d %02d:%02d:%02d GMT", unsigned(ymd.day()), months[unsigned(ymd.month()) - 1],
                  int(ymd.year()), int(hms.hours().count()), int(hms.minutes().count()), int(hms.seconds().count()));
    return std::string(buf);
  };
  for (auto const& f : {form{"retry-after-ms", "7", 7ms}, form{"Retry-After", "0.005", 5ms},
                        form{"Retry-After", "120", 20ms} /* capped */, form{"Retry-After", date_in_an_hour(), 20ms}}) {
    SCOPED_TRACE(f.name + ": " + f.value);
    asio::io_context io;
    fake_llm_server server(io.get_executor(), [&](fake_request const& r) {
      if (r.index < 2) return fake_reply::error(429, "slow down").with_header(f.name, f.value);
      return fake_reply::completion("ok");
    });
    retry_log log;
    auto o = options_for(server);
    o.on_retry = log.hook();
    llm::client_stats stats;
    llm::client c(io.get_executor(), o);
    std::optional<result<llm::chat_response>> out;
    run(io, [&]() -> asio::awaitable<void> {
      out = co_await c.async_chat(request(), autointerp::as_result(asio::deferred));
      stats = c.stats();
    }, {[&] { server.stop(); }});
    ASSERT_TRUE(*out) << out->error().what();
    EXPECT_EQ((*out)->attempts, 3u);
    EXPECT_EQ(server.requests(), 3u);
    ASSERT_EQ(log.events.size(), 2u);
    for (auto const& e : log.events) {
      EXPECT_TRUE(e.server_delay);
      EXPECT_EQ(e.delay, f.expected);
      EXPECT_TRUE(e.error == errc::rate_limited);
    }
    EXPECT_EQ(log.events[0].attempt, 1u);
    EXPECT_EQ(log.events[1].attempt, 2u);
    EXPECT_NE(log.messages[0].find("429 from 127.0.0.1:"), std::string::npos);
    EXPECT_NE(log.messages[0].find("slow down"), std::string::npos);
    EXPECT_LT(stats.rate_factor, 1.0) << "the budgets adapt down on 429";
  }
}

TEST(llm_client, retries_408_409_and_5xx_with_jittered_backoff) {
  for (unsigned status : {408u, 409u, 500u, 502u, 503u, 504u}) {
    SCOPED_TRACE(status);
    asio::io_context io;
    fake_llm_server server(io.get_executor(), [&](fake_request const& r) {
      return r.index == 0 ? fake_reply::error(status, "try later") : fake_reply::completion("ok");
    });
    retry_log log;
    auto o = options_for(server);
    o.on_retry = log.hook();
    auto r = chat_once(io, server, o);
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->attempts, 2u);
    ASSERT_EQ(log.events.size(), 1u);
    EXPECT_FALSE(log.events[0].server_delay);
    EXPECT_LE(log.events[0].delay, 1ms) << "full jitter below base_delay";
    EXPECT_TRUE(log.events[0].error == errc::server_error);
  }
}

TEST(llm_client, gives_up_after_max_attempts_naming_the_count) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::error(503, "overloaded"); });
  retry_log log;
  auto o = options_for(server);
  o.retry.max_attempts = 3;
  o.on_retry = log.hook();
  auto r = chat_once(io, server, o);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::server_error);
  EXPECT_EQ(server.requests(), 3u);
  EXPECT_EQ(log.events.size(), 2u);
  EXPECT_EQ(r.error().message.rfind("gave up after 3 attempts: 503 from 127.0.0.1:", 0), 0u) << r.error().message;
  EXPECT_EQ(r.error().remote, "overloaded");
  // Exponential caps: the second wait may be up to twice the first's cap.
  EXPECT_LE(log.events[0].delay, 1ms);
  EXPECT_LE(log.events[1].delay, 2ms);
}

TEST(llm_client, retry_budget_stops_a_batch_from_amplifying_an_outage) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::error(500, "down"); });
  auto o = options_for(server);
  o.retry.max_attempts = 10;
  o.retry.budget_initial = 2;
  o.retry.budget_ratio = 0;
  llm::client c(io.get_executor(), o);
  std::vector<result<llm::chat_response>> out;
  run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) out.push_back(co_await c.async_chat(request(), autointerp::as_result(asio::deferred)));
  }, {[&] { server.stop(); }});
  ASSERT_EQ(out.size(), 3u);
  for (auto const& r : out) {
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error() == errc::retry_budget_exhausted) << r.error().what();
  }
  EXPECT_NE(out[0].error().message.find("retry budget"), std::string::npos);
  EXPECT_EQ(server.requests(), 3u + 1u + 1u) << "two retries in the budget, then one attempt per request";
}

TEST(llm_client, retries_openrouter_200_with_a_retryable_error) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const& r) {
    return r.index == 0 ? fake_reply::error_in_200(502, "provider returned error") : fake_reply::completion("ok");
  });
  retry_log log;
  auto o = options_for(server);
  o.on_retry = log.hook();
  auto r = chat_once(io, server, o);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->attempts, 2u);
  ASSERT_EQ(log.events.size(), 1u);
  EXPECT_TRUE(log.events[0].error == errc::provider_error);
  EXPECT_NE(log.messages[0].find("provider returned error"), std::string::npos);
}

TEST(llm_client, does_not_retry_400_401_403_404_422_and_says_what_to_fix) {
  struct row {
    unsigned status;
    errc code;
    char const* fix;
  };
  for (auto const& each :
       {row{400, errc::bad_request, "check the model name 'test/model'"}, row{401, errc::unauthorized, "set TEST_LLM_KEY"},
        row{403, errc::forbidden, "permissions"}, row{404, errc::not_found, "check the base URL"},
        row{422, errc::bad_request, "request options"}}) {
    unsigned status = each.status;
    errc code = each.code;
    char const* fix = each.fix;
    SCOPED_TRACE(status);
    asio::io_context io;
    fake_llm_server server(io.get_executor(), [&](fake_request const&) {
      // A careless server echoing the key: it must not reach our error.
      return fake_reply::error(status, std::string("rejected key ") + test_key);
    });
    auto r = chat_once(io, server, options_for(server));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error() == code);
    EXPECT_EQ(server.requests(), 1u);
    auto prefix = std::to_string(status) + " from 127.0.0.1:" + std::to_string(server.port()) + ": ";
    EXPECT_EQ(r.error().message.rfind(prefix, 0), 0u) << r.error().message;
    EXPECT_NE(r.error().message.find(fix), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().remote, "rejected key [redacted]");
    EXPECT_EQ(r.error().what().find(test_key), std::string::npos);
  }
}

TEST(llm_client, payment_required_stops_every_later_call) {
  for (bool in_body : {false, true}) {
    SCOPED_TRACE(in_body);
    asio::io_context io;
    fake_llm_server server(io.get_executor(), [&](fake_request const&) {
      return in_body ? fake_reply::error_in_200(402, "Insufficient credits") : fake_reply::error(402, "Insufficient credits");
    });
    llm::client c(io.get_executor(), options_for(server));
    std::optional<result<llm::chat_response>> first, second;
    run(io, [&]() -> asio::awaitable<void> {
      first = co_await c.async_chat(request(), autointerp::as_result(asio::deferred));
      second = co_await c.async_chat(request(), autointerp::as_result(asio::deferred));
    }, {[&] { server.stop(); }});
    ASSERT_FALSE(*first);
    EXPECT_TRUE(first->error() == errc::payment_required);
    EXPECT_NE(first->error().message.find("no credit"), std::string::npos);
    ASSERT_FALSE(*second);
    EXPECT_TRUE(second->error() == errc::payment_required);
    EXPECT_EQ(server.requests(), 1u) << "the second call never reached the server";
  }
}

TEST(llm_client, connection_failures_mid_request_are_retried) {
  using act = fake_reply::action;
  for (auto a : {act::reset_before_headers, act::reset_after_headers, act::truncated_body}) {
    SCOPED_TRACE(static_cast<int>(a));
    asio::io_context io;
    fake_llm_server server(io.get_executor(), [&](fake_request const& r) {
      return r.index == 0 ? fake_reply::failure(a) : fake_reply::completion("ok");
    });
    retry_log log;
    auto o = options_for(server);
    o.on_retry = log.hook();
    auto r = chat_once(io, server, o);
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->attempts, 2u);
    ASSERT_EQ(log.events.size(), 1u);
    EXPECT_TRUE(log.events[0].error == errc::connection_closed) << log.messages[0];
    EXPECT_EQ(server.connections(), 2u);
  }
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::failure(act::reset_before_headers); });
  auto o = options_for(server);
  o.retry.max_attempts = 2;
  auto r = chat_once(io, server, o);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::connection_closed);
  EXPECT_NE(r.error().message.find("gave up after 2 attempts"), std::string::npos);
}

TEST(llm_client, malformed_json_is_retried_content_null_is_not) {
  {
    asio::io_context io;
    fake_llm_server server(io.get_executor(), [](fake_request const& r) {
      return r.index == 0 ? fake_reply::raw("{\"choices\": [") : fake_reply::completion("ok");
    });
    auto r = chat_once(io, server, options_for(server));
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->attempts, 2u);
  }
  {
    asio::io_context io;
    fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::raw("<html>oops</html>"); });
    auto o = options_for(server);
    o.retry.max_attempts = 2;
    auto r = chat_once(io, server, o);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error() == errc::bad_response);
    EXPECT_EQ(server.requests(), 2u);
    EXPECT_EQ(r.error().remote, "<html>oops</html>");
  }
  {
    asio::io_context io;
    fake_llm_server server(io.get_executor(), [](fake_request const&) {
      autointerp::testing::completion_fields f;
      f.null_content = true;
      f.finish_reason = "length";
      return fake_reply::completion("", f);
    });
    auto r = chat_once(io, server, options_for(server));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error() == errc::bad_response);
    EXPECT_EQ(server.requests(), 1u);
    EXPECT_NE(r.error().message.find("content: null, finish_reason: length"), std::string::npos) << r.error().message;
  }
}

TEST(llm_client, answers_over_the_size_limit_are_refused) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::completion(std::string(5000, 'x')); });
  auto o = options_for(server);
  o.max_response_bytes = 1000;
  auto r = chat_once(io, server, o);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::response_too_large);
  EXPECT_EQ(server.requests(), 1u);
  EXPECT_NE(r.error().message.find("max_response_bytes (1000)"), std::string::npos);
}

TEST(llm_client, slow_server_times_out_and_is_retried) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const& r) {
    return r.index == 0 ? fake_reply::failure(fake_reply::action::hang) : fake_reply::completion("late but fine");
  });
  retry_log log;
  auto o = options_for(server);
  o.timeouts.request = 50ms;
  o.on_retry = log.hook();
  auto r = chat_once(io, server, o);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->attempts, 2u);
  ASSERT_EQ(log.events.size(), 1u);
  EXPECT_TRUE(log.events[0].error == errc::timeout);
  EXPECT_NE(log.messages[0].find("within 50 ms"), std::string::npos) << log.messages[0];

  asio::io_context io2;
  fake_llm_server always(io2.get_executor(), [](fake_request const&) { return fake_reply::completion("slow").after(10s); });
  o = options_for(always);
  o.timeouts.request = 30ms;
  o.retry.max_attempts = 2;
  r = chat_once(io2, always, o);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::timeout);
  EXPECT_EQ(always.requests(), 2u);
}

/// Cancels (terminal) a call whose answer never comes, and one waiting out an hour's backoff: both
/// complete at once with `errc::cancelled`, a message naming the kind of call and the endpoint.
template <class Response, class Request>
void cancellation_aborts_the_request_and_the_backoff(Request const& req, std::string const& noun) {
  for (bool during_backoff : {false, true}) {
    SCOPED_TRACE(during_backoff);
    asio::io_context io;
    fake_llm_server server(io.get_executor(), [&](fake_request const&) {
      if (during_backoff) return fake_reply::error(503, "later").with_header("Retry-After", "3600");
      return fake_reply::failure(fake_reply::action::hang);
    });
    auto o = options_for(server);
    o.retry.max_server_delay = 3600s;
    llm::client c(io.get_executor(), o);
    asio::cancellation_signal signal;
    std::optional<result<Response>> out;
    asio::steady_timer timer(io, 30ms);
    timer.async_wait([&](auto) { signal.emit(asio::cancellation_type::terminal); });
    start_call(c, req, autointerp::as_result(asio::bind_cancellation_slot(signal.slot(), [&](result<Response> r) {
      out = std::move(r);
      server.stop();
    })));
    io.run();
    ASSERT_TRUE(out);
    ASSERT_FALSE(*out);
    EXPECT_TRUE(out->error() == errc::cancelled) << out->error().what();
    EXPECT_EQ(out->error().message, "the " + noun + " request to 127.0.0.1:" + std::to_string(server.port()) + " was cancelled");
    EXPECT_EQ(server.requests(), 1u);
  }
}

TEST(llm_client, cancellation_aborts_the_request_and_the_backoff) {
  cancellation_aborts_the_request_and_the_backoff<llm::chat_response>(request(), "chat");
}

TEST(llm_client, keep_alive_reuses_one_connection_for_sequential_requests) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const& r) { return fake_reply::completion(r.prompt()); });
  llm::client c(io.get_executor(), options_for(server));
  int ok = 0;
  llm::client_stats stats;
  run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 50; ++i) {
      auto r = co_await c.async_chat(request(std::to_string(i)), autointerp::as_result(asio::deferred));
      if (r && r->text == std::to_string(i)) ++ok;
    }
    stats = c.stats();
  }, {[&] { server.stop(); }});
  EXPECT_EQ(ok, 50);
  EXPECT_EQ(server.connections(), 1u);
  EXPECT_EQ(stats.connections_opened, 1u);
  EXPECT_EQ(stats.idle_connections, 1u);
  EXPECT_EQ(stats.attempts, 50u);
}

TEST(llm_client, concurrent_requests_share_a_bounded_pool) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const& r) { return fake_reply::completion(r.prompt()).after(2ms); });
  auto o = options_for(server);
  o.max_connections = 4;
  llm::client c(io.get_executor(), o);
  int ok = 0, finished = 0;
  constexpr int n = 40;
  for (int i = 0; i < n; ++i)
    c.async_chat(request(std::to_string(i)), autointerp::as_result([&, i](result<llm::chat_response> r) {
      if (r && r->text == std::to_string(i)) ++ok;
      if (++finished == n) server.stop();
    }));
  io.run();
  EXPECT_EQ(ok, n);
  EXPECT_EQ(server.connections(), 4u) << "the pool fills up to its size and no further";
}

TEST(llm_client, in_flight_cap_bounds_connections_too) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::completion("ok").after(2ms); });
  auto o = options_for(server);
  o.limits.max_in_flight = 2;
  llm::client c(io.get_executor(), o);
  int ok = 0, finished = 0;
  for (int i = 0; i < 20; ++i)
    c.async_chat(request(), autointerp::as_result([&](result<llm::chat_response> r) {
      ok += r.has_value();
      if (++finished == 20) server.stop();
    }));
  io.run();
  EXPECT_EQ(ok, 20);
  EXPECT_LE(server.connections(), 2u);
}

TEST(llm_client, closed_keep_alive_connections_are_replaced_without_counting_an_attempt) {
  asio::io_context io;
  // Every second request on a connection finds it closed by the server (as if an idle timeout hit).
  fake_llm_server server(io.get_executor(), [](fake_request const& r) {
    return r.on_connection == 1 ? fake_reply::failure(fake_reply::action::reset_before_headers) : fake_reply::completion("ok");
  });
  retry_log log;
  auto o = options_for(server);
  o.on_retry = log.hook();
  llm::client c(io.get_executor(), o);
  std::vector<std::uint32_t> attempts;
  llm::client_stats stats;
  run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      auto r = co_await c.async_chat(request(), autointerp::as_result(asio::deferred));
      attempts.push_back(r ? r->attempts : 0);
    }
    stats = c.stats();
  }, {[&] { server.stop(); }});
  EXPECT_EQ(attempts, (std::vector<std::uint32_t>{1, 1, 1}));
  EXPECT_TRUE(log.events.empty());
  EXPECT_EQ(stats.stale_reconnects, 2u);
  EXPECT_EQ(server.connections(), 3u);

  // A server that closes after each answer (Connection: close): a new connection each time.
  asio::io_context io2;
  fake_llm_server closing(io2.get_executor(), [](fake_request const&) { return fake_reply::completion("ok").closing(); });
  llm::client c2(io2.get_executor(), options_for(closing));
  int ok = 0;
  run(io2, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      auto r = co_await c2.async_chat(request(), autointerp::as_result(asio::deferred));
      ok += r && r->attempts == 1;
    }
  }, {[&] { closing.stop(); }});
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(closing.connections(), 3u);
}

TEST(llm_client, https_with_the_ca_given_works_and_reuses_connections) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const& r) { return fake_reply::completion("secure " + r.prompt()); },
                         autointerp::testing::fake_server_options::https());
  llm::client c(io.get_executor(), options_for(server));
  std::vector<std::string> texts;
  run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      auto r = co_await c.async_chat(request("x"), autointerp::as_result(asio::deferred));
      texts.push_back(r ? r->text : r.error().what());
    }
  }, {[&] { server.stop(); }});
  EXPECT_EQ(texts, (std::vector<std::string>(3, "secure x")));
  EXPECT_EQ(server.connections(), 1u);
}

TEST(llm_client, self_signed_certificate_is_rejected_without_the_ca) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::completion("x"); }, autointerp::testing::fake_server_options::https());
  auto o = options_for(server);
  o.ca_file.clear();
  o.default_ca_paths = true;
  auto r = chat_once(io, server, o);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::tls_failed) << r.error().what();
  EXPECT_NE(r.error().message.find("SSL_CERT_FILE"), std::string::npos);
  EXPECT_NE(r.error().remote.find("self-signed"), std::string::npos) << r.error().remote;
  EXPECT_EQ(server.requests(), 0u);
  EXPECT_EQ(server.connections(), 1u) << "not retried";
}

TEST(llm_client, certificate_for_another_host_is_rejected_even_with_its_ca) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::completion("x"); },
                         autointerp::testing::fake_server_options::https(autointerp::testing::make_test_certificate("DNS:api.example.invalid")));
  auto r = chat_once(io, server, options_for(server));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::tls_failed) << r.error().what();
  EXPECT_EQ(server.requests(), 0u);
}

TEST(llm_client, a_missing_ca_file_is_a_configuration_error) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::completion("x"); }, autointerp::testing::fake_server_options::https());
  auto o = options_for(server);
  o.ca_file = "/nonexistent/ca.pem";
  llm::client c(io.get_executor(), o);
  ASSERT_NE(c.config_error(), nullptr);
  EXPECT_TRUE(*c.config_error() == errc::tls_failed);
  EXPECT_NE(c.config_error()->message.find("/nonexistent/ca.pem"), std::string::npos);
  server.stop();
  io.run();
}

TEST(llm_client, https_through_a_connect_proxy) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::completion("tunnelled"); }, autointerp::testing::fake_server_options::https());
  autointerp::testing::connect_proxy proxy(io.get_executor());
  auto o = options_for(server);
  o.proxy = llm::proxy_settings{proxy.url(), "example.org"};
  llm::client c(io.get_executor(), o);
  std::vector<std::string> texts;
  run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      auto r = co_await c.async_chat(request(), autointerp::as_result(asio::deferred));
      texts.push_back(r ? r->text : r.error().what());
    }
  }, {[&] { server.stop(); }, [&] { proxy.stop(); }});
  EXPECT_EQ(texts, (std::vector<std::string>(3, "tunnelled")));
  EXPECT_EQ(proxy.tunnels(), 1u) << "the tunnel is kept alive like any connection";
  EXPECT_EQ(proxy.last_target(), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(server.connections(), 1u);
}

TEST(llm_client, no_proxy_bypasses_and_proxy_credentials_are_sent) {
  {
    asio::io_context io;
    fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::completion("direct"); });
    autointerp::testing::connect_proxy proxy(io.get_executor());
    auto o = options_for(server);
    o.proxy = llm::proxy_settings{proxy.url(), "localhost,127.0.0.1"};
    auto r = chat_once(io, server, o, request(), [&] { proxy.stop(); });
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(proxy.tunnels(), 0u);
  }
  {
    asio::io_context io;
    fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::completion("authorized"); });
    autointerp::testing::connect_proxy proxy(io.get_executor(), "Basic dXNlcjpwQHNz");  // user:p@ss
    auto o = options_for(server);
    o.proxy = llm::proxy_settings{"http://user:p%40ss@127.0.0.1:" + std::to_string(proxy.port()), ""};
    auto ok = chat_once(io, server, o, request(), [&] { proxy.stop(); });
    ASSERT_TRUE(ok) << ok.error().what();
    EXPECT_EQ(ok->text, "authorized");
    EXPECT_EQ(proxy.tunnels(), 1u);
  }
  {
    asio::io_context io;
    fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::completion("x"); });
    autointerp::testing::connect_proxy proxy(io.get_executor(), "Basic dXNlcjpwQHNz");
    auto o = options_for(server);
    o.proxy = llm::proxy_settings{proxy.url(), ""};
    auto r = chat_once(io, server, o, request(), [&] { proxy.stop(); });
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error() == errc::proxy_failed);
    EXPECT_NE(r.error().message.find("407"), std::string::npos) << r.error().message;
    EXPECT_EQ(server.requests(), 0u);
  }
}

TEST(llm_client, connection_refused_is_retried_then_reported) {
  asio::io_context io;
  std::uint16_t port;
  {
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  llm::client_options o;
  o.endpoint = llm::local("http://127.0.0.1:" + std::to_string(port) + "/v1");
  o.proxy = llm::proxy_settings{};
  o.retry.base_delay = 1ms;
  o.retry.max_attempts = 2;
  retry_log log;
  o.on_retry = log.hook();
  llm::client c(io.get_executor(), o);
  std::optional<result<llm::chat_response>> out;
  run(io, [&]() -> asio::awaitable<void> { out = co_await c.async_chat(request(), autointerp::as_result(asio::deferred)); }, {});
  ASSERT_FALSE(*out);
  EXPECT_TRUE(out->error() == errc::connect_failed) << out->error().what();
  EXPECT_EQ(log.events.size(), 1u);
  EXPECT_NE(out->error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

TEST(llm_client, bad_base_url_fails_every_call) {
  asio::io_context io;
  llm::client_options o;
  o.endpoint = llm::local("ftp://example.org");
  llm::client c(io.get_executor(), o);
  ASSERT_NE(c.config_error(), nullptr);
  std::optional<result<llm::chat_response>> out;
  run(io, [&]() -> asio::awaitable<void> { out = co_await c.async_chat(request(), autointerp::as_result(asio::deferred)); }, {});
  ASSERT_FALSE(*out);
  EXPECT_TRUE(out->error() == errc::bad_url);
}

TEST(llm_client, works_with_futures_from_another_thread) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::completion("future"); });
  llm::client c(io.get_executor(), options_for(server));
  auto work = asio::make_work_guard(io);
  std::thread t([&] { io.run(); });
  auto r = c.async_chat(request(), autointerp::as_result(asio::use_future)).get();
  server.stop();
  work.reset();
  t.join();
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->text, "future");
}

TEST(llm_client, tls_without_close_notify_at_the_end_of_the_body_is_harmless) {
  asio::io_context io;
  std::string body = fake_reply::completion("cut short but complete").body;
  fake_llm_server server(io.get_executor(), [&](fake_request const&) {
    // No Content-Length: the body ends where the connection ends, and the server skips close_notify.
    auto r = fake_reply::raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + body);
    r.what = fake_reply::action::raw_then_close;
    return r;
  }, autointerp::testing::fake_server_options::https());
  auto r = chat_once(io, server, options_for(server));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->text, "cut short but complete");
  EXPECT_EQ(r->attempts, 1u);
}

TEST(llm_client, tls_handshake_timeout_is_reported_per_phase) {
  asio::io_context io;
  // Listens but never accepts: TCP connects (the kernel completes it), the TLS handshake never does.
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
  llm::client_options o;
  o.endpoint = llm::local("https://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/v1");
  o.proxy = llm::proxy_settings{};
  o.timeouts.tls_handshake = 40ms;
  o.retry.max_attempts = 1;
  llm::client c(io.get_executor(), o);
  std::optional<result<llm::chat_response>> out;
  run(io, [&]() -> asio::awaitable<void> { out = co_await c.async_chat(request(), autointerp::as_result(asio::deferred)); }, {[&] { silent.close(); }});
  ASSERT_FALSE(*out);
  EXPECT_TRUE(out->error() == errc::timeout) << out->error().what();
  EXPECT_NE(out->error().message.find("TLS handshake"), std::string::npos) << out->error().message;
  EXPECT_NE(out->error().message.find("tls_handshake"), std::string::npos) << out->error().message;
}

TEST(llm_client, rate_budget_spaces_requests_and_reports_adaptation) {
  asio::io_context io;
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  fake_llm_server server(io.get_executor(), [&](fake_request const&) {
    arrivals.push_back(std::chrono::steady_clock::now());
    return fake_reply::completion("ok");
  });
  auto o = options_for(server);
  o.limits.requests_per_minute = 60'000;  // 1000/s: a bucket of one request per millisecond
  o.limits.burst = 2ms;                   // two at once, then one per millisecond
  llm::client c(io.get_executor(), o);
  int ok = 0;
  run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 10; ++i) ok += (co_await c.async_chat(request(), autointerp::as_result(asio::deferred))).has_value();
  }, {[&] { server.stop(); }});
  EXPECT_EQ(ok, 10);
  ASSERT_EQ(arrivals.size(), 10u);
  // Ten requests with a burst of two at 1000/s take at least 8 ms: a lower bound, never flaky.
  EXPECT_GE(arrivals.back() - arrivals.front(), std::chrono::milliseconds(7));
}

TEST(llm_client, the_key_never_appears_in_errors_or_retry_events) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [&](fake_request const& r) {
    std::string echo = "request had Authorization: " + r.header("authorization");
    return r.index == 0 ? fake_reply::error(500, echo) : fake_reply::error(401, echo);
  });
  retry_log log;
  auto o = options_for(server);
  o.on_retry = log.hook();
  auto r = chat_once(io, server, o);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::unauthorized);
  ASSERT_EQ(log.messages.size(), 1u);
  EXPECT_EQ(log.messages[0].find(test_key), std::string::npos) << log.messages[0];
  EXPECT_NE(log.messages[0].find("Bearer [redacted]"), std::string::npos) << log.messages[0];
  EXPECT_EQ(r.error().what().find(test_key), std::string::npos) << r.error().what();
}

// --- embeddings: the same client, POST {base}/embeddings ---------------------------------------

TEST(llm_embed, vectors_come_back_in_input_order_as_the_fake_model_makes_them) {
  asio::io_context io;
  std::optional<fake_request> seen;
  fake_llm_server server(io.get_executor(), [&](fake_request const& r) {
    seen = r;
    autointerp::testing::embedding_fields f;
    f.cost = 0.00002;
    return fake_reply::embeddings(r, f);
  });
  std::vector<std::string> input{"The cat sat on the mat.", "", "def parse(x): return x", "the CAT sat on the MAT"};
  auto r = embed_once(io, server, options_for(server), texts(input));
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->embeddings.size(), input.size());
  for (std::size_t i = 0; i < input.size(); ++i) EXPECT_EQ(r->embeddings[i], fake_embedding(input[i])) << input[i];
  EXPECT_EQ(r->embeddings[1], std::vector<float>(256, 0.0f)) << "a text without words";
  EXPECT_EQ(r->embeddings[0], r->embeddings[3]) << "the same words";
  EXPECT_NE(r->embeddings[0], r->embeddings[2]);
  EXPECT_EQ(r->model, "fake/embedding");
  EXPECT_EQ(r->usage.prompt_tokens, 6u + 0u + 6u + 6u) << "the fake counts words (\"):\" is one)";
  EXPECT_EQ(r->usage.total_tokens, r->usage.prompt_tokens);
  EXPECT_EQ(r->usage.completion_tokens, 0u);
  ASSERT_TRUE(r->usage.cost);
  EXPECT_DOUBLE_EQ(*r->usage.cost, 0.00002);
  EXPECT_EQ(r->attempts, 1u);
  EXPECT_GE(r->latency.count(), 0);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->method, "POST");
  EXPECT_EQ(seen->target, "/v1/embeddings");
  EXPECT_EQ(seen->header("authorization"), std::string("Bearer ") + test_key);
  EXPECT_EQ(seen->header("content-type"), "application/json");
  EXPECT_EQ(seen->model(), "test/embedder");
  EXPECT_EQ(seen->inputs(), input);
  auto const& body = seen->json.as_object();
  EXPECT_EQ(body.at("encoding_format"), "float");
  EXPECT_FALSE(body.contains("dimensions"));
  EXPECT_FALSE(body.contains("max_tokens"));
  EXPECT_EQ(server.requests(), 1u);
  EXPECT_EQ(server.embedding_requests(), 1u);
  EXPECT_EQ(server.embedding_inputs(), 4u);
}

TEST(llm_embed, dimensions_are_sent_when_set) {
  asio::io_context io;
  std::optional<fake_request> seen;
  fake_llm_server server(io.get_executor(), [&](fake_request const& r) {
    seen = r;
    return fake_reply::embeddings(r);
  });
  auto req = texts({"alpha beta gamma delta epsilon zeta eta theta iota kappa", "lambda"});
  req.dimensions = 200;
  auto r = embed_once(io, server, options_for(server), req);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(seen->json.as_object().at("dimensions").to_number<int>(), 200);
  ASSERT_EQ(r->embeddings.size(), 2u);
  for (auto const& v : r->embeddings) {
    ASSERT_EQ(v.size(), 200u);
    double norm = 0;
    for (float x : v) norm += double(x) * x;
    EXPECT_TRUE(norm == 0 || std::abs(norm - 1) < 1e-5) << norm;
  }
}

TEST(llm_embed, answers_listed_out_of_order_or_in_base64_are_put_back_by_index) {
  for (bool base64 : {false, true}) {
    SCOPED_TRACE(base64 ? "base64" : "reversed");
    asio::io_context io;
    fake_llm_server server(io.get_executor(), [&](fake_request const& r) {
      autointerp::testing::embedding_fields f;
      f.reversed = !base64;
      f.base64 = base64;
      auto reply = fake_reply::embeddings(r, f);
      auto answer = boost::json::parse(reply.body);
      auto const& data = answer.at("data").as_array();
      EXPECT_EQ(data[0].at("index").to_number<int>(), base64 ? 0 : 2) << "the fake did what the test asks";
      EXPECT_EQ(data[0].at("embedding").is_string(), base64);
      return reply;
    });
    std::vector<std::string> input{"first text", "second one here", "third"};
    auto r = embed_once(io, server, options_for(server), texts(input));
    ASSERT_TRUE(r) << r.error().what();
    ASSERT_EQ(r->embeddings.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(r->embeddings[i], fake_embedding(input[i])) << i;
  }
}

TEST(llm_embed, retries_500_and_429_then_succeeds) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const& r) {
    if (r.index == 0) return fake_reply::error(500, "embedder crashed");
    if (r.index == 1) return fake_reply::error(429, "slow down").with_header("retry-after-ms", "3");
    return fake_reply::embeddings(r);
  });
  retry_log log;
  auto o = options_for(server);
  o.on_retry = log.hook();
  llm::client c(io.get_executor(), o);
  std::optional<result<llm::embedding_response>> out;
  llm::client_stats stats;
  auto req = texts({"retry me"});  // named: g++ 12 mishandles a braced list inside co_await
  run(io, [&]() -> asio::awaitable<void> {
    out = co_await c.async_embed(req, autointerp::as_result(asio::deferred));
    stats = c.stats();
  }, {[&] { server.stop(); }});
  ASSERT_TRUE(*out) << out->error().what();
  EXPECT_EQ((*out)->attempts, 3u);
  EXPECT_EQ((*out)->embeddings[0], fake_embedding("retry me"));
  EXPECT_EQ(server.embedding_requests(), 3u);
  EXPECT_EQ(server.embedding_inputs(), 3u);
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_TRUE(log.events[0].error == errc::server_error);
  EXPECT_NE(log.messages[0].find("embedder crashed"), std::string::npos) << log.messages[0];
  EXPECT_TRUE(log.events[1].error == errc::rate_limited);
  EXPECT_TRUE(log.events[1].server_delay);
  EXPECT_EQ(log.events[1].delay, 3ms);
  EXPECT_EQ(stats.retries, 2u);
  EXPECT_EQ(stats.attempts, 3u);
  EXPECT_LT(stats.rate_factor, 1.0) << "a 429 on embeddings slows the whole client";
}

TEST(llm_embed, a_rejected_key_is_not_retried_and_the_error_names_the_endpoint) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const&) {
    return fake_reply::error(401, std::string("invalid key ") + test_key);
  });
  llm::client c(io.get_executor(), options_for(server));
  autointerp::diagnostics diag;
  boost::system::error_code ec;
  llm::embedding_response failed;
  auto req = texts({"a", "b"});
  run(io, [&]() -> asio::awaitable<void> {
    std::tie(ec, failed) = co_await c.async_embed(req, diag, asio::as_tuple(asio::deferred));
  }, {[&] { server.stop(); }});
  EXPECT_EQ(ec, errc::unauthorized);
  EXPECT_EQ(server.requests(), 1u);
  EXPECT_EQ(failed.attempts, 1u) << "a failed call still says how many attempts it made";
  EXPECT_TRUE(failed.embeddings.empty());
  EXPECT_EQ(diag.message, "401 from 127.0.0.1:" + std::to_string(server.port()) +
                              ": the API key was rejected; set TEST_LLM_KEY");
  EXPECT_EQ(diag.remote, "invalid key [redacted]");
}

TEST(llm_embed, malformed_answers_are_bad_responses) {
  struct row {
    std::string body;
    char const* says;
    std::size_t requests;  // 1: not retried; 2 (max_attempts): retried
  };
  for (auto const& each : {row{R"({"data":[{"index":0,"embedding":[1,0]}]})", "has 1 vectors for 2 inputs", 1},
                           row{R"({"data":[{"index":0,"embedding":[0e400,1]},{"index":1,"embedding":[1,0]}]})",
                               "vector for input 0 has a value that is not a finite number at position 0", 1},
                           row{R"({"data":[{"index":0,"embedding":[1,0]},{"index":1,"embedding":[1,"0"]}]})",
                               "vector for input 1 has a value that is not a finite number at position 1", 1},
                           row{R"({"data":[{"index":0,"embedding":[1,0]},{"index":1,"embedding":[1]}]})",
                               "has vectors of different lengths", 1},
                           row{fake_reply::completion("I am a chat model").body, "has no \"data\" list", 1},
                           row{"<html>bad gateway</html>", "is not a JSON object", 2}}) {
    SCOPED_TRACE(each.body);
    asio::io_context io;
    fake_llm_server server(io.get_executor(), [&](fake_request const&) { return fake_reply::raw(each.body); });
    auto o = options_for(server);
    o.retry.max_attempts = 2;
    auto r = embed_once(io, server, o, texts({"one", "two"}));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error() == errc::bad_response);
    EXPECT_EQ(server.requests(), each.requests);
    EXPECT_NE(r.error().message.find("200 from 127.0.0.1:" + std::to_string(server.port()) + ": "), std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find(each.says), std::string::npos) << r.error().message;
  }
}

TEST(llm_embed, faults_of_the_connection_and_timeouts_are_retried_as_for_chats) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const& r) {
    if (r.index == 0) return fake_reply::failure(fake_reply::action::hang);
    if (r.index == 1) return fake_reply::failure(fake_reply::action::reset_after_headers);
    if (r.index == 2) return fake_reply::failure(fake_reply::action::truncated_body);
    return fake_reply::embeddings(r);
  });
  retry_log log;
  auto o = options_for(server);
  o.timeouts.request = 50ms;
  o.retry.max_attempts = 5;
  o.on_retry = log.hook();
  auto r = embed_once(io, server, o, texts({"patience"}));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->attempts, 4u);
  EXPECT_EQ(r->embeddings[0], fake_embedding("patience"));
  ASSERT_EQ(log.events.size(), 3u);
  EXPECT_TRUE(log.events[0].error == errc::timeout) << log.messages[0];
  EXPECT_TRUE(log.events[1].error == errc::connection_closed) << log.messages[1];
  EXPECT_TRUE(log.events[2].error == errc::connection_closed) << log.messages[2];
  EXPECT_EQ(server.embedding_requests(), 4u);
}

TEST(llm_embed, embeddings_and_chats_share_one_keep_alive_pool) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), autointerp::testing::with_embeddings([](fake_request const& r) {
    return fake_reply::completion(r.prompt());
  }));
  llm::client c(io.get_executor(), options_for(server));
  int embedded = 0, chatted = 0;
  llm::client_stats stats;
  run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 40; ++i) {
      auto text = "text number " + std::to_string(i);
      if (i % 2) {
        auto r = co_await c.async_chat(request(text), autointerp::as_result(asio::deferred));
        chatted += r && r->text == text;
      } else {
        auto req = texts({text, "and another"});
        auto r = co_await c.async_embed(req, autointerp::as_result(asio::deferred));
        embedded += r && r->embeddings.size() == 2 && r->embeddings[0] == fake_embedding(text);
      }
    }
    stats = c.stats();
  }, {[&] { server.stop(); }});
  EXPECT_EQ(embedded, 20);
  EXPECT_EQ(chatted, 20);
  EXPECT_EQ(server.connections(), 1u);
  EXPECT_EQ(stats.connections_opened, 1u);
  EXPECT_EQ(stats.attempts, 40u);
  EXPECT_EQ(server.embedding_requests(), 20u);
  EXPECT_EQ(server.embedding_inputs(), 40u);

  // Concurrent calls fill the pool up to its size and no further.
  asio::io_context io2;
  fake_llm_server slow(io2.get_executor(), [](fake_request const& r) { return fake_reply::embeddings(r).after(2ms); });
  auto o = options_for(slow);
  o.max_connections = 3;
  llm::client c2(io2.get_executor(), o);
  int ok = 0, finished = 0;
  constexpr int n = 30;
  for (int i = 0; i < n; ++i) {
    auto text = "concurrent " + std::to_string(i);
    c2.async_embed(texts({text}), autointerp::as_result([&, text](result<llm::embedding_response> r) {
      ok += r && r->embeddings[0] == fake_embedding(text);
      if (++finished == n) slow.stop();
    }));
  }
  io2.run();
  EXPECT_EQ(ok, n);
  EXPECT_EQ(slow.connections(), 3u);
}

TEST(llm_embed, cancellation_aborts_the_request_and_the_backoff) {
  cancellation_aborts_the_request_and_the_backoff<llm::embedding_response>(texts({"never"}), "embeddings");
}

TEST(llm_embed, payment_required_on_embeddings_stops_chats_too) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const&) { return fake_reply::error(402, "Insufficient credits"); });
  llm::client c(io.get_executor(), options_for(server));
  std::optional<result<llm::embedding_response>> first;
  std::optional<result<llm::chat_response>> second;
  auto req = texts({"x"});
  run(io, [&]() -> asio::awaitable<void> {
    first = co_await c.async_embed(req, autointerp::as_result(asio::deferred));
    second = co_await c.async_chat(request(), autointerp::as_result(asio::deferred));
  }, {[&] { server.stop(); }});
  ASSERT_FALSE(*first);
  EXPECT_TRUE(first->error() == errc::payment_required);
  ASSERT_FALSE(*second);
  EXPECT_TRUE(second->error() == errc::payment_required);
  EXPECT_EQ(server.requests(), 1u) << "the chat never reached the server";
}

TEST(llm_embed, an_empty_input_completes_without_a_request) {
  asio::io_context io;
  fake_llm_server server(io.get_executor(), [](fake_request const& r) { return fake_reply::embeddings(r); });
  auto r = embed_once(io, server, options_for(server), texts({}));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_TRUE(r->embeddings.empty());
  EXPECT_EQ(r->attempts, 0u);
  EXPECT_EQ(server.requests(), 0u);

  asio::io_context io2;
  llm::client_options bad;
  bad.endpoint = llm::local("ftp://example.org");
  llm::client c(io2.get_executor(), bad);
  std::optional<result<llm::embedding_response>> out;
  auto none = texts({});
  run(io2, [&]() -> asio::awaitable<void> { out = co_await c.async_embed(none, autointerp::as_result(asio::deferred)); }, {});
  ASSERT_FALSE(*out) << "a bad configuration is still reported";
  EXPECT_TRUE(out->error() == errc::bad_url);
}

TEST(llm_embed, the_tokens_budget_is_settled_with_the_reported_usage) {
  // A bucket of 1000 tokens refilled at 10,000 a second. The text is 4000 bytes (charged 1001 up
  // front) and 2000 words (the fake reports 2000 tokens): after the first call the bucket owes 1000
  // tokens, so the second waits until 2000 have come back, 200 ms after the first took its charge.
  // Settled with the estimate instead it would wait 100 ms. A lower bound: a slow machine only adds.
  asio::io_context io;
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  fake_llm_server server(io.get_executor(), [&](fake_request const& r) {
    arrivals.push_back(std::chrono::steady_clock::now());
    return fake_reply::embeddings(r);
  });
  auto o = options_for(server);
  o.limits.tokens_per_minute = 600'000;
  o.limits.burst = 100ms;
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "w ";
  llm::client c(io.get_executor(), o);
  std::vector<std::uint64_t> reported;
  auto req = texts({text});
  run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 2; ++i) {
      auto r = co_await c.async_embed(req, autointerp::as_result(asio::deferred));
      reported.push_back(r ? r->usage.prompt_tokens : 0);
    }
  }, {[&] { server.stop(); }});
  EXPECT_EQ(reported, (std::vector<std::uint64_t>{2000, 2000}));
  ASSERT_EQ(arrivals.size(), 2u);
  EXPECT_GE(arrivals[1] - arrivals[0], 150ms);
}

// The OpenAI Batch API through the same client: upload an input file, create a batch, poll it to
// its end, download the output and error files to disk, read them back; cancel; expire.

namespace batch = autointerp::batch;

namespace {

struct batch_dir {
  std::filesystem::path path;
  explicit batch_dir(std::string const& name) {
    path = std::filesystem::temp_directory_path() / ("autointerp-llm-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~batch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string read_all(std::filesystem::path const& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// An input file of `n` explaining requests whose prompts highlight "tok<i>".
batch::request_file_info write_inputs(std::filesystem::path const& dir, std::string const& stem, std::uint32_t n) {
  batch::request_file_writer w(dir, stem);
  for (std::uint32_t i = 0; i < n; ++i) {
    auto r = request("Example 1: the <<tok" + std::to_string(i) + ">> sat on the mat");
    r.tag = llm::call_tag{"layers.3", i, "explain", 0, 0};
    auto added = w.add(r.tag->custom_id(), r);
    EXPECT_TRUE(added && !*added);
  }
  auto closed = w.close();
  EXPECT_TRUE(closed && *closed);
  return std::move(**closed);
}

/// Polls `id` on a fast schedule until the batch ends; `seen` gets each status.
asio::awaitable<result<batch::batch_object>> poll_to_end(llm::client& c, std::string id, std::vector<batch::batch_status>& seen) {
  batch::poll_schedule schedule({1ms, 2.0, 8ms});
  for (;;) {
    asio::steady_timer t(c.get_executor(), schedule.next());
    co_await t.async_wait(asio::use_awaitable);
    auto got = co_await batch::async_get_batch(c, id, autointerp::as_result(asio::deferred));
    if (!got) co_return got;
    if (seen.empty() || seen.back() != got->status) seen.push_back(got->status);
    if (batch::is_terminal(got->status)) co_return got;
  }
}

std::vector<batch::result_line> read_results(std::filesystem::path const& file, std::size_t& bad) {
  std::vector<batch::result_line> out;
  auto reader = batch::result_reader::open(file);
  EXPECT_TRUE(reader) << file;
  if (!reader) return out;
  while (auto line = reader->next()) {
    if (*line) out.push_back(std::move(**line));
    else ++bad;
  }
  return out;
}

}  // namespace

TEST(batch_api, a_round_trip_uploads_creates_polls_to_completed_downloads_and_reads_the_results) {
  batch_dir dir("batch-round");
  auto input = write_inputs(dir.path, "explain", 40);
  asio::io_context io;
  autointerp::testing::fake_batch_settings fs;
  fs.fail_fraction = 0.25;
  autointerp::testing::fake_batch_api api(fs);
  auto serve = api.handler();
  std::vector<std::string> calls;
  std::string upload_type;
  fake_llm_server server(io.get_executor(), [&](fake_request const& r) {
    if (r.target != "/v1/chat/completions") calls.push_back(r.method + " " + r.target);
    if (r.target == "/v1/files") upload_type = r.header("content-type");
    return serve(r);
  });
  auto o = options_for(server);
  o.max_response_bytes = 2048;  // far below the output file: a download is not held to it
  llm::client c(io.get_executor(), o);
  std::optional<result<batch::file_object>> uploaded;
  std::optional<result<batch::batch_object>> created, ended;
  std::vector<batch::batch_status> seen;
  std::optional<result<std::uint64_t>> out_bytes, err_bytes;
  std::optional<result<llm::chat_response>> chat;
  run(io, [&]() -> asio::awaitable<void> {
    uploaded = co_await batch::async_upload_file(c, input.path, autointerp::as_result(asio::deferred));
    if (!*uploaded) co_return;
    created = co_await batch::async_create_batch(c, (*uploaded)->id, autointerp::as_result(asio::deferred));
    if (!*created) co_return;
    ended = co_await poll_to_end(c, (*created)->id, seen);
    if (!*ended) co_return;
    out_bytes = co_await batch::async_download_file(c, (*ended)->output_file_id, dir.path / "round.out.jsonl",
                                                    autointerp::as_result(asio::deferred));
    err_bytes = co_await batch::async_download_file(c, (*ended)->error_file_id, dir.path / "round.err.jsonl",
                                                    autointerp::as_result(asio::deferred));
    chat = co_await c.async_chat(request("Example 1: a <<chat>> call"), autointerp::as_result(asio::deferred));
  }, {[&] { server.stop(); }});

  ASSERT_TRUE(uploaded && *uploaded) << (uploaded ? uploaded->error().what() : "");
  EXPECT_EQ((*uploaded)->purpose, "batch");
  EXPECT_EQ((*uploaded)->filename, "explain-00000.jsonl");
  EXPECT_EQ((*uploaded)->bytes, input.bytes);
  EXPECT_EQ(api.file_content((*uploaded)->id), read_all(input.path)) << "the file went up byte for byte";
  EXPECT_EQ(upload_type.rfind("multipart/form-data; boundary=", 0), 0u);
  ASSERT_TRUE(created && *created) << (created ? created->error().what() : "");
  EXPECT_EQ((*created)->status, batch::batch_status::validating);
  EXPECT_EQ((*created)->input_file_id, (*uploaded)->id);
  EXPECT_EQ((*created)->endpoint, "/v1/chat/completions");
  EXPECT_EQ((*created)->completion_window, "24h");
  ASSERT_TRUE(ended && *ended) << (ended ? ended->error().what() : "");
  EXPECT_EQ((*ended)->status, batch::batch_status::completed);
  EXPECT_EQ((*ended)->counts.total, 40u);
  EXPECT_EQ((*ended)->counts.completed + (*ended)->counts.failed, 40u);
  EXPECT_GT((*ended)->counts.failed, 0u);
  EXPECT_GT((*ended)->counts.completed, 0u);
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_LT(static_cast<int>(seen[i - 1]), static_cast<int>(seen[i])) << "statuses move forward";
  ASSERT_TRUE(out_bytes && *out_bytes) << (out_bytes ? out_bytes->error().what() : "");
  EXPECT_GT(**out_bytes, o.max_response_bytes);
  EXPECT_EQ(**out_bytes, std::filesystem::file_size(dir.path / "round.out.jsonl"));
  ASSERT_TRUE(err_bytes && *err_bytes);
  ASSERT_TRUE(chat && *chat) << "the same client still serves chats";
  EXPECT_EQ(server.connections(), 1u) << "every call went over the one keep-alive connection";
  EXPECT_EQ(calls.front(), "POST /v1/files");
  EXPECT_EQ(calls[1], "POST /v1/batches");
  EXPECT_EQ(calls.back(), "GET /v1/files/" + (*ended)->error_file_id + "/content");

  // Every request comes back once, answered as the chat fake answers, or failed with a 500.
  std::size_t bad = 0;
  auto answers = read_results(dir.path / "round.out.jsonl", bad);
  auto errors = read_results(dir.path / "round.err.jsonl", bad);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(answers.size(), (*ended)->counts.completed);
  EXPECT_EQ(errors.size(), (*ended)->counts.failed);
  std::set<std::string> ids;
  for (auto const& a : answers) {
    ASSERT_TRUE(a.ok()) << a.custom_id;
    ids.insert(a.custom_id);
    auto latent = a.custom_id.substr(9, a.custom_id.find('/', 9) - 9);  // "layers.3/<latent>/explain/0"
    EXPECT_NE(a.response->text.find("the token \"tok" + latent + "\""), std::string::npos) << a.response->text;
    EXPECT_EQ(a.response->usage.prompt_tokens, 10u);
    EXPECT_EQ(a.response->usage.cached_tokens, 5u);
  }
  for (auto const& e : errors) {
    ASSERT_TRUE(e.failure) << e.custom_id;
    EXPECT_EQ(e.status_code, 500u);
    EXPECT_EQ(e.failure->kind, llm::failure_kind::retryable);
    ids.insert(e.custom_id);
  }
  EXPECT_EQ(ids, std::set<std::string>(input.custom_ids.begin(), input.custom_ids.end()));
  EXPECT_EQ(api.batches_created(), 1u);
  EXPECT_EQ(api.max_submissions(), 1u);
  EXPECT_EQ(api.distinct_requests(), 40u);
  EXPECT_EQ(api.uploads(), 1u);
  for (auto const& e : std::filesystem::directory_iterator(dir.path))
    EXPECT_EQ(e.path().string().find(".part."), std::string::npos) << "no download temporary left";

  // The index gives the replay router one answer at a time.
  auto ix = batch::result_index::build({dir.path / "round.out.jsonl", dir.path / "round.err.jsonl"});
  ASSERT_TRUE(ix);
  EXPECT_EQ(ix->size(), 40u);
  for (auto const& id : input.custom_ids) {
    auto r = ix->find(id);
    ASSERT_TRUE(r && *r) << id;
  }
}

namespace {

/// The cancel test's calls, as a named coroutine.
struct cancel_scenario {
  llm::client& c;
  autointerp::testing::fake_batch_api& api;
  batch::request_file_info const& input;
  std::filesystem::path dir;
  autointerp::testing::fake_batch_settings fs;
  std::optional<result<batch::batch_object>> cancelling, cancelled, expired, unknown;
  std::optional<result<std::uint64_t>> cancel_errors, expired_out, missing_file, bad_id;
  std::optional<result<batch::batch_page>> page1, page2;
  std::vector<batch::batch_status> seen, seen2;
  autointerp::diagnostics diag;

  cancel_scenario(llm::client& cl, autointerp::testing::fake_batch_api& a, batch::request_file_info const& in,
                  std::filesystem::path d, autointerp::testing::fake_batch_settings s)
      : c(cl), api(a), input(in), dir(std::move(d)), fs(std::move(s)) {}

  // Not inlined: g++ 12 -O2 inlining this frame's allocation into the caller reports a
  // -Wmismatched-new-delete false positive inside Asio's frame allocator.
  [[gnu::noinline]] asio::awaitable<void> run() {
    auto up = co_await batch::async_upload_file(c, input.path, autointerp::as_result(asio::deferred));
    if (!up) co_return;
    auto b = co_await batch::async_create_batch(c, up->id, autointerp::as_result(asio::deferred));
    if (!b) co_return;
    cancelling = co_await batch::async_cancel_batch(c, b->id, autointerp::as_result(asio::deferred));
    cancelled = co_await poll_to_end(c, b->id, seen);
    if (*cancelled && !(*cancelled)->error_file_id.empty())
      cancel_errors = co_await batch::async_download_file(c, (*cancelled)->error_file_id, dir / "cancel.err.jsonl",
                                                          autointerp::as_result(asio::deferred));
    // The next batch runs out of time with half of its requests done.
    fs.in_progress = 2ms;
    fs.expire = true;
    fs.ran_share_when_cut = 0.5;
    api.set_settings(fs);
    batch::batch_options tagged;
    tagged.metadata["autointerp_round"] = "detection-1";
    auto b2 = co_await batch::async_create_batch(c, up->id, tagged, diag, autointerp::as_result(asio::deferred));
    if (!b2) co_return;
    expired = co_await poll_to_end(c, b2->id, seen2);
    page1 = co_await batch::async_list_batches(c, "", 1, autointerp::as_result(asio::deferred));
    if (*page1) page2 = co_await batch::async_list_batches(c, (*page1)->last_id, 10, autointerp::as_result(asio::deferred));
    if (*expired)
      expired_out = co_await batch::async_download_file(c, (*expired)->output_file_id, dir / "expired.out.jsonl",
                                                        autointerp::as_result(asio::deferred));
    unknown = co_await batch::async_get_batch(c, "batch_nope", autointerp::as_result(asio::deferred));
    missing_file = co_await batch::async_download_file(c, "file-nope", dir / "nope.jsonl", diag,
                                                       autointerp::as_result(asio::deferred));
    bad_id = co_await batch::async_download_file(c, "../etc/passwd", dir / "x.jsonl", autointerp::as_result(asio::deferred));
  }
};

}  // namespace

TEST(batch_api, cancel_expire_and_unknown_ids_come_back_as_statuses_and_errors) {
  batch_dir dir("batch-cancel");
  auto input = write_inputs(dir.path, "detection", 10);
  asio::io_context io;
  autointerp::testing::fake_batch_settings fs;
  fs.in_progress = std::chrono::hours(1);  // only a cancel ends it
  fs.ran_share_when_cut = 0;
  autointerp::testing::fake_batch_api api(fs);
  fake_llm_server server(io.get_executor(), api.handler());
  llm::client c(io.get_executor(), options_for(server));
  cancel_scenario sc{c, api, input, dir.path, fs};
  run(io, [&] { return sc.run(); }, {[&] { server.stop(); }});
  auto& [c_, api_, input_, dir_, fs_, cancelling, cancelled, expired, unknown, cancel_errors, expired_out, missing_file, bad_id,
         page1, page2, seen, seen2, diag] = sc;

  ASSERT_TRUE(cancelling && *cancelling) << (cancelling ? cancelling->error().what() : "");
  EXPECT_EQ((*cancelling)->status, batch::batch_status::cancelling);
  ASSERT_TRUE(cancelled && *cancelled);
  EXPECT_EQ((*cancelled)->status, batch::batch_status::cancelled);
  EXPECT_TRUE((*cancelled)->output_file_id.empty()) << "nothing ran";
  ASSERT_TRUE(cancel_errors && *cancel_errors);
  std::size_t bad = 0;
  auto lines = read_results(dir.path / "cancel.err.jsonl", bad);
  ASSERT_EQ(lines.size(), 10u);
  for (auto const& l : lines) {
    ASSERT_TRUE(l.failure);
    EXPECT_EQ(l.failure->kind, llm::failure_kind::retryable);
    EXPECT_NE(l.failure->error.message.find("batch_cancelled"), std::string::npos);
  }

  ASSERT_TRUE(expired && *expired);
  EXPECT_EQ((*expired)->status, batch::batch_status::expired);
  EXPECT_EQ((*expired)->counts.completed, 5u);
  ASSERT_TRUE(expired_out && *expired_out);
  EXPECT_EQ(read_results(dir.path / "expired.out.jsonl", bad).size(), 5u);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(api.batches_created(), 2u);
  EXPECT_EQ(api.submissions(input.custom_ids[0]), 2u) << "the fake counts each submission";
  // Listing finds a batch by the metadata it was created with (after a crash before batches.jsonl).
  ASSERT_TRUE(page1 && *page1) << (page1 ? page1->error().what() : "");
  ASSERT_EQ((*page1)->batches.size(), 1u);
  EXPECT_TRUE((*page1)->has_more);
  EXPECT_EQ((*page1)->batches[0].id, (*expired)->id);
  EXPECT_EQ((*page1)->batches[0].metadata.at("autointerp_round"), "detection-1");
  ASSERT_TRUE(page2 && *page2);
  ASSERT_EQ((*page2)->batches.size(), 1u);
  EXPECT_FALSE((*page2)->has_more);
  EXPECT_EQ((*page2)->batches[0].id, (*cancelled)->id);
  EXPECT_TRUE((*page2)->batches[0].metadata.empty());

  ASSERT_TRUE(unknown && !*unknown);
  EXPECT_TRUE(unknown->error() == errc::not_found);
  EXPECT_NE(unknown->error().message.find("getting batch batch_nope"), std::string::npos);
  ASSERT_TRUE(missing_file && !*missing_file);
  EXPECT_TRUE(missing_file->error() == errc::not_found);
  EXPECT_NE(diag.message.find("downloading batch file file-nope"), std::string::npos) << diag.message;
  EXPECT_NE(diag.remote.find("No such File object"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.path / "nope.jsonl"));
  ASSERT_TRUE(bad_id && !*bad_id);
  EXPECT_TRUE(bad_id->error() == errc::bad_option);
}

namespace {

/// Upload, create, poll and download over HTTPS, each as one call of the client.
struct tls_round {
  llm::client& c;
  std::filesystem::path input, out;
  std::optional<result<batch::file_object>> uploaded;
  std::optional<result<batch::batch_object>> ended;
  std::optional<result<std::uint64_t>> downloaded;
  std::vector<batch::batch_status> seen;

  tls_round(llm::client& cl, std::filesystem::path in, std::filesystem::path o) : c(cl), input(std::move(in)), out(std::move(o)) {}

  [[gnu::noinline]] asio::awaitable<void> run() {  // noinline: see cancel_scenario
    uploaded = co_await batch::async_upload_file(c, input, autointerp::as_result(asio::deferred));
    if (!*uploaded) co_return;
    auto b = co_await batch::async_create_batch(c, (*uploaded)->id, autointerp::as_result(asio::deferred));
    if (!b) co_return;
    ended = co_await poll_to_end(c, b->id, seen);
    if (!*ended) co_return;
    downloaded = co_await batch::async_download_file(c, (*ended)->output_file_id, out, autointerp::as_result(asio::deferred));
  }
};

}  // namespace

TEST(batch_api, uploads_and_downloads_stream_over_https_and_are_retried_like_chats) {
  batch_dir dir("batch-tls");
  // About 220 KB: the upload goes out in several 64 KiB chunks; the output (about 30 KB) comes
  // back in several TLS records.
  constexpr std::uint32_t n = 60;
  batch::request_file_writer w(dir.path, "simulation");
  for (std::uint32_t i = 0; i < n; ++i) {
    auto r = request("Example 1: the <<word" + std::to_string(i) + ">> " + std::string(3500, 'z'));
    r.tag = llm::call_tag{"layers.3", i, "simulation", 0, 0};
    ASSERT_TRUE(w.add(r.tag->custom_id(), r));
  }
  auto input = w.close();
  ASSERT_TRUE(input && *input);
  ASSERT_GT((*input)->bytes, 2u * 64 * 1024);

  asio::io_context io;
  autointerp::testing::fake_batch_api api;
  auto serve = api.handler();
  int upload_posts = 0, content_gets = 0;
  fake_llm_server server(io.get_executor(), [&](fake_request const& r) {
    if (r.target == "/v1/files" && upload_posts++ == 0) return fake_reply::error(503, "overloaded, try again");
    if (r.target.ends_with("/content") && content_gets++ == 0) return fake_reply::failure(fake_reply::action::truncated_body);
    return serve(r);
  }, autointerp::testing::fake_server_options::https());
  llm::client c(io.get_executor(), options_for(server));
  tls_round round(c, (*input)->path, dir.path / "simulation.out.jsonl");
  llm::client_stats stats;
  run(io, [&] { return round.run(); }, {[&] {
        stats = c.stats();
        server.stop();
      }});

  ASSERT_TRUE(round.uploaded && *round.uploaded) << (round.uploaded ? round.uploaded->error().what() : "");
  EXPECT_EQ(upload_posts, 2) << "the 503 was retried";
  EXPECT_EQ(api.uploads(), 1u);
  EXPECT_EQ(api.file_content((*round.uploaded)->id), read_all((*input)->path));
  ASSERT_TRUE(round.ended && *round.ended);
  EXPECT_EQ((*round.ended)->status, batch::batch_status::completed);
  ASSERT_TRUE(round.downloaded && *round.downloaded) << (round.downloaded ? round.downloaded->error().what() : "");
  EXPECT_EQ(content_gets, 2) << "the cut download was retried";
  EXPECT_EQ(stats.retries, 2u);
  std::size_t bad = 0;
  auto lines = read_results(dir.path / "simulation.out.jsonl", bad);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(lines.size(), n);
  EXPECT_EQ(**round.downloaded, std::filesystem::file_size(dir.path / "simulation.out.jsonl"));
  for (auto const& e : std::filesystem::directory_iterator(dir.path))
    EXPECT_EQ(e.path().string().find(".part."), std::string::npos) << "the cut download left no temporary";
  EXPECT_EQ(api.max_submissions(), 1u);
}

namespace {

/// Uploads `input`, then tries to create a batch over it.
struct create_once {
  llm::client& c;
  std::filesystem::path input;
  std::optional<result<batch::batch_object>> created;

  create_once(llm::client& cl, std::filesystem::path in) : c(cl), input(std::move(in)) {}

  [[gnu::noinline]] asio::awaitable<void> run() {  // noinline: see cancel_scenario
    auto up = co_await batch::async_upload_file(c, input, autointerp::as_result(asio::deferred));
    if (!up) co_return;
    created = co_await batch::async_create_batch(c, up->id, autointerp::as_result(asio::deferred));
  }
};

}  // namespace

TEST(batch_api, a_creation_that_timed_out_after_it_was_sent_is_not_retried) {
  batch_dir dir("batch-create");
  auto input = write_inputs(dir.path, "explain", 3);
  asio::io_context io;
  autointerp::testing::fake_batch_api api;
  auto serve = api.handler();
  int creates = 0;
  fake_llm_server server(io.get_executor(), [&](fake_request const& r) {
    if (r.target == "/v1/batches") {
      ++creates;
      return fake_reply::failure(fake_reply::action::hang);  // the server got it; the answer never comes
    }
    return serve(r);
  });
  auto o = options_for(server);
  o.timeouts.request = 100ms;
  llm::client c(io.get_executor(), o);
  create_once call(c, input.path);
  run(io, [&] { return call.run(); }, {[&] { server.stop(); }});
  ASSERT_TRUE(call.created);
  ASSERT_FALSE(*call.created);
  EXPECT_TRUE(call.created->error() == errc::timeout);
  EXPECT_EQ(creates, 1) << "a second creation would bill every request twice";
  EXPECT_NE(call.created->error().message.find("the batch may exist"), std::string::npos) << call.created->error().message;
  EXPECT_NE(call.created->error().message.find("creating a batch over input file"), std::string::npos);
}

TEST(llm_client, tls_carries_requests_and_answers_larger_than_a_tls_record) {
  asio::io_context io;
  std::size_t prompt_size = 0;
  fake_llm_server server(io.get_executor(), [&](fake_request const& r) {
    prompt_size = r.prompt().size();
    return fake_reply::completion(std::string(40000, 'a'));
  }, autointerp::testing::fake_server_options::https());
  auto o = options_for(server);
  o.timeouts.request = 5000ms;  // a stall fails the test instead of hanging it
  o.retry.max_attempts = 1;
  auto r = chat_once(io, server, o, request(std::string(40000, 'q')));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->text.size(), 40000u);
  EXPECT_EQ(prompt_size, 40000u);
}
