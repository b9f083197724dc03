// The scheduler with fake stages (no sockets), the shard split, the output folder and progress.
#include <autointerp/pipeline/latent_outcome.hpp>
#include <autointerp/pipeline/job.hpp>
#include <autointerp/pipeline/run_line.hpp>
#include <autointerp/pipeline/run_store.hpp>
#include <autointerp/pipeline/stage.hpp>
#include <autointerp/with_diagnostics.hpp>
#include <autointerp/pipeline/progress.hpp>
#include <autointerp/pipeline/run.hpp>
#include <autointerp/pipeline/run_line.hpp>
#include <autointerp/pipeline/shard.hpp>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
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
    o.usage = {10, 2, 0, 0};
    return o;
  };

  pl::run_hooks make() {
    pl::run_hooks s;
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

result<pl::run_summary> run_sync(asio::io_context& io, std::vector<latent_id> latents, pl::run_hooks const& st, pl::run_options o) {
  std::optional<result<pl::run_summary>> out;
  pl::async_run(io.get_executor(), std::move(latents), st, o, autointerp::as_result([&](result<pl::run_summary> r) {
                  out = std::move(r);
                }));
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
  pl::async_run(io.get_executor(), lazy, st, {.max_concurrent = 4},
                autointerp::as_result([&](result<pl::run_summary> r) { out = std::move(r); }));
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
  st.on_finished = [&](pl::latent_outcome const& o) { fatal_reported |= o.error && autointerp::is_fatal(*o.error); };
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
                  autointerp::as_result(asio::bind_cancellation_slot(sig.slot(), [&](result<pl::run_summary> r) { out = std::move(r); })));
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
  std::optional<pl::run_summary> out;
  auto hooks = f.make();
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> {
        out = co_await pl::async_run(co_await asio::this_coro::executor, ids(30), hooks, {.max_concurrent = 4});
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->explained, 30u);
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
    EXPECT_NE(r.error().message.find("shard '"), std::string::npos);
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

pl::stage_outcome explained(std::string text) {
  pl::stage_outcome o;
  o.status = pl::latent_status::explained;
  o.explanation = std::move(text);
  return o;
}

TEST(run_store, writes_delphi_files_and_run_lines) {
  auto dir = fresh_dir("sinks");
  auto out = pl::run_store::open(dir, pl::store_mode::fresh);
  ASSERT_TRUE(out.has_value()) << out.error().what();
  latent_id const five{".model.layers.10", 5}, six{".model.layers.10", 6};
  auto ok = explained("The word \"cat\"");
  ok.attempts = 2;
  ok.usage = {100, 20, 0, 0};
  ok.latency = std::chrono::milliseconds(1500);
  ok.files.push_back({pl::run_store::explanation_file(five), "\"The word \\\"cat\\\"\""});
  ASSERT_TRUE(out->write_files(ok).has_value());
  ASSERT_TRUE(out->append(five, ok).has_value());
  pl::stage_outcome bad;
  bad.status = pl::latent_status::unparsed;
  bad.raw_answer = "no idea";
  ASSERT_TRUE(out->append(six, bad).has_value());
  pl::stage_outcome scored;
  scored.stage = "detection";
  scored.status = pl::latent_status::scored;
  scored.files.push_back({pl::run_store::score_file("detection", five), "[]"});
  ASSERT_TRUE(out->write_files(scored).has_value());
  ASSERT_TRUE(out->append(five, scored).has_value());

  EXPECT_EQ(read(dir / "explanations" / ".model.layers.10_latent5.txt"), "\"The word \\\"cat\\\"\"");
  EXPECT_EQ(read(dir / "scores" / "detection" / ".model.layers.10_latent5.txt"), "[]");
  EXPECT_FALSE(std::filesystem::exists(dir / "explanations" / ".model.layers.10_latent6.txt"));
  std::istringstream lines(read(dir / "run.jsonl"));
  std::string line;
  std::vector<boost::json::object> rows;
  while (std::getline(lines, line)) rows.push_back(boost::json::parse(line).as_object());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].at("module").as_string(), ".model.layers.10");
  EXPECT_EQ(rows[0].at("latent").as_int64(), 5);
  EXPECT_EQ(rows[0].at("status").as_string(), "explained");
  EXPECT_EQ(rows[0].at("attempts").as_int64(), 2);
  EXPECT_EQ(rows[0].at("usage").at("prompt_tokens").as_int64(), 100);
  EXPECT_EQ(rows[0].at("usage").at("completion_tokens").as_int64(), 20);
  EXPECT_EQ(rows[0].at("latency_ms").as_int64(), 1500);
  EXPECT_TRUE(rows[0].at("error").is_null());
  EXPECT_FALSE(rows[0].contains("stage"));  // explain lines are as earlier versions wrote them
  EXPECT_EQ(rows[1].at("status").as_string(), "unparsed");
  EXPECT_EQ(rows[1].at("raw").as_string(), "no idea");
  EXPECT_EQ(rows[2].at("stage").as_string(), "detection");
  // Temporaries went to .tmp/ and none is left.
  for (auto const* sub : {"explanations", "scores/detection", ".tmp"})
    for (auto const& e : std::filesystem::directory_iterator(dir / sub))
      EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();

  // Read back: statuses from their names, the stage's latest line, explanations from the files.
  auto back = pl::run_store::open(dir, pl::store_mode::read);
  ASSERT_TRUE(back.has_value());
  auto five_line = back->find(five);
  ASSERT_TRUE(five_line);
  EXPECT_EQ(five_line->status, pl::latent_status::explained);
  EXPECT_EQ(five_line->explanation, "The word \"cat\"");
  EXPECT_EQ(five_line->attempts, 2u);
  EXPECT_EQ(back->find(five, "detection")->status, pl::latent_status::scored);
  EXPECT_EQ(back->find(six)->status, pl::latent_status::unparsed);
  EXPECT_FALSE(back->find({"m", 9}));
  EXPECT_EQ(back->size(), 3u);
  std::filesystem::remove_all(dir);
}

TEST(run_store, resume_checks_files_without_writing_and_repair_is_its_own_step) {
  auto dir = fresh_dir("resume");
  {
    auto out = pl::run_store::open(dir, pl::store_mode::fresh);
    ASSERT_TRUE(out.has_value());
    auto ok = explained("one");
    ok.files.push_back({pl::run_store::explanation_file({"m", 1}), "\"one\""});
    ASSERT_TRUE(out->write_files(ok).has_value());
    ASSERT_TRUE(out->append({"m", 1}, ok).has_value());
  }
  // As if killed between the explanation file and its run.jsonl line, and mid-line afterwards.
  ASSERT_TRUE(pl::write_file_atomically(dir / "explanations" / "m_latent2.txt", "\"two\"").has_value());
  std::filesystem::create_directories(dir / "scores" / "fuzz");
  ASSERT_TRUE(pl::write_file_atomically(dir / "scores" / "fuzz" / "m_latent1.txt", "[]").has_value());
  { std::ofstream(dir / "run.jsonl", std::ios::app) << "{\"module\":\"m\",\"lat"; }
  auto out = pl::run_store::open(dir, pl::store_mode::resume);
  ASSERT_TRUE(out.has_value());
  auto const before = read(dir / "run.jsonl");
  EXPECT_TRUE(out->has_explanation({"m", 1}));
  EXPECT_TRUE(out->has_explanation({"m", 2}));
  EXPECT_FALSE(out->has_explanation({"m", 3}));
  EXPECT_EQ(out->read_explanation({"m", 2}), "two");
  EXPECT_EQ(read(dir / "run.jsonl"), before) << "checking whether a latent is done writes nothing";
  auto repaired = out->repair_run_log();
  ASSERT_TRUE(repaired.has_value());
  EXPECT_EQ(*repaired, 2u);  // the explanation's line and the score file's
  EXPECT_EQ(*out->repair_run_log(), 0u) << "a second repair finds nothing missing";
  auto text = read(dir / "run.jsonl");
  // The torn line was ended, so the restored line stands on its own and parses.
  std::istringstream lines(text);
  std::string line;
  std::vector<std::string> whole;
  while (std::getline(lines, line))
    if (pl::parse_run_line(line)) whole.push_back(line);
  ASSERT_EQ(whole.size(), 3u) << text;
  EXPECT_NE(whole[1].find("\"latent\":2,\"status\":\"explained\",\"explanation\":\"two\""), std::string::npos) << text;
  auto fuzz = pl::parse_run_line(whole[2]);
  ASSERT_TRUE(fuzz);
  EXPECT_EQ(fuzz->stage, "fuzz");
  EXPECT_EQ(fuzz->status, pl::latent_status::scored);
  EXPECT_EQ(fuzz->latent.index, 1u);
  std::filesystem::remove_all(dir);
}

TEST(run_line, parses_what_to_json_writes_and_skips_foreign_lines) {
  pl::stage_outcome o;
  o.stage = "fuzz";
  o.status = pl::latent_status::failed;
  o.attempts = 6;
  o.usage = {7, 3, 2, 0.25};
  o.error = autointerp::make_error(errc::server_error, "gave up after 6 attempts");
  auto json = pl::to_json({"layers.6", 42}, o);
  EXPECT_EQ(json.at("usage").at("cached_tokens").to_number<std::int64_t>(), 2);
  EXPECT_DOUBLE_EQ(json.at("cost_usd").as_double(), 0.25);
  auto line = pl::parse_run_line(boost::json::serialize(json));
  ASSERT_TRUE(line);
  EXPECT_EQ(line->latent.module, "layers.6");
  EXPECT_EQ(line->latent.index, 42u);
  EXPECT_EQ(line->stage, "fuzz");
  EXPECT_EQ(line->status, pl::latent_status::failed);
  EXPECT_EQ(line->attempts, 6u);
  EXPECT_EQ(line->usage.prompt_tokens, 7u);
  EXPECT_EQ(line->usage.cached_tokens, 2u);
  EXPECT_DOUBLE_EQ(line->usage.cost, 0.25);
  EXPECT_EQ(line->error, "gave up after 6 attempts");
  // Lines of earlier versions kept the cost in usage.cost.
  auto old = pl::parse_run_line(R"({"module":"m","latent":1,"status":"explained","usage":{"prompt_tokens":4,"cost":0.5}})");
  ASSERT_TRUE(old);
  EXPECT_DOUBLE_EQ(old->usage.cost, 0.5);
  EXPECT_EQ(old->usage.cached_tokens, 0u);
  auto five = pl::parse_run_line(R"({"status":"explained","latent":5.0,"module":"m","explanation":"five"} )" "\r");
  ASSERT_TRUE(five);
  EXPECT_EQ(five->latent.index, 5u);
  EXPECT_EQ(five->explanation, "five");
  for (char const* bad : {"", "{", "[]", "{\"module\":\"m\",\"latent\":-1,\"status\":\"explained\"}",
                          "{\"module\":\"m\",\"latent\":1.5,\"status\":\"explained\"}",
                          "{\"module\":\"m\",\"latent\":4294967296,\"status\":\"explained\"}",
                          "{\"module\":\"m\",\"latent\":\"1\",\"status\":\"explained\"}",
                          "{\"module\":\"m\",\"latent\":1,\"status\":null}",
                          "{\"module\":\"m\",\"latent\":1,\"status\":\"explained\"} {}",
                          "{\"module\":\"m\",\"latent\":1,\"status\":\"made up\"}", "{\"module\":1,\"latent\":1,\"status\":\"failed\"}"})
    EXPECT_FALSE(pl::parse_run_line(bad)) << bad;
  for (auto s : {pl::latent_status::explained, pl::latent_status::unparsed, pl::latent_status::failed,
                 pl::latent_status::skipped, pl::latent_status::scored})
    EXPECT_EQ(pl::parse_latent_status(pl::to_string(s)), s);
}

// A stage written here, outside pipeline/: it plugs into a job through the stage interface alone.
struct count_tokens_stage final : pl::stage {
  std::string_view name() const noexcept override { return "count"; }
  bool finished(pl::run_store const& store, latent_id const& id) const override {
    return store.has_file(pl::run_store::score_file("count", id));
  }
  asio::awaitable<pl::stage_outcome> run(pl::latent_work& work) const override {
    pl::stage_outcome o;
    o.status = pl::latent_status::scored;
    std::size_t n = 0;
    for (auto const& ex : work.record.train) n += ex.tokens.size();
    o.files.push_back({pl::run_store::score_file("count", work.latent), std::to_string(n)});
    co_return o;
  }
};

TEST(job, a_custom_stage_plugs_in_and_resume_skips_it) {
  auto dir = fresh_dir("custom_stage");
  asio::io_context io;
  asio::thread_pool cpu(2);
  auto data = autointerp::cache::dataset::open(std::filesystem::path(AUTOINTERP_TEST_FIXTURES) / "delphi" / "cache_a");
  ASSERT_TRUE(data.has_value());
  pl::job_sources const src{.data = *data, .tokens = nullptr, .cpu = cpu.get_executor()};
  pl::stage_list const stages{std::make_shared<count_tokens_stage>()};
  pl::job_options opts{.out = dir, .resume = false, .records = {}, .progress = {}};
  opts.records.records.min_examples = 1;
  auto run_job = [&](bool resume) {
    opts.resume = resume;
    auto j = pl::make_job(src, opts, stages, 3);
    EXPECT_TRUE(j.has_value());
    std::optional<pl::run_summary> summary;
    pl::async_run(io.get_executor(), std::vector<latent_id>{{"layers.3", 270}, {"layers.3", 271}, {"layers.3", 300}}, j->hooks, {.max_concurrent = 2},
                  [&](boost::system::error_code ec, pl::run_summary s) {
                    EXPECT_FALSE(ec);
                    summary = s;
                  });
    io.restart();
    io.run();
    return summary;
  };
  auto first = run_job(false);
  ASSERT_TRUE(first);
  std::size_t files = 0;
  for (std::uint32_t i : {270u, 271u, 300u}) {
    auto p = dir / "scores" / "count" / ("layers.3_latent" + std::to_string(i) + ".txt");
    if (!std::filesystem::exists(p)) continue;
    ++files;
    auto rec = autointerp::records::load_record(*data, {"layers.3", i}, opts.records, nullptr);
    std::size_t n = 0;
    for (auto const& ex : rec->train) n += ex.tokens.size();
    EXPECT_EQ(read(p), std::to_string(n));
  }
  EXPECT_GE(files, 1u);
  EXPECT_EQ(files, first->scored);
  EXPECT_EQ(first->scored + first->skipped, 3u);
  auto second = run_job(true);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->already_done, files);
  cpu.join();
  std::filesystem::remove_all(dir);
}

TEST(progress, counts_and_formats_without_a_terminal) {
  pl::progress p(10);
  auto t0 = pl::progress::clock::now();
  pl::latent_outcome o;
  o.status = pl::latent_status::explained;
  o.usage = {1500, 200, 0, 0.01};
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
  // Four latents of this run cost $0.04; the four left at that mean bring the job to $0.08.
  EXPECT_NE(s.find("(projected $0.0800)"), std::string::npos) << s;
  EXPECT_NE(s.find("ETA"), std::string::npos) << s;
}
