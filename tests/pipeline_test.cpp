// The scheduler with fake stages (no sockets), the shard split, the output folder and progress.
#include <autointerp/pipeline/latent_outcome.hpp>
#include <autointerp/pipeline/output_dir.hpp>
#include <autointerp/pipeline/progress.hpp>
#include <autointerp/pipeline/run.hpp>
#include <autointerp/pipeline/run_line.hpp>
#include <autointerp/pipeline/shard.hpp>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "test_paths.hpp"

namespace asio = boost::asio;
namespace pl = autointerp::pipeline;
using autointerp::errc;
using autointerp::result;
using autointerp::cache::latent_id;

namespace {

std::vector<latent_id> ids(std::uint32_t n, std::string module = "layers.3") {
  std::vector<latent_id> v;
  for (std::uint32_t i = 0; i < n; ++i) v.push_back({module, i});
  return v;
}

// A fake stage: waits a little on a timer (so latents overlap), records the concurrency it saw.
struct fake_stage {
  std::size_t in_flight = 0, max_seen = 0, calls = 0;
  std::uint32_t slow_from = ~0u;  // latents from this index on take 2 s (so a cancellation finds them in flight)
  std::map<std::uint32_t, int> calls_per_latent;
  std::function<pl::latent_outcome(latent_id const&)> decide = [](latent_id const& id) {
    pl::latent_outcome o;
    o.latent = id;
    o.status = pl::latent_status::explained;
    o.explanation = "latent " + std::to_string(id.index);
    o.usage = {10, 2, 0};
    return o;
  };

  pl::stages make() {
    pl::stages s;
    s.process = [this](latent_id id) -> asio::awaitable<pl::latent_outcome> {
      ++calls;
      ++calls_per_latent[id.index];
      ++in_flight;
      max_seen = std::max(max_seen, in_flight);
      auto delay = std::chrono::milliseconds(id.index >= slow_from ? 2000 : 1 + id.index % 3);
      asio::steady_timer t(co_await asio::this_coro::executor, delay);
      boost::system::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      --in_flight;
      if (ec) {
        pl::latent_outcome o;
        o.latent = id;
        o.error = autointerp::make_error(errc::cancelled, "cancelled");
        co_return o;
      }
      co_return decide(id);
    };
    return s;
  }
};

result<pl::run_summary> run_sync(asio::io_context& io, std::vector<latent_id> latents, pl::stages st, pl::run_options o) {
  std::optional<result<pl::run_summary>> out;
  pl::async_run(io.get_executor(), std::move(latents), std::move(st), o,
                [&](result<pl::run_summary> r) { out = std::move(r); });
  io.run();
  io.restart();
  if (!out) return autointerp::make_error(errc::cancelled, "run never completed");
  return std::move(*out);
}

}  // namespace

TEST(run, keeps_at_most_n_latents_in_flight_and_processes_each_once) {
  asio::io_context io;
  fake_stage f;
  std::size_t finished = 0;
  auto st = f.make();
  st.on_finished = [&](pl::latent_outcome const&) { ++finished; };
  auto r = run_sync(io, ids(200), st, {.max_concurrent = 7});
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(f.max_seen, 7u);
  EXPECT_EQ(r->max_in_flight, 7u);
  EXPECT_EQ(r->explained, 200u);
  EXPECT_EQ(finished, 200u);
  EXPECT_EQ(f.calls_per_latent.size(), 200u);
  for (auto const& [latent, n] : f.calls_per_latent) EXPECT_EQ(n, 1) << latent;
  EXPECT_EQ(r->usage.prompt_tokens, 2000u);
  EXPECT_EQ(r->stop, pl::stop_reason::completed);
}

TEST(run, pulls_latents_lazily) {
  // A range that counts how far it was read: never more than in-flight + finished.
  asio::io_context io;
  fake_stage f;
  std::size_t pulled = 0, finished = 0, worst_gap = 0;
  auto lazy = std::views::iota(0u, 100u) | std::views::transform([&](std::uint32_t i) {
                ++pulled;
                return latent_id{"m", i};
              });
  auto st = f.make();
  st.on_finished = [&](pl::latent_outcome const&) {
    ++finished;
    worst_gap = std::max(worst_gap, pulled - finished);
  };
  std::optional<result<pl::run_summary>> out;
  pl::async_run(io.get_executor(), lazy, st, {.max_concurrent = 4}, [&](result<pl::run_summary> r) { out = std::move(r); });
  io.run();
  ASSERT_TRUE(out && out->has_value());
  EXPECT_EQ(pulled, 100u);
  EXPECT_LE(worst_gap, 4u);
}

TEST(run, a_failed_latent_is_recorded_and_the_run_goes_on) {
  asio::io_context io;
  fake_stage f;
  auto base = f.decide;
  f.decide = [&](latent_id const& id) {
    if (id.index % 10 == 3) throw std::runtime_error("boom");
    auto o = base(id);
    if (id.index % 10 == 5) {
      o.status = pl::latent_status::failed;
      o.error = autointerp::make_error(errc::server_error, "500 after retries");
    }
    return o;
  };
  std::vector<pl::latent_outcome> seen;
  auto st = f.make();
  st.on_finished = [&](pl::latent_outcome const& o) { seen.push_back(o); };
  auto r = run_sync(io, ids(50), st, {.max_concurrent = 5});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->explained, 40u);
  EXPECT_EQ(r->failed, 10u);
  EXPECT_EQ(r->stop, pl::stop_reason::completed);
  std::size_t thrown = 0;
  for (auto const& o : seen)
    if (o.latent.index % 10 == 3) {
      ++thrown;
      ASSERT_TRUE(o.error);
      EXPECT_NE(o.error->message.find("boom"), std::string::npos);
    }
  EXPECT_EQ(thrown, 5u);
}

TEST(run, a_fatal_error_stops_new_work_and_drains) {
  asio::io_context io;
  fake_stage f;
  auto base = f.decide;
  f.decide = [&](latent_id const& id) {
    auto o = base(id);
    if (id.index == 20) {
      o.status = pl::latent_status::failed;
      o.error = autointerp::make_error(errc::payment_required, "402 from openrouter.ai: no credit left");
    }
    return o;
  };
  bool fatal_reported = false;
  std::size_t started_after = 0;
  auto st = f.make();
  auto process = st.process;
  st.process = [&](latent_id id) {
    if (fatal_reported) ++started_after;
    return process(id);
  };
  st.on_finished = [&](pl::latent_outcome const& o) { fatal_reported |= o.error && pl::is_fatal(*o.error); };
  auto r = run_sync(io, ids(1000), st, {.max_concurrent = 8});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(fatal_reported);
  EXPECT_EQ(started_after, 0u);                     // nothing started after the fatal outcome
  EXPECT_EQ(r->stop, pl::stop_reason::fatal);
  ASSERT_TRUE(r->fatal);
  EXPECT_TRUE(*r->fatal == errc::payment_required);
  EXPECT_EQ(f.in_flight, 0u);                       // drained: nothing left running
  EXPECT_LT(f.calls, 60u);
  EXPECT_EQ(r->processed(), f.calls);               // every started latent was reported
}

TEST(run, partial_cancellation_drains_and_terminal_cancels) {
  for (auto type : {asio::cancellation_type::partial, asio::cancellation_type::terminal}) {
    asio::io_context io;
    fake_stage f;
    f.slow_from = 10;
    asio::cancellation_signal sig;
    std::size_t finished = 0;
    auto st = f.make();
    st.on_finished = [&](pl::latent_outcome const&) {
      if (++finished == 10) sig.emit(type);
    };
    std::optional<result<pl::run_summary>> out;
    pl::async_run(io.get_executor(), ids(1000), st, {.max_concurrent = 6},
                  asio::bind_cancellation_slot(sig.slot(), [&](result<pl::run_summary> r) { out = std::move(r); }));
    io.run();
    ASSERT_TRUE(out && out->has_value());
    auto const& s = **out;
    EXPECT_EQ(f.in_flight, 0u);
    EXPECT_LE(f.calls, 10u + 6u);
    EXPECT_EQ(s.processed(), f.calls);
    if (type == asio::cancellation_type::partial) {
      EXPECT_EQ(s.stop, pl::stop_reason::drained);
      EXPECT_EQ(s.failed, 0u);  // in-flight latents finished normally
    } else {
      EXPECT_EQ(s.stop, pl::stop_reason::cancelled);
      EXPECT_GT(s.failed, 0u);  // in-flight latents saw the cancellation
    }
  }
}

TEST(run, resume_skips_latents_already_done_without_processing_them) {
  asio::io_context io;
  fake_stage f;
  auto st = f.make();
  st.already_done = [](latent_id const& id) { return id.index % 2 == 0; };
  auto r = run_sync(io, ids(40), st, {.max_concurrent = 3});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->already_done, 20u);
  EXPECT_EQ(r->explained, 20u);
  for (auto const& [latent, n] : f.calls_per_latent) EXPECT_EQ(latent % 2, 1u);
}

TEST(run, rejects_bad_options_and_handles_an_empty_selection) {
  asio::io_context io;
  fake_stage f;
  auto zero = run_sync(io, ids(3), f.make(), {.max_concurrent = 0});
  ASSERT_FALSE(zero.has_value());
  EXPECT_TRUE(zero.error() == errc::bad_option);
  auto empty = run_sync(io, ids(0), f.make(), {.max_concurrent = 4});
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->processed(), 0u);
}

TEST(run, co_await_run_inside_a_coroutine) {
  asio::io_context io;
  fake_stage f;
  std::optional<result<pl::run_summary>> out;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> {
        auto op = pl::run(ids(30), f.make(), {.max_concurrent = 4});
        out = co_await std::move(op);
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(out && out->has_value());
  EXPECT_EQ((*out)->explained, 30u);
  EXPECT_EQ(f.max_seen, 4u);
}

TEST(shard, parses_k_of_n_and_rejects_nonsense) {
  auto s = pl::parse_shard("2/5");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(*s, (pl::shard{2, 5}));
  for (auto bad : {"", "3", "5/5", "1/0", "a/b", "-1/3", "1/3x", "/3"}) {
    auto r = pl::parse_shard(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_TRUE(r.error() == errc::bad_option);
    EXPECT_NE(r.error().message.find("--shard"), std::string::npos);
  }
}

TEST(shard, shards_cover_every_latent_exactly_once_and_are_balanced) {
  auto all = ids(103);
  std::multiset<std::uint32_t> seen;
  for (std::size_t k = 0; k < 4; ++k) {
    auto part = pl::select_shard(all, {k, 4});
    EXPECT_GE(part.size(), 25u);
    EXPECT_LE(part.size(), 26u);
    EXPECT_EQ(part, pl::select_shard(all, {k, 4}));  // deterministic
    for (auto const& id : part) seen.insert(id.index);
  }
  EXPECT_EQ(seen.size(), 103u);
  for (std::uint32_t i = 0; i < 103; ++i) EXPECT_EQ(seen.count(i), 1u);
}

namespace {
std::string read(std::filesystem::path const& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
std::filesystem::path fresh_dir(std::string const& name) {
  auto d = std::filesystem::temp_directory_path() / ("autointerp_pipeline_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  return d;
}
}  // namespace

TEST(output_dir, writes_delphi_files_and_run_lines) {
  auto dir = fresh_dir("sinks");
  auto out = pl::output_dir::open(dir, false);
  ASSERT_TRUE(out.has_value()) << out.error().what();
  pl::latent_outcome ok;
  ok.latent = {".model.layers.10", 5};
  ok.status = pl::latent_status::explained;
  ok.explanation = "The word \"cat\"";
  ok.attempts = 2;
  ok.usage = {100, 20, 0};
  ok.latency = std::chrono::milliseconds(1500);
  ASSERT_TRUE(out->write(ok).has_value());
  pl::latent_outcome bad;
  bad.latent = {".model.layers.10", 6};
  bad.status = pl::latent_status::unparsed;
  bad.raw_answer = "no idea";
  ASSERT_TRUE(out->write(bad).has_value());

  EXPECT_EQ(read(dir / "explanations" / ".model.layers.10_latent5.txt"), "\"The word \\\"cat\\\"\"");
  EXPECT_FALSE(std::filesystem::exists(dir / "explanations" / ".model.layers.10_latent6.txt"));
  std::istringstream lines(read(dir / "run.jsonl"));
  std::string line;
  std::vector<boost::json::object> rows;
  while (std::getline(lines, line)) rows.push_back(boost::json::parse(line).as_object());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("module").as_string(), ".model.layers.10");
  EXPECT_EQ(rows[0].at("latent").as_int64(), 5);
  EXPECT_EQ(rows[0].at("status").as_string(), "explained");
  EXPECT_EQ(rows[0].at("attempts").as_int64(), 2);
  EXPECT_EQ(rows[0].at("usage").at("prompt_tokens").as_int64(), 100);
  EXPECT_EQ(rows[0].at("usage").at("completion_tokens").as_int64(), 20);
  EXPECT_EQ(rows[0].at("latency_ms").as_int64(), 1500);
  EXPECT_TRUE(rows[0].at("error").is_null());
  EXPECT_EQ(rows[1].at("status").as_string(), "unparsed");
  EXPECT_EQ(rows[1].at("raw").as_string(), "no idea");
  // No temporary files left behind.
  for (auto const& e : std::filesystem::directory_iterator(dir / "explanations"))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(output_dir, resume_trusts_explanation_files_and_restores_missing_lines) {
  auto dir = fresh_dir("resume");
  {
    auto out = pl::output_dir::open(dir, false);
    ASSERT_TRUE(out.has_value());
    pl::latent_outcome ok;
    ok.latent = {"m", 1};
    ok.status = pl::latent_status::explained;
    ok.explanation = "one";
    ASSERT_TRUE(out->write(ok).has_value());
  }
  // As if killed between the explanation file and its run.jsonl line, and mid-line afterwards.
  ASSERT_TRUE(pl::write_file_atomically(dir / "explanations" / "m_latent2.txt", "\"two\"").has_value());
  { std::ofstream(dir / "run.jsonl", std::ios::app) << "{\"module\":\"m\",\"lat"; }
  auto out = pl::output_dir::open(dir, true);
  ASSERT_TRUE(out.has_value());
  EXPECT_TRUE(out->already_explained({"m", 1}));
  EXPECT_TRUE(out->already_explained({"m", 2}));
  EXPECT_FALSE(out->already_explained({"m", 3}));
  EXPECT_TRUE(out->already_explained({"m", 2}));  // asked again: no second line
  auto text = read(dir / "run.jsonl");
  // The torn line was ended, so the restored line stands on its own and parses.
  std::istringstream lines(text);
  std::string line;
  std::vector<std::string> whole;
  while (std::getline(lines, line)) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (!ec) whole.push_back(line);
  }
  ASSERT_EQ(whole.size(), 2u) << text;
  EXPECT_NE(whole[1].find("\"latent\":2,\"status\":\"explained\",\"explanation\":\"two\""), std::string::npos) << text;
  std::filesystem::remove_all(dir);
}

// The line reader shared by resume (output_dir) and reports (run_results), driven by fuzz_run_jsonl.
TEST(run_line, reads_what_to_json_writes_and_skips_torn_or_foreign_lines) {
  pl::latent_outcome o;
  o.latent = {".model.layers.10", 4294967295u};
  o.status = pl::latent_status::unparsed;
  o.raw_answer = "no idea";
  o.attempts = 3;
  o.error = autointerp::make_error(errc::unparsed_answer, "no [EXPLANATION] line");
  auto r = pl::parse_run_line(boost::json::serialize(pl::to_json(o)));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->module, ".model.layers.10");
  EXPECT_EQ(r->latent, 4294967295u);
  EXPECT_EQ(r->status, "unparsed");
  EXPECT_EQ(r->explanation, "");
  r = pl::parse_run_line(R"({"status":"explained","latent":5.0,"module":"m","explanation":"five"} )" "\r");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->latent, 5u);
  EXPECT_EQ(r->explanation, "five");
  r = pl::parse_run_line(R"({"module":"m","latent":1,"status":"explained","explanation":7})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->explanation, "") << "an explanation that is not a string is left out";
  for (char const* bad : {"", "{\"module\":\"m\",\"lat", "[\"m\",1,\"explained\"]", "{\"module\":\"m\",\"latent\":1}",
                          "{\"module\":\"m\",\"latent\":1.5,\"status\":\"explained\"}",
                          "{\"module\":\"m\",\"latent\":-1,\"status\":\"explained\"}",
                          "{\"module\":\"m\",\"latent\":4294967296,\"status\":\"explained\"}",
                          "{\"module\":\"m\",\"latent\":\"1\",\"status\":\"explained\"}",
                          "{\"module\":1,\"latent\":1,\"status\":\"explained\"}",
                          "{\"module\":\"m\",\"latent\":1,\"status\":null}",
                          "{\"module\":\"m\",\"latent\":1,\"status\":\"explained\"} {}"})
    EXPECT_FALSE(pl::parse_run_line(bad)) << bad;
}

TEST(progress, counts_and_formats_without_a_terminal) {
  pl::progress p(10, nullptr);
  auto t0 = pl::progress::clock::now();
  pl::latent_outcome o;
  o.status = pl::latent_status::explained;
  o.usage = {1500, 200, 0.01};
  p.add_already_done(2);
  for (int i = 0; i < 3; ++i) p.add(o, t0);
  o.status = pl::latent_status::failed;
  p.add(o, t0);
  auto s = p.status(t0 + std::chrono::seconds(2));
  EXPECT_EQ(p.done(), 6u);
  EXPECT_EQ(p.failed(), 1u);
  EXPECT_NE(s.find("6/10 (60%)"), std::string::npos) << s;
  EXPECT_NE(s.find("1 failed"), std::string::npos) << s;
  EXPECT_NE(s.find("tokens 6.0k in / 800 out"), std::string::npos) << s;
  EXPECT_NE(s.find("$0.0400"), std::string::npos) << s;
  EXPECT_NE(s.find("ETA"), std::string::npos) << s;
}
