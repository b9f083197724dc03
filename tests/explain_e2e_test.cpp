// The main job end to end on the bundled sample (examples/data): records built from the cache,
// decoded with its tokenizer, explained by an in-process fake LLM over HTTP (or the statistical
// baseline), written to an output folder; plus faults, resume, fatal errors, and the examples.
#include <autointerp/cache/dataset.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/llm/client_options.hpp>
#include <autointerp/llm/endpoint.hpp>
#include <autointerp/explain/dry_run_explainer.hpp>
#include <autointerp/explain/llm_explainer.hpp>
#include <autointerp/explain/statistical_explainer.hpp>
#include <autointerp/pipeline/explain_stage.hpp>
#include <autointerp/pipeline/job.hpp>
#include <autointerp/records/load_record.hpp>
#include <autointerp/with_diagnostics.hpp>
#include <autointerp/pipeline/run.hpp>
#include <autointerp/records/load_neighbour_activity.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "fake_answers.hpp"
#include "fake_llm_server.hpp"
#include "test_paths.hpp"

namespace asio = boost::asio;
namespace ai = autointerp;
namespace pl = autointerp::pipeline;
using ai::testing::fake_llm_server;
using ai::testing::fake_reply;
using ai::testing::fake_request;
using ai::testing::name_the_token;

namespace {

std::filesystem::path const sample = std::filesystem::path(AUTOINTERP_SOURCE_DIR) / "examples" / "data";

// The planted single-token latents of the sample, from planted.json.
std::map<std::uint32_t, std::string> planted_tokens() {
  std::ifstream f(sample / "planted.json");
  std::stringstream ss;
  ss << f.rdbuf();
  std::map<std::uint32_t, std::string> out;
  auto const planted = boost::json::parse(ss.str());
  for (auto const& l : planted.at("latents").as_array()) {
    if (l.at("kind").as_string() != "token") continue;
    out[static_cast<std::uint32_t>(l.at("latent").as_int64())] = std::string(l.at("tokens").as_array()[0].as_string());
  }
  return out;
}

std::string read(std::filesystem::path const& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<boost::json::object> run_lines(std::filesystem::path const& dir) {
  std::istringstream in(read(dir / "run.jsonl"));
  std::vector<boost::json::object> rows;
  std::string line;
  while (std::getline(in, line)) rows.push_back(boost::json::parse(line).as_object());
  return rows;
}

std::filesystem::path fresh_dir(std::string const& name) {
  auto d = std::filesystem::temp_directory_path() / ("autointerp_e2e_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  return d;
}

// Which explainer a harness uses.
enum class backend { llm, statistical, dry_run };

// Everything a run needs, built the way the CLI builds it.
struct harness {
  asio::io_context io;
  asio::thread_pool cpu{2};
  pl::job_sources sources;
  ai::records::load_options options;
  std::unique_ptr<fake_llm_server> server;
  std::unique_ptr<ai::llm::client> client;
  std::unique_ptr<ai::explain::explainer> explainer;
  pl::stage_list stages;
  bool expect_write_error = false;
  std::optional<ai::error> last_write_error;

  explicit harness(backend kind, ai::testing::fake_handler handler = name_the_token, std::size_t call_cap = 64) {
    auto data = ai::cache::dataset::open(sample / "cache");
    if (!data) throw ai::exception(data.error());
    auto tok = ai::tokenizer::load_tokenizer(sample / "tokenizer.json");
    if (!tok) throw ai::exception(tok.error());
    sources = {.data = *data,
               .tokens = std::make_shared<ai::tokenizer::tokenizer const>(std::move(*tok)),
               .cpu = cpu.get_executor()};
    options.records.min_examples = 1;
    options.records.n_examples_test = 0;
    options.records.n_non_activating = 0;
    ai::explain::llm_explainer_options eo;
    eo.model = "fake/model";
    if (kind == backend::llm) {
      server = std::make_unique<fake_llm_server>(io.get_executor(), std::move(handler));
      ai::llm::client_options co;
      co.endpoint = ai::llm::local(server->base_url());
      co.retry.base_delay = std::chrono::milliseconds(2);
      co.retry.max_backoff = std::chrono::milliseconds(20);
      co.retry.max_server_delay = std::chrono::milliseconds(20);
      co.retry.max_attempts = 10;
      co.timeouts.request = std::chrono::milliseconds(2000);
      co.seed = 7;
      co.max_connections = call_cap;
      co.limits.max_in_flight = call_cap;
      client = std::make_unique<ai::llm::client>(io.get_executor(), std::move(co));
      explainer = std::make_unique<ai::explain::llm_explainer>(*client, eo);
    } else if (kind == backend::dry_run) {
      explainer = std::make_unique<ai::explain::dry_run_explainer>(io.get_executor(), eo);
    } else {
      explainer = std::make_unique<ai::explain::statistical_explainer>(io.get_executor());
    }
    stages = {std::make_shared<pl::explain_stage>(*explainer)};
  }

  // The first `n` latents that fire often enough for the default (quantiles) sampler to draw train
  // examples; many background latents of the sample fire rarely or never.
  std::vector<std::uint32_t> live(std::size_t n, std::uint32_t min_count = 40) {
    auto sums = sources.data.summaries("layers.6");
    if (!sums) throw ai::exception(sums.error());
    std::vector<std::uint32_t> out;
    for (std::uint32_t i = 0; i < sums->size() && out.size() < n; ++i)
      if ((*sums)[i].count >= min_count) out.push_back(i);
    return out;
  }

  static std::vector<ai::cache::latent_id> latents(std::vector<std::uint32_t> const& idx) {
    std::vector<ai::cache::latent_id> v;
    for (auto i : idx) v.push_back({"layers.6", i});
    return v;
  }

  // Runs the job to the end (or until `stop` is emitted) and returns its summary.
  pl::run_summary run(std::vector<ai::cache::latent_id> ids, std::filesystem::path const& out, bool resume,
                      std::size_t concurrency, asio::cancellation_signal* stop = nullptr,
                      std::function<void(pl::latent_outcome const&)> also = {}) {
    pl::job_options const opts{.out = out, .resume = resume, .records = options, .progress = {}};
    auto job = pl::make_job(sources, opts, stages, ids.size());
    if (!job) throw ai::exception(job.error());
    if (resume) (void)job->store->repair_run_log();
    if (also) {
      auto first = job->hooks.on_finished;
      job->hooks.on_finished = [first, also](pl::latent_outcome const& o) {
        first(o);
        also(o);
      };
    }
    std::optional<ai::result<pl::run_summary>> result;
    auto done = [&](ai::result<pl::run_summary> r) {
      result = std::move(r);
      if (client) client->close_idle_connections();
      if (server) server->stop();
    };
    asio::cancellation_signal unused;
    pl::async_run(io.get_executor(), std::move(ids), job->hooks, {.max_concurrent = concurrency},
                  ai::as_result(asio::bind_cancellation_slot((stop ? stop : &unused)->slot(), done)));
    io.run();
    io.restart();
    if (!result || !*result) throw std::runtime_error("run failed");
    last_write_error = *job->write_error;
    if (!expect_write_error) {
      EXPECT_FALSE(last_write_error);
    }
    return **result;
  }
};

// Checks the output folder against run.jsonl: one line per latent of `expected`, the fields of
// DESIGN.md, and an explanation file (a JSON string equal to the line's explanation) per explained latent.
void check_outputs(std::filesystem::path const& dir, std::set<std::uint32_t> const& expected) {
  std::map<std::uint32_t, int> explained_lines;
  std::set<std::uint32_t> seen;
  for (auto const& row : run_lines(dir)) {
    for (auto key : {"module", "latent", "status", "explanation", "attempts", "usage", "latency_ms", "error"})
      ASSERT_TRUE(row.contains(key)) << key;
    ASSERT_TRUE(row.at("usage").as_object().contains("prompt_tokens"));
    ASSERT_TRUE(row.at("usage").as_object().contains("completion_tokens"));
    EXPECT_EQ(row.at("module").as_string(), "layers.6");
    auto latent = static_cast<std::uint32_t>(row.at("latent").as_int64());
    seen.insert(latent);
    auto status = std::string(row.at("status").as_string());
    EXPECT_TRUE(status == "explained" || status == "unparsed" || status == "failed" || status == "skipped") << status;
    auto file = dir / "explanations" / ("layers.6_latent" + std::to_string(latent) + ".txt");
    if (status == "explained") {
      ++explained_lines[latent];
      ASSERT_TRUE(std::filesystem::exists(file)) << file;
      auto v = boost::json::parse(read(file));
      ASSERT_TRUE(v.is_string());
      EXPECT_EQ(v.as_string(), row.at("explanation").as_string());
      EXPECT_TRUE(row.at("error").is_null());
    } else {
      EXPECT_FALSE(row.at("error").is_null()) << status;
    }
  }
  EXPECT_EQ(seen, expected);
  for (auto const& [latent, n] : explained_lines) EXPECT_EQ(n, 1) << "latent " << latent << " explained twice";
  for (auto const& e : std::filesystem::directory_iterator(dir / "explanations"))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
}

}  // namespace

TEST(explain_e2e, planted_single_token_latents_come_back_with_their_token) {
  auto planted = planted_tokens();
  ASSERT_GE(planted.size(), 5u);
  std::vector<std::uint32_t> idx;
  for (std::uint32_t i = 0; i < 40; ++i) idx.push_back(i);
  for (auto const& [latent, token] : planted) idx.push_back(latent);
  idx.push_back(416);  // dead: never fires, so it has no example and is skipped
  harness h(backend::llm);
  auto out = fresh_dir("planted");
  auto s = h.run(harness::latents(idx), out, false, 8);
  EXPECT_EQ(s.stop, pl::stop_reason::completed);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.unparsed, 0u);
  EXPECT_GE(s.skipped, 1u);
  EXPECT_EQ(s.processed(), idx.size());
  for (auto const& [latent, token] : planted) {
    auto text = read(out / "explanations" / ("layers.6_latent" + std::to_string(latent) + ".txt"));
    auto explanation = std::string(boost::json::parse(text).as_string());
    EXPECT_EQ(explanation, "the token \"" + token + "\"") << "latent " << latent;
  }
  check_outputs(out, std::set<std::uint32_t>(idx.begin(), idx.end()));
  for (auto const& row : run_lines(out)) {
    if (row.at("latent").as_int64() == 416) {
      EXPECT_EQ(row.at("status").as_string(), "skipped");
    } else if (row.at("status") == "explained") {
      EXPECT_EQ(row.at("attempts").as_int64(), 1);
      EXPECT_EQ(row.at("usage").at("prompt_tokens").as_int64(), 10);  // what the fake server reports
    }
  }
  std::filesystem::remove_all(out);
}

TEST(explain_e2e, statistical_baseline_names_planted_tokens_without_an_llm) {
  harness h(backend::statistical);
  auto out = fresh_dir("stats");
  std::vector<std::uint32_t> idx;
  for (auto const& [latent, token] : planted_tokens()) idx.push_back(latent);
  auto s = h.run(harness::latents(idx), out, false, 4);
  EXPECT_EQ(s.explained, idx.size());
  for (auto const& [latent, token] : planted_tokens()) {
    auto explanation = std::string(boost::json::parse(read(out / "explanations" / ("layers.6_latent" + std::to_string(latent) + ".txt"))).as_string());
    EXPECT_EQ(explanation.rfind("Statistical baseline (no LLM): active on \"" + token + "\" (100%)", 0), 0u) << explanation;
  }
  check_outputs(out, std::set<std::uint32_t>(idx.begin(), idx.end()));
  std::filesystem::remove_all(out);
}

TEST(explain_e2e, dry_run_writes_requests_and_calls_nothing) {
  harness h(backend::dry_run);
  auto out = fresh_dir("dry");
  auto s = h.run(harness::latents({69, 119}), out, false, 2);
  EXPECT_EQ(s.skipped, 2u);
  EXPECT_GT(s.usage.prompt_tokens, 200u);
  auto body = boost::json::parse(read(out / "prompts" / "layers.6_latent69.json")).as_object();
  EXPECT_EQ(body.at("model").as_string(), "fake/model");
  auto const& messages = body.at("messages").as_array();
  ASSERT_GE(messages.size(), 2u);
  EXPECT_EQ(messages[0].at("role").as_string(), "system");
  EXPECT_NE(std::string(messages.back().at("content").as_string()).find("<< Python>>"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(out / "explanations" / "layers.6_latent69.txt"));
  std::filesystem::remove_all(out);
}

TEST(explain_e2e, neighbour_source_takes_non_activating_windows_where_neighbours_fire) {
  harness h(backend::statistical);
  h.options.records.n_non_activating = 20;
  h.options.records.non_activating_source = ai::records::non_activating_kind::neighbours;
  auto live = h.live(3);
  ASSERT_EQ(live.size(), 3u);
  ai::records::neighbour_table table;
  table[live[0]] = {{0.75, live[1]}, {0.5, live[2]}, {0.25, 1u << 30}};  // the last is past the width
  h.options.neighbours = std::make_shared<ai::records::neighbour_table const>(table);

  auto build = [&](ai::cache::latent_id id) {
    std::optional<ai::result<ai::records::latent_record>> out;
    ai::records::async_load_record(h.sources.data, id, h.options, h.sources.tokens.get(), h.sources.cpu,
                                   ai::as_result(asio::bind_executor(h.io, [&](ai::result<ai::records::latent_record> r) {
                                     out = std::move(r);
                                   })));
    h.io.run();
    h.io.restart();
    if (!out || !*out) throw std::runtime_error(out ? (*out).error().what() : "no result");
    return std::move(**out);
  };
  auto record = build({"layers.6", live[0]});

  // The neighbour past the width is left out; the windows are those build_record takes from the rest.
  auto nbs = ai::records::load_neighbour_activity(h.sources.data, "layers.6", table, live[0]);
  ASSERT_TRUE(nbs) << nbs.error().what();
  ASSERT_EQ(nbs->size(), 2u);
  auto matrix = h.sources.data.tokens("layers.6");
  auto acts = h.sources.data.load_latent("layers.6", live[0]);
  ASSERT_TRUE(matrix && acts);
  auto direct = ai::records::build_record(**matrix, *acts, h.options.records, *nbs);
  ASSERT_TRUE(direct);
  ASSERT_FALSE(record.non_activating.empty());
  ASSERT_EQ(record.non_activating.size(), direct->non_activating.size());
  for (std::size_t i = 0; i < record.non_activating.size(); ++i) {
    EXPECT_EQ(record.non_activating[i].tokens, direct->non_activating[i].tokens) << i;
    EXPECT_EQ(record.non_activating[i].distance, direct->non_activating[i].distance) << i;
    EXPECT_EQ(record.non_activating[i].str_tokens.size(), record.non_activating[i].tokens.size()) << i;
  }
  EXPECT_EQ(record.non_activating.front().distance, -0.75f);  // delphi: distance = -score, first neighbour first

  // A latent without an entry draws random windows (distance -1).
  auto other = build({"layers.6", live[1]});
  ASSERT_FALSE(other.non_activating.empty());
  for (auto const& ex : other.non_activating) EXPECT_EQ(ex.distance, -1.0f);
}

TEST(explain_e2e, llm_calls_stay_within_the_cap_while_as_many_latents_again_are_prepared_ahead) {
  using clock = std::chrono::steady_clock;
  auto const delay = std::chrono::milliseconds(100);
  std::vector<clock::time_point> arrivals;  // the server shares the client's (single) thread
  harness h(
      backend::llm,
      [&](fake_request const& r) {
        arrivals.push_back(clock::now());
        return name_the_token(r).after(delay);
      },
      4);
  auto ids = harness::latents(h.live(24));
  ASSERT_EQ(ids.size(), 24u);
  auto const options = pl::job_run_options(h.stages, 4);
  EXPECT_EQ(options.max_concurrent, 8u);
  harness dry(backend::dry_run);
  EXPECT_EQ(pl::job_run_options(dry.stages, 4).max_concurrent, 4u);
  auto out = fresh_dir("prefetch");
  auto s = h.run(ids, out, false, options.max_concurrent);
  EXPECT_EQ(s.explained, 24u);
  EXPECT_EQ(s.max_in_flight, 8u);  // the scheduler admitted twice the cap ...
  // ... but a request still in flight when another arrives arrived less than `delay` before it
  // (a lower bound on the calls in flight, so the cap check cannot fail spuriously).
  ASSERT_EQ(arrivals.size(), 24u);
  std::size_t most = 0;
  for (std::size_t i = 0; i < arrivals.size(); ++i) {
    std::size_t overlapping = 0;
    for (std::size_t j = 0; j <= i; ++j) overlapping += arrivals[i] - arrivals[j] < delay;
    most = std::max(most, overlapping);
  }
  EXPECT_EQ(most, 4u);
  std::filesystem::remove_all(out);
}

TEST(explain_e2e, an_output_that_cannot_be_written_stops_the_job) {
  harness h(backend::statistical);
  h.expect_write_error = true;
  auto out = fresh_dir("unwritable");
  auto ids = harness::latents(h.live(6));
  ASSERT_EQ(ids.size(), 6u);
  std::size_t seen = 0;
  // After the first latent the explanations folder turns into a file: every later save fails.
  auto s = h.run(ids, out, false, 1, nullptr, [&](pl::latent_outcome const&) {
    if (seen++ == 0) {
      std::filesystem::remove_all(out / "explanations");
      std::ofstream(out / "explanations") << "not a folder";
    }
  });
  EXPECT_EQ(s.stop, pl::stop_reason::fatal);
  ASSERT_TRUE(s.fatal);
  EXPECT_TRUE(*s.fatal == ai::errc::write_failed) << s.fatal->what();
  EXPECT_NE(s.fatal->what().find("explanations"), std::string::npos) << s.fatal->what();  // names the file
  EXPECT_EQ(s.explained, 1u);
  EXPECT_EQ(s.failed, 1u);  // no latent after the failed one started
  ASSERT_TRUE(h.last_write_error);
  auto rows = run_lines(out);
  ASSERT_EQ(rows.size(), 2u);  // the failure is recorded too
  EXPECT_EQ(rows[1].at("status").as_string(), "failed");
  std::filesystem::remove_all(out);
}

TEST(explain_e2e, thirty_percent_faults_all_latents_end_explained_and_none_is_called_twice_after_success) {
  // Every third-or-so request fails in one of the ways the client retries; success is counted per
  // prompt (each latent's prompt differs), so a latent explained twice would show up.
  std::map<std::string, int> successes;
  std::size_t n = 0;
  auto handler = [&](fake_request const& r) -> fake_reply {
    std::size_t k = n++;
    if (k % 10 < 3) {
      switch (k / 10 % 8) {
        case 0: return fake_reply::error(500, "internal");
        case 1: return fake_reply::error(429, "slow down").with_header("retry-after-ms", "5");
        case 2: return fake_reply::failure(fake_reply::action::reset_before_headers);
        case 3: return fake_reply::failure(fake_reply::action::reset_after_headers);
        case 4: return fake_reply::failure(fake_reply::action::truncated_body);
        case 5: return fake_reply::error_in_200(502, "upstream provider error");
        case 6: return fake_reply::raw("{not json");
        default: return fake_reply::error(503, "overloaded");
      }
    }
    ++successes[r.prompt()];
    return name_the_token(r);
  };
  harness h(backend::llm, handler);
  auto out = fresh_dir("faults");
  h.options.records.train_type = ai::records::train_sampler::top;  // draws examples from any live latent
  auto idx = h.live(500, 1);
  ASSERT_EQ(idx.size(), 500u);
  auto s = h.run(harness::latents(idx), out, false, 32);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.explained, 500u);
  EXPECT_GT(h.server->requests(), 600u);  // the faults were retried
  std::size_t total = 0;
  for (auto const& [prompt, c] : successes) {
    EXPECT_EQ(c, 1);
    total += static_cast<std::size_t>(c);
  }
  EXPECT_EQ(total, 500u);
  check_outputs(out, std::set<std::uint32_t>(idx.begin(), idx.end()));
  std::filesystem::remove_all(out);
}

TEST(explain_e2e, resume_after_a_drain_never_calls_the_llm_again_for_explained_latents) {
  std::map<std::string, int> calls;
  auto handler = [&](fake_request const& r) {
    ++calls[r.prompt()];
    return name_the_token(r);
  };
  auto out = fresh_dir("resume");
  std::vector<std::uint32_t> idx;
  pl::run_summary first;
  {
    harness h(backend::llm, handler);
    idx = h.live(120);
    asio::cancellation_signal stop;
    std::size_t finished = 0;
    first = h.run(harness::latents(idx), out, false, 6, &stop, [&](pl::latent_outcome const&) {
      if (++finished == 30) stop.emit(asio::cancellation_type::partial);
    });
    EXPECT_EQ(first.stop, pl::stop_reason::drained);
    EXPECT_LT(first.processed(), 120u);
  }
  harness h(backend::llm, handler);
  auto second = h.run(harness::latents(idx), out, true, 6);
  EXPECT_EQ(second.stop, pl::stop_reason::completed);
  EXPECT_EQ(second.already_done, first.explained);
  EXPECT_EQ(first.explained + second.explained, 120u);
  for (auto const& [prompt, c] : calls) EXPECT_EQ(c, 1);
  check_outputs(out, std::set<std::uint32_t>(idx.begin(), idx.end()));
  std::filesystem::remove_all(out);
}

TEST(explain_e2e, a_rejected_key_stops_the_job_early) {
  auto handler = [](fake_request const&) { return fake_reply::error(401, "invalid key"); };
  harness h(backend::llm, handler);
  auto out = fresh_dir("fatal");
  std::vector<std::uint32_t> idx;
  for (std::uint32_t i = 0; i < 300; ++i) idx.push_back(i);
  auto s = h.run(harness::latents(idx), out, false, 4);
  EXPECT_EQ(s.stop, pl::stop_reason::fatal);
  ASSERT_TRUE(s.fatal);
  EXPECT_TRUE(*s.fatal == ai::errc::unauthorized);
  EXPECT_LT(h.server->requests(), 20u);
  EXPECT_LT(s.processed(), 20u);
  std::filesystem::remove_all(out);
}

#if defined(AUTOINTERP_CLI_EXE)
// The programs themselves: the CLI and the tutorial's examples, run as child processes.

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

namespace {

struct child {
  pid_t pid = -1;
  int out = -1;  // the child's stdout and stderr
};

// Starts `args` without OPENROUTER_API_KEY and AUTOINTERP_BASE_URL (so the statistical baseline is
// the default, and no LLM is configured) and with `extra_env` ("NAME=value") added. Everything is
// prepared before fork: the test has threads.
child spawn(std::vector<std::string> const& args, std::vector<std::string> extra_env = {}) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::vector<char*> argv;
  for (auto const& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e)
    if (std::string_view(*e).rfind("OPENROUTER_API_KEY=", 0) != 0 && std::string_view(*e).rfind("AUTOINTERP_BASE_URL=", 0) != 0)
      envp.push_back(*e);
  for (auto& e : extra_env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) s.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return s;
}

// One line of a child's output, without its newline (asio_server's "listening on ..." line).
std::string read_line(int fd) {
  std::string line;
  char ch;
  while (::read(fd, &ch, 1) == 1 && ch != '\n') line += ch;
  return line;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs to the end: exit code and output.
std::pair<int, std::string> run_program(std::vector<std::string> const& args, std::vector<std::string> extra_env = {}) {
  auto c = spawn(args, std::move(extra_env));
  auto text = read_all(c.out);
  return {wait_exit(c.pid), text};
}

std::string const cache_dir = (sample / "cache").string();
std::string const tokenizer_file = (sample / "tokenizer.json").string();

// A tutorial example's binary, by its file name ("01_open_cache").
std::string example(std::string const& name) { return std::string(AUTOINTERP_EXAMPLES_DIR) + "/" + name; }

// The lines of `text` that contain `part`.
std::vector<std::string> lines_with(std::string const& text, std::string_view part) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(part) != std::string::npos) out.push_back(line);
  return out;
}

}  // namespace

TEST(explain_cli, stats_run_on_the_sample_names_planted_tokens) {
  auto out = fresh_dir("cli_stats");
  auto [code, text] = run_program({AUTOINTERP_CLI_EXE, "explain", cache_dir, "--module", "layers.6", "--latents",
                                   "0-99,69,119,211,416", "--min-examples", "3", "--out", out.string()});
  EXPECT_EQ(code, 0) << text;
  EXPECT_NE(text.find("statistical baseline"), std::string::npos) << text;  // the one-line note
  auto explanation = boost::json::parse(read(out / "explanations" / "layers.6_latent119.txt")).as_string();
  EXPECT_NE(std::string(explanation).find("\" >>>\" (100%)"), std::string::npos) << explanation;
  std::set<std::uint32_t> expected;
  for (std::uint32_t i = 0; i < 100; ++i) expected.insert(i);
  for (std::uint32_t i : {119u, 211u, 416u}) expected.insert(i);
  check_outputs(out, expected);
  std::filesystem::remove_all(out);
}

TEST(explain_cli, bad_usage_exits_2_with_one_line) {
  auto out = fresh_dir("cli_bad");
  for (auto const& args : std::vector<std::vector<std::string>>{
           {AUTOINTERP_CLI_EXE, "explain", cache_dir, "--latents", "5-2", "--out", out.string()},
           {AUTOINTERP_CLI_EXE, "explain", cache_dir, "--latents", "99999", "--out", out.string()},
           {AUTOINTERP_CLI_EXE, "explain", cache_dir, "--shard", "3/3", "--out", out.string()},
           {AUTOINTERP_CLI_EXE, "explain", cache_dir, "--provider", "nope", "--out", out.string()},
           {AUTOINTERP_CLI_EXE, "explain", cache_dir, "--non-activating-source", "neighbours", "--out", out.string()},
           {AUTOINTERP_CLI_EXE, "explain", cache_dir, "--non-activating-source", "neighbours", "--neighbours",
            "/nonexistent/neighbours.json", "--out", out.string()},
           {AUTOINTERP_CLI_EXE, "explain", "/nonexistent/cache", "--out", out.string()}}) {
    auto [code, text] = run_program(args);
    EXPECT_EQ(code, 2) << text;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  }
  std::filesystem::remove_all(out);
}

TEST(explain_cli, contrastive_dry_run_reads_the_neighbour_file) {
  auto out = fresh_dir("cli_neighbours");
  std::filesystem::create_directories(out);
  {
    std::ofstream f(out / "layers.6-co-occurrence.json");
    f << R"({"119": [[0.9, 211], [0.4, 69]]})";
  }
  auto prompt = [&](std::string const& source) {
    auto dir = out / source;
    auto [code, text] = run_program({AUTOINTERP_CLI_EXE, "explain", cache_dir, "--latents", "119", "--min-examples",
                                     "3", "--explainer", "contrastive", "--provider", "dry-run",
                                     "--non-activating-source", source, "--neighbours", out.string(), "--out",
                                     dir.string()});
    EXPECT_EQ(code, 0) << text;
    return read(dir / "prompts" / "layers.6_latent119.json");
  };
  auto from_neighbours = prompt("neighbours"), from_random = prompt("random");
  EXPECT_FALSE(from_neighbours.empty());
  EXPECT_FALSE(from_random.empty());
  EXPECT_NE(from_neighbours, from_random);  // the file changed which counterexamples are shown
  std::filesystem::remove_all(out);
}

TEST(explain_cli, shards_split_the_job_and_together_cover_it) {
  std::set<std::uint32_t> all;
  for (int k = 0; k < 3; ++k) {
    auto out = fresh_dir("cli_shard" + std::to_string(k));
    auto [code, text] = run_program({AUTOINTERP_CLI_EXE, "explain", cache_dir, "--latents", "0-29", "--min-examples", "1",
                                     "--shard", std::to_string(k) + "/3", "--out", out.string()});
    EXPECT_EQ(code, 0) << text;
    std::size_t lines = 0;
    for (auto const& row : run_lines(out)) {
      ++lines;
      EXPECT_TRUE(all.insert(static_cast<std::uint32_t>(row.at("latent").as_int64())).second);
    }
    EXPECT_EQ(lines, 10u);
    std::filesystem::remove_all(out);
  }
  EXPECT_EQ(all.size(), 30u);
}

TEST(explain_cli, killed_mid_run_then_resumed_explains_every_latent_once) {
  // The fake LLM runs on its own thread; the CLI talks to it over 127.0.0.1 like to any local server.
  asio::io_context server_io;
  std::mutex m;
  std::map<std::string, int> answered;
  fake_llm_server server(server_io.get_executor(), [&](fake_request const& r) {
    {
      std::lock_guard lock(m);
      ++answered[r.prompt()];
    }
    return name_the_token(r).after(std::chrono::milliseconds(20));
  });
  auto guard = asio::make_work_guard(server_io);
  std::thread server_thread([&] { server_io.run(); });
  auto out = fresh_dir("cli_kill");
  std::vector<std::string> args{AUTOINTERP_CLI_EXE, "explain", cache_dir, "--latents", "0-149", "--min-examples", "1",
                                "--provider", "local", "--base-url", server.base_url(), "--model", "fake",
                                "--concurrency", "4", "--out", out.string()};
  auto c = spawn(args);
  // Kill it once some latents are done.
  for (int i = 0; i < 3000; ++i) {
    std::error_code ec;
    if (std::filesystem::exists(out / "run.jsonl", ec) && std::filesystem::file_size(out / "run.jsonl", ec) > 3000) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(c.pid, SIGKILL);
  EXPECT_EQ(wait_exit(c.pid), 128 + SIGKILL);
  ::close(c.out);
  auto before = run_lines(out).size();
  EXPECT_GT(before, 0u);
  EXPECT_LT(before, 150u);
  args.push_back("--resume");
  auto [code, text] = run_program(args);
  EXPECT_EQ(code, 0) << text;
  server.stop();
  guard.reset();
  server_thread.join();
  std::set<std::uint32_t> expected;
  for (std::uint32_t i = 0; i < 150; ++i) expected.insert(i);
  check_outputs(out, expected);  // one explained line per latent, every file whole, no temporaries
  std::set<std::uint32_t> explained;
  for (auto const& row : run_lines(out))
    if (row.at("status") == "explained") explained.insert(static_cast<std::uint32_t>(row.at("latent").as_int64()));
  std::size_t explained_files = 0;
  for (auto const& e : std::filesystem::directory_iterator(out / "explanations")) explained_files += e.is_regular_file();
  EXPECT_GT(explained.size(), 50u);
  EXPECT_EQ(explained_files, explained.size());
  EXPECT_EQ(answered.size(), explained.size());  // every latent that reached the LLM ended explained
  // Only a latent in flight at the kill may have been asked twice (its answer was lost with the
  // process): the scheduler admits 2 x --concurrency latents (calls, plus latents being prepared or saved).
  std::size_t twice = 0;
  for (auto const& [prompt, n] : answered) twice += n > 1;
  EXPECT_LE(twice, 8u);
  std::filesystem::remove_all(out);
}

// The JSON lines of `autointerp records` (stderr may add a summary line).
std::vector<boost::json::object> record_lines(std::string const& text) {
  std::vector<boost::json::object> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '{') out.push_back(boost::json::parse(line).as_object());
  return out;
}

TEST(records_cli, str_tokens_decode_every_example_with_the_sample_tokenizer) {
  auto planted = planted_tokens();
  ASSERT_TRUE(planted.contains(69));
  auto [code, text] = run_program({AUTOINTERP_CLI_EXE, "records", cache_dir, "--latents", "69,119", "--min-examples",
                                   "3", "--str-tokens", "--memory-budget", "64"});
  EXPECT_EQ(code, 0) << text;
  auto lines = record_lines(text);
  ASSERT_EQ(lines.size(), 2u) << text;
  for (auto const& rec : lines) {
    auto const& train = rec.at("train").as_array();
    ASSERT_FALSE(train.empty());
    for (auto const& ex : train) {
      auto const& tokens = ex.at("tokens").as_array();
      auto const& strs = ex.at("str_tokens").as_array();
      EXPECT_EQ(strs.size(), tokens.size());
    }
  }
  // Latent 69 is planted on one token: its strongest token in every example is that token.
  std::string const token = planted.at(69);
  for (auto const& ex : lines[0].at("train").as_array()) {
    auto const& acts = ex.at("activations").as_array();
    std::size_t best = 0;
    for (std::size_t i = 1; i < acts.size(); ++i)
      if (acts[i].to_number<double>() > acts[best].to_number<double>()) best = i;
    EXPECT_EQ(ex.at("str_tokens").as_array()[best].as_string(), token);
  }
  // Without --str-tokens the field is absent, as in delphi's fixtures.
  auto [code2, plain] = run_program({AUTOINTERP_CLI_EXE, "records", cache_dir, "--latents", "69", "--min-examples", "3"});
  EXPECT_EQ(code2, 0) << plain;
  auto plain_lines = record_lines(plain);
  ASSERT_EQ(plain_lines.size(), 1u);
  EXPECT_FALSE(plain_lines[0].at("train").as_array()[0].as_object().contains("str_tokens"));
}

TEST(records_cli, neighbour_source_changes_the_non_activating_windows) {
  auto dir = fresh_dir("records_neighbours");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "layers.6-co-occurrence.json") << R"({"119": [[0.9, 211], [0.4, 69]]})";
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{AUTOINTERP_CLI_EXE, "records", cache_dir, "--latents", "119", "--min-examples", "3"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto [code, text] = run_program(args);
    EXPECT_EQ(code, 0) << text;
    auto lines = record_lines(text);
    return lines.size() == 1 ? lines[0].at("non_activating").as_array() : boost::json::array{};
  };
  auto random = run({});
  auto neighbours = run({"--non-activating-source", "neighbours", "--neighbours", dir.string()});
  EXPECT_FALSE(random.empty());
  EXPECT_FALSE(neighbours.empty());
  EXPECT_NE(random, neighbours);
  std::filesystem::remove_all(dir);
}

TEST(tutorial, 01_open_cache_lists_the_module_and_counts_the_latents_activations) {
  auto const direct = ai::cache::dataset::open(sample / "cache").value().load_latent("layers.6", 69).value();
  ASSERT_GT(direct.size(), 0u);
  auto [code, text] = run_program({example("01_open_cache"), cache_dir, "layers.6", "69"});
  EXPECT_EQ(code, 0) << text;
  EXPECT_NE(text.find("module layers.6: 2048 latents, 256 rows of 64 tokens, 4 shards\n"), std::string::npos) << text;
  EXPECT_NE(text.find("layers.6 latent 69: " + std::to_string(direct.size()) + " activations, strongest "),
            std::string::npos)
      << text;
  // Without a latent it only lists; a folder that is not there fails with exit code 1.
  auto [listed, list] = run_program({example("01_open_cache"), cache_dir});
  EXPECT_EQ(listed, 0) << list;
  EXPECT_EQ(lines_with(list, "latent 69").size(), 0u) << list;
  auto [missing, why] = run_program({example("01_open_cache"), (sample / "no-such-cache").string()});
  EXPECT_EQ(missing, 1) << why;
  EXPECT_NE(why.find("file not found"), std::string::npos) << why;
}

TEST(tutorial, 02_build_record_marks_the_planted_token_in_every_window) {
  auto const token = planted_tokens().at(69);  // " Python"
  auto [code, text] = run_program({example("02_build_record"), cache_dir, tokenizer_file, "layers.6", "69"});
  EXPECT_EQ(code, 0) << text;
  EXPECT_NE(text.find("layers.6 latent 69: "), std::string::npos) << text;
  auto windows = lines_with(text, " | ");
  ASSERT_EQ(windows.size(), 8u) << text;  // n_examples_train
  for (auto const& line : windows) {
    auto open = line.find("<<"), close = line.find(">>", open);
    ASSERT_NE(open, std::string::npos) << line;
    ASSERT_NE(close, std::string::npos) << line;
    EXPECT_EQ(line.substr(open + 2, close - open - 2), token) << line;  // the strongest token, decoded
    EXPECT_EQ(line.find("<<", close), std::string::npos) << line;      // and only that one
  }
  // with_diagnostics: the failure says which latent and why, in our words.
  auto [bad, why] = run_program({example("02_build_record"), cache_dir, tokenizer_file, "layers.6", "99999"});
  EXPECT_EQ(bad, 1) << why;
  EXPECT_NE(why.find("latent 99999 is past the width 2048"), std::string::npos) << why;
}

TEST(tutorial, 03_chat_without_an_llm_says_so_and_exits_0) {
  auto [code, text] = run_program({example("03_chat_with_retries")});
  EXPECT_EQ(code, 0) << text;
  EXPECT_NE(text.find("no LLM configured: set AUTOINTERP_BASE_URL"), std::string::npos) << text;
  EXPECT_NE(text.find("OPENROUTER_API_KEY"), std::string::npos) << text;
}

TEST(tutorial, 03_chat_retries_a_failure_then_reports_one_it_cannot_retry) {
  // The fake LLM runs on a thread of this process; the example reaches it through AUTOINTERP_BASE_URL.
  asio::io_context server_io;
  std::atomic<int> requests{0};
  std::atomic<bool> refuse{false};
  fake_llm_server server(server_io.get_executor(), [&](fake_request const& r) {
    if (refuse) return fake_reply::error(400, "no such model: " + r.model());
    if (requests++ == 0) return fake_reply::error(503, "overloaded");  // retried
    return fake_reply::completion("a latent is one direction of the autoencoder");
  });
  auto guard = asio::make_work_guard(server_io);
  std::thread server_thread([&] { server_io.run(); });
  std::vector<std::string> const env{"AUTOINTERP_BASE_URL=" + server.base_url()};

  auto [code, text] = run_program({example("03_chat_with_retries"), "What is a latent?"}, env);
  EXPECT_EQ(code, 0) << text;
  EXPECT_EQ(requests.load(), 2);
  EXPECT_EQ(lines_with(text, "attempt 1 failed (").size(), 1u) << text;  // on_retry
  EXPECT_NE(text.find("answer after 2 attempt(s): a latent is one direction of the autoencoder"), std::string::npos)
      << text;

  refuse = true;  // a 400 is not retried; diagnostics carry our message and the server's apart
  auto [failed, why] = run_program({example("03_chat_with_retries")}, env);
  EXPECT_EQ(failed, 1) << why;
  EXPECT_NE(why.find("failed after 1 attempt(s) [request rejected]: "), std::string::npos) << why;
  EXPECT_NE(why.find("rejected as invalid"), std::string::npos) << why;
  EXPECT_NE(why.find("the server said: "), std::string::npos) << why;
  EXPECT_NE(why.find("no such model: default"), std::string::npos) << why;
  server.stop();
  guard.reset();
  server_thread.join();
}

TEST(tutorial, 04_explain_one_prints_a_planted_token) {
  auto [code, text] = run_program({example("04_explain_one"), cache_dir, "layers.6", "69", tokenizer_file});
  EXPECT_EQ(code, 0) << text;
  EXPECT_NE(text.find("layers.6 latent 69: Statistical baseline (no LLM): active on \" Python\""), std::string::npos) << text;
}

TEST(tutorial, 05_custom_stage_drains_after_n_latents_and_its_stage_writes_files) {
  auto out = fresh_dir("tutorial_05");
  auto [code, text] = run_program({example("05_custom_stage"), cache_dir, tokenizer_file, out.string(), "10"});
  EXPECT_EQ(code, 0) << text;
  ASSERT_EQ(text.rfind("drained after ", 0), 0u) << text;
  std::map<std::uint32_t, std::map<std::string, std::string>> status;  // latent -> stage -> status
  for (auto const& row : run_lines(out)) {
    std::string stage = row.contains("stage") ? std::string(row.at("stage").as_string()) : "explain";
    status[static_cast<std::uint32_t>(row.at("latent").as_int64())][stage] = std::string(row.at("status").as_string());
  }
  // 10 latents finished, then the drain let at most the other 3 in flight (max_concurrent 4) finish.
  EXPECT_GE(status.size(), 10u);
  EXPECT_LE(status.size(), 13u);
  EXPECT_NE(text.find("drained after " + std::to_string(status.size()) + " of 2048 latents"), std::string::npos) << text;
  std::size_t explained = 0;
  for (auto const& [latent, stages] : status) {
    auto const stem = "layers.6_latent" + std::to_string(latent);
    auto const top = out / "top_tokens" / (stem + ".json");
    if (stages.at("explain") != "explained") {
      EXPECT_FALSE(stages.contains("top_tokens")) << latent;  // a skipped explain ends the chain
      EXPECT_FALSE(std::filesystem::exists(top)) << top;
      continue;
    }
    ++explained;
    EXPECT_TRUE(std::filesystem::exists(out / "explanations" / (stem + ".txt"))) << stem;
    ASSERT_TRUE(stages.contains("top_tokens")) << latent;
    EXPECT_EQ(stages.at("top_tokens"), "scored");
    ASSERT_TRUE(std::filesystem::exists(top)) << top;
    auto counts = boost::json::parse(read(top)).as_object();  // strongest token -> train examples
    std::int64_t total = 0;
    for (auto const& [token, n] : counts) total += n.as_int64();
    EXPECT_GT(total, 0) << top;
  }
  EXPECT_GT(explained, 0u);
  std::filesystem::remove_all(out);
}

TEST(tutorial, 06_asio_server_answers_get_explain) {
  auto c = spawn({example("06_asio_server"), cache_dir, "0", tokenizer_file});
  auto first = read_line(c.out);
  ASSERT_EQ(first.rfind("listening on 127.0.0.1:", 0), 0u) << first;
  auto port = static_cast<unsigned short>(std::stoul(first.substr(first.rfind(':') + 1)));
  asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  auto get = [&](std::string target) {
    boost::beast::http::request<boost::beast::http::string_body> req{boost::beast::http::verb::get, target, 11};
    req.set(boost::beast::http::field::host, "127.0.0.1");
    boost::beast::http::write(stream, req);
    boost::beast::flat_buffer buf;
    boost::beast::http::response<boost::beast::http::string_body> res;
    boost::beast::http::read(stream, buf, res);
    return res;
  };
  auto res = get("/explain/layers.6/1229");
  EXPECT_EQ(res.result_int(), 200u);
  auto body = boost::json::parse(res.body()).as_object();
  EXPECT_EQ(body.at("status").as_string(), "explained");
  EXPECT_NE(std::string(body.at("explanation").as_string()).find("\" module\""), std::string::npos) << res.body();
  EXPECT_EQ(get("/explain/layers.6/999999").result_int(), 404u);  // same keep-alive connection
  EXPECT_EQ(get("/nothing").result_int(), 404u);
  ::kill(c.pid, SIGTERM);
  EXPECT_EQ(wait_exit(c.pid), 0);
  ::close(c.out);
}

TEST(tutorial, 06_asio_server_drains_on_sigterm) {
  // A slow local LLM: the request is in flight when SIGTERM arrives and must still be answered.
  asio::io_context server_io;
  std::atomic<bool> asked{false};
  fake_llm_server llm(server_io.get_executor(), [&](fake_request const& r) {
    asked = true;
    return name_the_token(r).after(std::chrono::milliseconds(400));
  });
  auto guard = asio::make_work_guard(server_io);
  std::thread llm_thread([&] { server_io.run(); });

  auto c = spawn({example("06_asio_server"), cache_dir, "0", tokenizer_file}, {"AUTOINTERP_BASE_URL=" + llm.base_url()});
  auto first = read_line(c.out);
  ASSERT_EQ(first.rfind("listening on 127.0.0.1:", 0), 0u) << first;
  auto port = static_cast<unsigned short>(std::stoul(first.substr(first.rfind(':') + 1)));
  asio::io_context io;
  asio::ip::tcp::endpoint at(asio::ip::make_address("127.0.0.1"), port);
  boost::beast::tcp_stream busy(io), idle(io);
  busy.connect(at);
  idle.connect(at);
  boost::beast::http::request<boost::beast::http::string_body> req{boost::beast::http::verb::get, "/explain/layers.6/69", 11};
  req.set(boost::beast::http::field::host, "127.0.0.1");
  boost::beast::http::write(busy, req);
  for (int i = 0; i < 1000 && !asked; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(asked);
  ::kill(c.pid, SIGTERM);

  boost::beast::flat_buffer buf;
  boost::beast::http::response<boost::beast::http::string_body> res;
  boost::beast::http::read(busy, buf, res);
  EXPECT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_FALSE(res.keep_alive());  // the server says it is closing
  auto body = boost::json::parse(res.body()).as_object();
  EXPECT_EQ(body.at("status").as_string(), "explained") << res.body();
  EXPECT_NE(std::string(body.at("explanation").as_string()).find("Python"), std::string::npos) << res.body();
  // The idle connection was closed rather than left open.
  boost::system::error_code ec;
  char byte;
  idle.socket().read_some(asio::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec) << "the idle connection is still open";
  EXPECT_EQ(wait_exit(c.pid), 0);
  ::close(c.out);
  llm.stop();
  guard.reset();
  llm_thread.join();
}
#endif
