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
#include <autointerp/pipeline/score_stage.hpp>
#include <autointerp/records/load_record.hpp>
#include <autointerp/score/embedding_scorer.hpp>
#include <autointerp/score/intruder_scorer.hpp>
#include <autointerp/score/keyword_scorer.hpp>
#include <autointerp/score/llm_scorer.hpp>
#include <autointerp/score/run_scores.hpp>
#include <autointerp/score/run_summary.hpp>
#include <autointerp/score/simulation_scorer.hpp>
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
#include <zstd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "fake_answers.hpp"
#include "fake_batch_api.hpp"
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
  std::vector<std::unique_ptr<ai::score::scorer>> scorers;
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

  // Adds detection and fuzz stages after the explainer (LLM scorers with an LLM, else the keyword
  // baseline), and the test and non-activating examples they need. `only` = no explain stage:
  // explanations come from `explanations`.
  void score(unsigned retries = 2, std::shared_ptr<pl::run_store const> explanations = {}, bool logprobs = false,
             std::vector<std::string> const& names = {"detection", "fuzz"}) {
    namespace sc = ai::score;
    options.records.n_examples_test = 50;
    options.records.n_non_activating = 50;
    if (explanations) stages.clear();
    sc::llm_scorer_options so;
    so.model = "fake/model";
    so.retries = retries;
    so.scoring.logprobs = logprobs;
    for (auto const& name : names) {
      auto kind = sc::parse_scorer_kind(name);
      if (kind && client) scorers.push_back(std::make_unique<sc::llm_scorer>(*client, *kind, so));
      else if (kind) scorers.push_back(std::make_unique<sc::keyword_scorer>(io.get_executor(), *kind));
      else if (name == "simulation" && client) scorers.push_back(std::make_unique<sc::simulation_scorer>(*client, so));
      else if (name == "simulation") scorers.push_back(std::make_unique<sc::keyword_simulation_scorer>(io.get_executor()));
      else if (name == "intruder") scorers.push_back(std::make_unique<sc::intruder_scorer>(*client, so));
      else if (name == "embedding") {
        sc::embedding_scorer_options eo;
        eo.model = "fake/embed";
        scorers.push_back(std::make_unique<sc::embedding_scorer>(*client, eo));
      } else throw std::invalid_argument("no scorer " + name);
      stages.push_back(std::make_shared<pl::score_stage>(*scorers.back(), explanations));
    }
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
    for (auto key : {"module", "latent", "status", "explanation", "attempts", "usage", "cost_usd", "latency_ms", "error"})
      ASSERT_TRUE(row.contains(key)) << key;
    for (auto key : {"prompt_tokens", "completion_tokens", "cached_tokens"})
      ASSERT_TRUE(row.at("usage").as_object().contains(key)) << key;
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

// Three requests in ten fail, in turn in each of the ways the client retries.
std::optional<fake_reply> injected_fault(std::size_t k) {
  if (k % 10 >= 3) return std::nullopt;
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

TEST(explain_e2e, thirty_percent_faults_all_latents_end_explained_and_none_is_called_twice_after_success) {
  // Every third-or-so request fails in one of the ways the client retries; success is counted per
  // prompt (each latent's prompt differs), so a latent explained twice would show up.
  std::map<std::string, int> successes;
  std::size_t n = 0;
  auto handler = [&](fake_request const& r) -> fake_reply {
    if (auto fault = injected_fault(n++)) return std::move(*fault);
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

// Pooled balanced accuracy of one scorer's files in `dir`, and the samples without a prediction.
struct pooled {
  double balanced_accuracy = 0;
  std::size_t latents = 0, samples = 0, nulls = 0;
};
pooled pooled_scores(std::filesystem::path const& dir, std::string const& scorer) {
  pooled p;
  double tp = 0, tn = 0, pos = 0, neg = 0;
  for (auto const& e : std::filesystem::directory_iterator(dir / "scores" / scorer)) {
    ++p.latents;
    auto const doc = boost::json::parse(read(e.path()));
    for (auto const& v : doc.as_array()) {
      auto const& o = v.as_object();
      ++p.samples;
      if (o.at("prediction").is_null()) {
        ++p.nulls;
        continue;
      }
      bool const act = o.at("activating").as_bool(), pred = o.at("prediction").as_bool();
      (act ? pos : neg) += 1;
      if (act && pred) ++tp;
      if (!act && !pred) ++tn;
    }
  }
  p.balanced_accuracy = (tp / pos + tn / neg) / 2;
  return p;
}

TEST(score_e2e, planted_latents_score_high_and_an_unrelated_explanation_scores_half) {
  auto planted = planted_tokens();
  std::vector<std::uint32_t> idx;
  for (auto const& [latent, token] : planted) idx.push_back(latent);
  auto out = fresh_dir("score_planted");
  {
    harness h(backend::llm, ai::testing::fake_brain);
    h.score();
    auto s = h.run(harness::latents(idx), out, false, 8);
    EXPECT_EQ(s.failed, 0u);
  }
  for (char const* scorer : {"detection", "fuzz"}) {
    auto p = pooled_scores(out, scorer);
    EXPECT_GE(p.latents, 5u) << scorer;
    EXPECT_EQ(p.nulls, 0u) << scorer;
    EXPECT_GE(p.balanced_accuracy, 0.9) << scorer;
  }
  // The same latents with explanations naming a token none of them fires on.
  auto wrong = fresh_dir("score_wrong");
  std::filesystem::create_directories(wrong / "explanations");
  for (auto i : idx) std::ofstream(wrong / "explanations" / ("layers.6_latent" + std::to_string(i) + ".txt")) << R"("the token \" zebra\"")";
  auto scored = fresh_dir("score_wrong_out");
  {
    harness h(backend::llm, ai::testing::fake_brain);
    h.score(2, std::make_shared<pl::run_store const>(pl::run_store::open(wrong, pl::store_mode::read).value()));
    auto s = h.run(harness::latents(idx), scored, false, 8);
    EXPECT_EQ(s.failed, 0u);
    EXPECT_EQ(s.scored, idx.size());
  }
  for (char const* scorer : {"detection", "fuzz"}) {
    auto p = pooled_scores(scored, scorer);
    EXPECT_NEAR(p.balanced_accuracy, 0.5, 0.05) << scorer;
  }
  for (auto const& d : {out, wrong, scored}) std::filesystem::remove_all(d);
}

TEST(score_e2e, thirty_percent_faults_leave_no_null_prediction_and_no_batch_is_paid_twice) {
  std::map<std::string, int> successes;
  std::size_t n = 0;
  auto handler = [&](fake_request const& r) -> fake_reply {
    if (auto fault = injected_fault(n++)) return std::move(*fault);
    ++successes[r.prompt()];
    return ai::testing::fake_brain(r);
  };
  harness h(backend::llm, handler);
  h.score();
  auto idx = h.live(40);
  auto out = fresh_dir("score_faults");
  auto s = h.run(harness::latents(idx), out, false, 16);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.explained, idx.size());
  for (char const* scorer : {"detection", "fuzz"}) {
    auto p = pooled_scores(out, scorer);
    EXPECT_EQ(p.latents, idx.size()) << scorer;
    EXPECT_EQ(p.nulls, 0u) << scorer;
  }
  for (auto const& [prompt, c] : successes) EXPECT_EQ(c, 1) << prompt.substr(0, 200);
  std::filesystem::remove_all(out);
}

// The scores of `scorer` in `dir` as the summary reads them.
boost::json::object summary_of(std::filesystem::path const& dir, std::string const& scorer) {
  auto store = pl::run_store::open(dir, pl::store_mode::read);
  if (!store) throw ai::exception(store.error());
  auto scores = ai::score::read_run_scores(*store);
  if (!scores) throw ai::exception(scores.error());
  EXPECT_TRUE(scores->unreadable.empty());
  auto const& latents = scores->by_scorer[scorer];
  return ai::score::summary_entry(scorer, latents, scores->counts());
}

// Samples (simulation, embedding) or prompts (intruder) of `scorer`'s files in `dir` without an
// answer, and how many there are in all.
std::pair<std::size_t, std::size_t> unanswered(std::filesystem::path const& dir, std::string const& scorer) {
  char const* field = scorer == "simulation" ? "predicted" : scorer == "embedding" ? "similarity" : "prediction";
  std::size_t nulls = 0, all = 0;
  for (auto const& e : std::filesystem::directory_iterator(dir / "scores" / scorer)) {
    auto const doc = boost::json::parse(read(e.path()));
    for (auto const& v : doc.as_array()) {
      ++all;
      nulls += v.at(field).is_null() ? 1 : 0;
    }
  }
  return {nulls, all};
}

TEST(score_e2e, planted_latents_simulate_intrude_and_embed_as_their_token_predicts) {
  auto planted = planted_tokens();
  std::vector<std::uint32_t> idx;
  for (auto const& [latent, token] : planted) idx.push_back(latent);
  auto out = fresh_dir("score_three");
  {
    harness h(backend::llm, ai::testing::fake_brain);
    h.score(2, {}, false, {"simulation", "intruder", "embedding"});
    auto s = h.run(harness::latents(idx), out, false, 8);
    EXPECT_EQ(s.failed, 0u);
    EXPECT_GT(h.server->embedding_requests(), 0u);
  }
  auto const sim = summary_of(out, "simulation");
  EXPECT_GE(sim.at("latents").to_number<std::int64_t>(), 5);
  EXPECT_EQ(sim.at("failed"), boost::json::value(0));
  EXPECT_GE(sim.at("ev_correlation").as_double(), 0.8) << ai::score::to_json_text(sim);
  auto const intr = summary_of(out, "intruder");
  EXPECT_GE(intr.at("accuracy").as_double(), 0.9) << ai::score::to_json_text(intr);
  EXPECT_EQ(intr.at("failed"), boost::json::value(0));
  auto const emb = summary_of(out, "embedding");
  EXPECT_GE(emb.at("auc").as_double(), 0.9) << ai::score::to_json_text(emb);
  for (char const* scorer : {"simulation", "intruder", "embedding"}) EXPECT_EQ(unanswered(out, scorer).first, 0u) << scorer;
  // Every simulation sample carries its token strings, one level per token each way.
  for (auto const& e : std::filesystem::directory_iterator(out / "scores" / "simulation")) {
    auto const doc = boost::json::parse(read(e.path()));
    for (auto const& v : doc.as_array()) {
      auto const n = v.at("str_tokens").as_array().size();
      EXPECT_GT(n, 0u);
      EXPECT_EQ(v.at("true_levels").as_array().size(), n);
      EXPECT_EQ(v.at("predicted").as_array().size(), n);
    }
  }
  std::filesystem::remove_all(out);
}

TEST(score_e2e, thirty_percent_faults_leave_no_null_simulation_intruder_or_similarity_and_nothing_is_paid_twice) {
  // Latents with the same explanation share their random non-activating windows, so prompts may
  // repeat across latents: what is counted is every answer given against every answer used.
  std::size_t successes = 0, n = 0;
  auto handler = [&](fake_request const& r) -> fake_reply {
    if (auto fault = injected_fault(n++)) return std::move(*fault);
    ++successes;
    return ai::testing::fake_brain(r);
  };
  harness h(backend::llm, handler);
  h.score(2, {}, false, {"simulation", "intruder", "embedding"});
  h.options.records.n_examples_test = 20;
  h.options.records.n_non_activating = 20;
  auto idx = h.live(12);
  auto out = fresh_dir("score_faults_three");
  auto s = h.run(harness::latents(idx), out, false, 16);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.explained, idx.size());
  for (char const* scorer : {"simulation", "intruder", "embedding"}) {
    auto [nulls, all] = unanswered(out, scorer);
    // A similarity is null (undefined, not a failure) where the query embeds to zeros: these
    // latents' explanations may quote a punctuation token, which the fake model has no word for.
    if (std::string(scorer) != "embedding") {
      EXPECT_EQ(nulls, 0u) << scorer;
    }
    EXPECT_GT(all, 0u) << scorer;
  }
  EXPECT_GT(n, successes);  // faults happened and were retried
  // One answer per explanation, simulated sample and intruder prompt, and per 64 texts embedded
  // (the query with the first): nothing was asked again after an answer came.
  std::size_t used = idx.size();
  for (char const* scorer : {"simulation", "intruder", "embedding"})
    for (auto const& e : std::filesystem::directory_iterator(out / "scores" / scorer)) {
      auto const k = boost::json::parse(read(e.path())).as_array().size();
      used += std::string(scorer) == "embedding" ? (k + 1 + 63) / 64 : k;
    }
  EXPECT_EQ(successes, used);
  std::filesystem::remove_all(out);
}

TEST(score_e2e, answers_that_never_parse_give_null_predictions_counted_as_failed) {
  std::size_t scoring_calls = 0;
  auto handler = [&](fake_request const& r) {
    if (!ai::testing::is_scoring_prompt(r.prompt())) return ai::testing::fake_brain(r);
    ++scoring_calls;
    return fake_reply::completion("I would rather not say.");
  };
  harness h(backend::llm, handler);
  h.score(1);
  auto idx = h.live(3);
  auto out = fresh_dir("score_unparsed");
  auto s = h.run(harness::latents(idx), out, false, 4);
  EXPECT_EQ(s.failed, 0u);
  std::size_t samples = 0, batches = 0;
  for (char const* scorer : {"detection", "fuzz"}) {
    auto p = pooled_scores(out, scorer);
    EXPECT_EQ(p.nulls, p.samples) << scorer;
    samples += p.samples;
    for (auto const& e : std::filesystem::directory_iterator(out / "scores" / scorer)) {
      std::set<std::int64_t> b;
      auto const doc = boost::json::parse(read(e.path()));
      for (auto const& v : doc.as_array()) b.insert(v.at("batch").as_int64());
      batches += b.size();
    }
  }
  EXPECT_EQ(scoring_calls, 2 * batches);  // one retry each (retries = 1), then null
  auto store = pl::run_store::open(out, pl::store_mode::read).value();
  auto scores = ai::score::read_run_scores(store).value();
  std::size_t failed = 0;
  for (auto const& [name, latents] : scores.by_scorer) failed += ai::score::summarize(latents).counts.failed;
  EXPECT_EQ(failed, samples);
  for (auto const& line : store.lines())
    if (line.stage != "explain") {
      EXPECT_EQ(line.status, pl::latent_status::scored);
      ASSERT_TRUE(line.error);
      EXPECT_NE(line.error->find("no list"), std::string::npos) << *line.error;
    }
  std::filesystem::remove_all(out);
}

TEST(score_e2e, logprobs_give_every_prediction_a_probability_and_the_summary_an_auc) {
  harness h(backend::llm, ai::testing::fake_brain);
  h.score(2, {}, true);
  auto idx = h.live(4);
  auto out = fresh_dir("score_logprobs");
  auto s = h.run(harness::latents(idx), out, false, 4);
  EXPECT_EQ(s.failed, 0u);
  auto store = pl::run_store::open(out, pl::store_mode::read).value();
  auto scores = ai::score::read_run_scores(store).value();
  ASSERT_EQ(scores.by_scorer.size(), 2u);
  for (auto const& [name, latents] : scores.by_scorer) {
    for (auto const& l : latents)
      for (auto const& smp : l.samples) {
        ASSERT_TRUE(smp.probability) << name;
        EXPECT_GE(*smp.probability, 0.0);
        EXPECT_LE(*smp.probability, 1.0);
        EXPECT_EQ(*smp.probability > 0.5, *smp.prediction) << name;  // the fake is sure of what it says
      }
    EXPECT_TRUE(ai::score::summarize(latents).auc) << name;
  }
  std::filesystem::remove_all(out);
}

TEST(score_e2e, a_rejected_key_while_scoring_stops_the_job) {
  auto handler = [](fake_request const& r) {
    if (ai::testing::is_scoring_prompt(r.prompt())) return fake_reply::error(401, "invalid key");
    return ai::testing::fake_brain(r);
  };
  harness h(backend::llm, handler);
  h.score();
  auto idx = h.live(200);
  auto out = fresh_dir("score_401");
  auto s = h.run(harness::latents(idx), out, false, 4);
  EXPECT_EQ(s.stop, pl::stop_reason::fatal);
  ASSERT_TRUE(s.fatal);
  EXPECT_TRUE(*s.fatal == ai::errc::unauthorized) << s.fatal->what();
  EXPECT_LT(s.processed(), 40u);  // no new latent started after the first rejected call
  EXPECT_FALSE(std::filesystem::exists(out / "scores" / "detection") &&
               !std::filesystem::is_empty(out / "scores" / "detection"));
  std::filesystem::remove_all(out);
}

TEST(explain_e2e, a_failed_latent_line_counts_the_attempts_actually_made) {
  harness h(backend::llm, [](fake_request const&) { return fake_reply::error(500, "down"); });
  auto idx = h.live(1);
  auto out = fresh_dir("attempts");
  auto s = h.run(harness::latents(idx), out, false, 1);
  EXPECT_EQ(s.failed, 1u);
  auto rows = run_lines(out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("attempts").as_int64(), 10);  // the harness's retry.max_attempts
  EXPECT_NE(std::string(rows[0].at("error").as_string()).find("10 attempts"), std::string::npos) << rows[0];
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

// Runs `args` and kills it (SIGKILL) once `file` holds more than `bytes` bytes.
void kill_once_written(std::vector<std::string> const& args, std::filesystem::path const& file, std::uintmax_t bytes,
                       std::vector<std::string> extra_env = {}) {
  auto c = spawn(args, std::move(extra_env));
  for (int i = 0; i < 3000; ++i) {
    std::error_code ec;
    if (std::filesystem::exists(file, ec) && std::filesystem::file_size(file, ec) > bytes) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(c.pid, SIGKILL);
  EXPECT_EQ(wait_exit(c.pid), 128 + SIGKILL);
  ::close(c.out);
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
  kill_once_written(args, out / "run.jsonl", 3000);  // once some latents are done
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

// numpy's default (linear) percentile of sorted values.
double linear_percentile(std::vector<double> const& v, double q) {
  double const pos = q / 100 * static_cast<double>(v.size() - 1);
  auto const lo = static_cast<std::size_t>(std::floor(pos));
  auto const hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

TEST(score_cli, summary_json_equals_the_formulas_computed_from_the_score_files) {
  auto out = fresh_dir("cli_summary");
  auto [code, text] = run_program({AUTOINTERP_CLI_EXE, "explain", cache_dir, "--latents", "60-140", "--min-examples", "10",
                                   "--out", out.string(), "--scorers", "detection,fuzz"});
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find("keyword baseline scores"), std::string::npos) << text;
  auto [scode, json] = run_program({AUTOINTERP_CLI_EXE, "summary", out.string(), "--json"});
  ASSERT_EQ(scode, 0) << json;
  auto const doc = boost::json::parse(json.substr(json.find('{'))).as_object();
  std::map<std::uint32_t, double> firing;
  for (auto const& row : run_lines(out))
    if (row.contains("n_activations")) firing[static_cast<std::uint32_t>(row.at("latent").as_int64())] = row.at("n_activations").to_number<double>();
  for (char const* scorer : {"detection", "fuzz"}) {
    SCOPED_TRACE(scorer);
    double tp = 0, tn = 0, fp = 0, fn = 0, failed = 0, weighted = 0, weight = 0;
    std::map<double, std::pair<double, double>> quantiles;  // distance -> (predicted activating, activating)
    std::vector<double> per_latent;
    std::size_t latents = 0;
    for (auto const& e : std::filesystem::directory_iterator(out / "scores" / scorer)) {
      ++latents;
      double ltp = 0, ltn = 0, lfp = 0, lfn = 0;
      auto const file = boost::json::parse(read(e.path()));
      for (auto const& v : file.as_array()) {
        auto const& o = v.as_object();
        if (o.at("prediction").is_null()) {
          ++failed;
          continue;
        }
        bool const act = o.at("activating").as_bool(), pred = o.at("prediction").as_bool();
        (act ? (pred ? ltp : lfn) : (pred ? lfp : ltn)) += 1;
        if (act) {
          auto& q = quantiles[o.at("distance").to_number<double>()];
          q.first += pred;
          q.second += 1;
        }
      }
      tp += ltp, tn += ltn, fp += lfp, fn += lfn;
      if (ltp + lfn > 0 && ltn + lfp > 0) per_latent.push_back((ltp / (ltp + lfn) + ltn / (ltn + lfp)) / 2);
      if (2 * ltp + lfp + lfn > 0) {
        auto name = e.path().stem().string();
        double const n = firing.at(static_cast<std::uint32_t>(std::stoul(name.substr(name.rfind("latent") + 6))));
        weighted += 2 * ltp / (2 * ltp + lfp + lfn) * n;
        weight += n;
      }
    }
    auto const& got = doc.at("scorers").at(scorer).as_object();
    auto num = [&](char const* key) { return got.at(key).to_number<double>(); };
    EXPECT_EQ(got.at("latents").as_int64(), static_cast<std::int64_t>(latents));
    EXPECT_EQ(num("true_positives"), tp);
    EXPECT_EQ(num("true_negatives"), tn);
    EXPECT_EQ(num("false_positives"), fp);
    EXPECT_EQ(num("false_negatives"), fn);
    EXPECT_EQ(num("failed"), failed);
    EXPECT_EQ(num("examples"), tp + tn + fp + fn);
    EXPECT_NEAR(num("balanced_accuracy"), (tp / (tp + fn) + tn / (tn + fp)) / 2, 1e-9);
    EXPECT_NEAR(num("precision"), tp / (tp + fp), 1e-9);
    EXPECT_NEAR(num("recall"), tp / (tp + fn), 1e-9);
    EXPECT_NEAR(num("f1"), 2 * tp / (2 * tp + fp + fn), 1e-9);
    EXPECT_TRUE(got.at("auc").is_null());  // no logprobs from the keyword baseline
    auto const& pq = got.at("per_quantile").as_array();
    ASSERT_EQ(pq.size(), quantiles.size());
    std::size_t i = 0;
    for (auto const& [q, counts] : quantiles) {
      EXPECT_EQ(pq[i].at("quantile").to_number<double>(), q);
      EXPECT_EQ(pq[i].at("examples").to_number<double>(), counts.second);
      EXPECT_NEAR(pq[i].at("accuracy").to_number<double>(), counts.first / counts.second, 1e-9);
      ++i;
    }
    std::sort(per_latent.begin(), per_latent.end());
    ASSERT_GE(per_latent.size(), 4u);
    auto const& d = got.at("per_latent").as_object();
    EXPECT_NEAR(d.at("median").to_number<double>(), linear_percentile(per_latent, 50), 1e-9);
    EXPECT_NEAR(d.at("q1").to_number<double>(), linear_percentile(per_latent, 25), 1e-9);
    EXPECT_NEAR(d.at("q3").to_number<double>(), linear_percentile(per_latent, 75), 1e-9);
    double mean = 0;
    for (double x : per_latent) mean += x / static_cast<double>(per_latent.size());
    EXPECT_NEAR(d.at("mean").to_number<double>(), mean, 1e-9);
    auto const& ci = d.at("ci95").as_array();
    EXPECT_LE(ci[0].to_number<double>(), mean);
    EXPECT_GE(ci[1].to_number<double>(), mean);
    EXPECT_NEAR(num("weighted_f1"), weighted / weight, 1e-9);  // one module
  }
  std::filesystem::remove_all(out);
}

// Explanations as delphi writes them for latents 0..n-1 (explanations/<module>_latent<i>.txt
// holding a JSON string): the planted token where there is one, " the" elsewhere.
std::filesystem::path delphi_explanations(std::string const& name, std::uint32_t n) {
  auto planted = planted_tokens();
  auto expl = fresh_dir(name);
  std::filesystem::create_directories(expl / "explanations");
  for (std::uint32_t i = 0; i < n; ++i) {
    auto it = planted.find(i);
    std::string const token = it != planted.end() ? it->second : " the";
    std::ofstream(expl / "explanations" / ("layers.6_latent" + std::to_string(i) + ".txt"))
        << boost::json::serialize(boost::json::string("the token \"" + token + "\""));
  }
  return expl;
}

// The server's request count once it stops moving (requests cut by a kill have arrived).
std::size_t settled_requests(fake_llm_server const& server) {
  auto count = server.requests();
  for (int still = 0; still < 10; std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
    auto const now = server.requests();
    still = now == count ? still + 1 : 0;
    count = now;
  }
  return count;
}

TEST(score_cli, score_reads_delphi_explanation_folders_and_resume_after_sigkill_asks_nothing_twice) {
  auto expl = delphi_explanations("cli_delphi_expl", 150);
  asio::io_context server_io;
  std::mutex m;
  std::map<std::string, int> answered;
  fake_llm_server server(server_io.get_executor(), [&](fake_request const& r) {
    {
      std::lock_guard lock(m);
      ++answered[r.prompt()];
    }
    return ai::testing::fake_brain(r).after(std::chrono::milliseconds(10));
  });
  auto guard = asio::make_work_guard(server_io);
  std::thread server_thread([&] { server_io.run(); });
  auto out = fresh_dir("cli_score_kill");
  std::vector<std::string> args{AUTOINTERP_CLI_EXE, "score", cache_dir, "--latents", "0-149", "--min-examples", "5",
                                "--explanations", (expl / "explanations").string(), "--scorers", "detection,fuzz",
                                "--provider", "local", "--base-url", server.base_url(), "--model", "fake",
                                "--concurrency", "8", "--out", out.string()};
  kill_once_written(args, out / "run.jsonl", 4000);
  auto const requests_at_kill = settled_requests(server);
  std::set<std::pair<std::string, std::uint32_t>> before;  // (scorer, latent) whose file was saved before the kill
  for (char const* scorer : {"detection", "fuzz"}) {
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(out / "scores" / scorer, ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
      auto name = it->path().filename().string();
      if (name.find(".tmp") == std::string::npos)
        before.emplace(scorer, static_cast<std::uint32_t>(std::stoul(name.substr(name.rfind("latent") + 6))));
    }
  }
  EXPECT_GT(before.size(), 0u);
  args.push_back("--resume");
  auto [code, text] = run_program(args);
  EXPECT_EQ(code, 0) << text;
  server.stop();
  guard.reset();
  server_thread.join();
  // Every latent with enough windows has both score files, each whole, none with a null prediction.
  std::map<std::string, std::set<std::uint32_t>> files;
  for (char const* scorer : {"detection", "fuzz"})
    for (auto const& e : std::filesystem::directory_iterator(out / "scores" / scorer)) {
      auto name = e.path().filename().string();
      EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
      auto const doc = boost::json::parse(read(e.path()));
      for (auto const& v : doc.as_array()) EXPECT_FALSE(v.at("prediction").is_null()) << name;
      files[scorer].insert(static_cast<std::uint32_t>(std::stoul(name.substr(name.rfind("latent") + 6))));
    }
  EXPECT_EQ(files["detection"], files["fuzz"]);
  EXPECT_GT(files["detection"].size(), 20u);
  std::set<std::uint32_t> scored_lines;
  for (auto const& row : run_lines(out))
    if (row.at("status") == "scored") scored_lines.insert(static_cast<std::uint32_t>(row.at("latent").as_int64()));
  EXPECT_EQ(scored_lines, files["detection"]);
  // Only batches of latents in flight at the kill may have been asked twice (2 x --concurrency latents
  // in the scheduler, each with at most 40 batches over both scorers).
  std::size_t twice = 0;
  for (auto const& [prompt, n] : answered) twice += n > 1;
  EXPECT_LE(twice, 16u * 40u);
  // The resumed run asked exactly the batches of what was not saved before the kill: nothing saved
  // was asked again (the fake's answers always parse, so one request per batch).
  std::size_t expected_requests = 0;
  for (char const* scorer : {"detection", "fuzz"})
    for (auto latent : files[scorer]) {
      if (before.contains({scorer, latent})) continue;
      auto const doc = boost::json::parse(read(out / "scores" / scorer / ("layers.6_latent" + std::to_string(latent) + ".txt")));
      std::set<std::int64_t> batches;
      for (auto const& v : doc.as_array()) batches.insert(v.at("batch").as_int64());
      expected_requests += batches.size();
    }
  EXPECT_EQ(server.requests() - requests_at_kill, expected_requests);
  std::filesystem::remove_all(out);
  std::filesystem::remove_all(expl);
}

TEST(score_cli, simulation_intruder_and_embedding_resume_after_sigkill_and_ask_nothing_saved_again) {
  auto expl = delphi_explanations("cli_three_expl", 60);
  asio::io_context server_io;
  fake_llm_server server(server_io.get_executor(),
                         [&](fake_request const& r) { return ai::testing::fake_brain(r).after(std::chrono::milliseconds(10)); });
  auto guard = asio::make_work_guard(server_io);
  std::thread server_thread([&] { server_io.run(); });
  auto out = fresh_dir("cli_three_kill");
  std::vector<std::string> const scorers = {"simulation", "intruder", "embedding"};
  std::vector<std::string> args{AUTOINTERP_CLI_EXE, "score", cache_dir, "--latents", "0-59", "--min-examples", "5",
                                "--n-examples-test", "10", "--n-non-activating", "10", "--explanations",
                                (expl / "explanations").string(), "--scorers", "simulation,intruder,embedding",
                                "--provider", "local", "--base-url", server.base_url(), "--model", "fake",
                                "--embedding-model", "fake-embed", "--concurrency", "8", "--out", out.string()};
  kill_once_written(args, out / "run.jsonl", 2500);
  auto const requests_at_kill = settled_requests(server);
  auto saved = [&](std::string const& scorer) {
    std::set<std::uint32_t> ids;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(out / "scores" / scorer, ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
      auto name = it->path().filename().string();
      if (name.find(".tmp") == std::string::npos) ids.insert(static_cast<std::uint32_t>(std::stoul(name.substr(name.rfind("latent") + 6))));
    }
    return ids;
  };
  std::map<std::string, std::set<std::uint32_t>> before;
  for (auto const& sc : scorers) before[sc] = saved(sc);
  EXPECT_GT(before["simulation"].size() + before["intruder"].size() + before["embedding"].size(), 0u);
  args.push_back("--resume");
  auto [code, text] = run_program(args);
  EXPECT_EQ(code, 0) << text;
  server.stop();
  guard.reset();
  server_thread.join();
  // Every scorer has a whole file for the same latents, none with a missing answer; the resumed run
  // asked exactly the prompts of the files it wrote (one per simulated sample, one per intruder
  // prompt, one per 64 texts embedded, the query included).
  std::size_t expected_requests = 0;
  std::set<std::uint32_t> first_set;
  for (auto const& sc : scorers) {
    auto const files = saved(sc);
    if (first_set.empty()) first_set = files;
    EXPECT_EQ(files, first_set) << sc;
    auto [nulls, all] = unanswered(out, sc);
    EXPECT_EQ(nulls, 0u) << sc;
    for (auto latent : files) {
      if (before[sc].contains(latent)) continue;
      auto const n = boost::json::parse(read(out / "scores" / sc / ("layers.6_latent" + std::to_string(latent) + ".txt")))
                         .as_array()
                         .size();
      expected_requests += sc == "embedding" ? (n + 1 + 63) / 64 : n;
    }
  }
  EXPECT_GT(first_set.size(), 20u);
  EXPECT_EQ(server.requests() - requests_at_kill, expected_requests);
  std::filesystem::remove_all(out);
  std::filesystem::remove_all(expl);
}

std::string unzstd(std::filesystem::path const& file) {
  auto packed = read(file);
  auto const size = ZSTD_getFrameContentSize(packed.data(), packed.size());
  EXPECT_NE(size, ZSTD_CONTENTSIZE_ERROR);
  EXPECT_NE(size, ZSTD_CONTENTSIZE_UNKNOWN);
  std::string out(static_cast<std::size_t>(size), '\0');
  auto const n = ZSTD_decompress(out.data(), out.size(), packed.data(), packed.size());
  EXPECT_FALSE(ZSTD_isError(n));
  return out;
}

std::filesystem::path const golden = std::filesystem::path(AUTOINTERP_TEST_FIXTURES) / "golden";

TEST(golden, explain_records_report_and_show_write_what_they_wrote_before_the_reshaping) {
  auto out = fresh_dir("golden");
  auto [code, text] = run_program({AUTOINTERP_CLI_EXE, "explain", cache_dir, "--module", "layers.6", "--latents",
                                   "69,119,154,211,245,288,860,1229", "--min-examples", "10", "--out", out.string()});
  ASSERT_EQ(code, 0) << text;
  std::size_t files = 0;
  for (auto const& e : std::filesystem::directory_iterator(golden / "explain" / "explanations")) {
    ++files;
    EXPECT_EQ(read(out / "explanations" / e.path().filename()), read(e.path())) << e.path().filename();
  }
  EXPECT_EQ(files, 8u);
  std::vector<std::string> lines;
  {
    std::istringstream in(read(out / "run.jsonl"));
    for (std::string line; std::getline(in, line);) {
      auto at = line.find("\"latency_ms\":");
      ASSERT_NE(at, std::string::npos) << line;
      line.erase(at, line.find(',', at) + 1 - at);
      lines.push_back(line);
    }
  }
  std::sort(lines.begin(), lines.end());
  std::string joined;
  for (auto const& l : lines) joined += l + "\n";
  EXPECT_EQ(joined, read(golden / "explain" / "run.jsonl"));

  auto [rcode, records] = run_program({AUTOINTERP_CLI_EXE, "records", cache_dir, "--latents", "60-80", "--min-examples", "3",
                                       "--str-tokens"});
  ASSERT_EQ(rcode, 0);
  EXPECT_TRUE(records == unzstd(golden / "records.jsonl.zst")) << "records output changed";

  auto page = out / "report.html";
  auto [pcode, ptext] = run_program({AUTOINTERP_CLI_EXE, "report", cache_dir, "--out", page.string(), "--explanations", out.string()});
  ASSERT_EQ(pcode, 0) << ptext;
  auto expected_page = unzstd(golden / "report.html.zst");
  for (auto const& [mark, path] : {std::pair<std::string, std::string>{"@RUN@", out.string()}, {"@CACHE@", cache_dir}})
    for (auto at = expected_page.find(mark); at != std::string::npos; at = expected_page.find(mark))
      expected_page.replace(at, mark.size(), path);
  EXPECT_TRUE(read(page) == expected_page) << "report page changed";

  auto [scode, shown] = run_program({AUTOINTERP_CLI_EXE, "show", cache_dir, "--latent", "69", "--n", "3", "--explanations", out.string()});
  ASSERT_EQ(scode, 0);
  EXPECT_EQ(shown, read(golden / "show.txt"));
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

TEST(tutorial, 07_explain_and_score_scores_a_planted_latent_offline) {
  auto [code, text] = run_program({example("07_explain_and_score"), cache_dir, "layers.6", "69", tokenizer_file});
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find(planted_tokens().at(69)), std::string::npos) << text;  // the statistical baseline names it
  for (char const* scorer : {"detection", "fuzz"}) {
    auto at = text.find(std::string("  ") + scorer + ": balanced accuracy ");
    ASSERT_NE(at, std::string::npos) << text;
    double const ba = std::stod(text.substr(at + std::strlen(scorer) + 22));
    EXPECT_GE(ba, 0.8) << scorer << "\n" << text;  // the keyword baseline finds the planted token
  }
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

// What a job costs (issue 14): accounts that match the server's, the budget, the dry run's estimate.
namespace {

// A fake server answering with a handler on a thread of its own, for CLI runs.
struct threaded_server {
  asio::io_context io;
  fake_llm_server server;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  std::thread thread;

  explicit threaded_server(ai::testing::fake_handler handler)
      : server(io.get_executor(), std::move(handler)), guard(asio::make_work_guard(io)), thread([this] { io.run(); }) {}
  ~threaded_server() {
    server.stop();
    guard.reset();
    thread.join();
  }
};

// The metered fake, for CLI runs.
struct metered_server {
  ai::testing::fake_meter meter;
  threaded_server host;

  explicit metered_server(std::optional<double> cost_per_call = std::nullopt)
      : meter(cost_per_call), host([this](fake_request const& r) { return meter(r); }) {}
  std::string base_url() const { return host.server.base_url(); }
};

struct usage_sums {
  std::uint64_t prompt = 0, completion = 0, cached = 0;
  double cost = 0;
  std::size_t lines = 0;
};

usage_sums sum_run_lines(std::filesystem::path const& dir) {
  usage_sums s;
  for (auto const& row : run_lines(dir)) {
    auto const& u = row.at("usage").as_object();
    s.prompt += u.at("prompt_tokens").to_number<std::uint64_t>();
    s.completion += u.at("completion_tokens").to_number<std::uint64_t>();
    s.cached += u.at("cached_tokens").to_number<std::uint64_t>();
    s.cost += row.at("cost_usd").to_number<double>();
    ++s.lines;
  }
  return s;
}

boost::json::object last_json_line(std::string const& text) {
  std::istringstream in(text);
  boost::json::object o;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') o = boost::json::parse(line).as_object();
  return o;
}

}  // namespace

TEST(cost_cli, run_jsonl_sums_equal_what_the_server_reported_with_cached_tokens_priced) {
  metered_server fake;
  auto out = fresh_dir("cli_accounts");
  auto [code, text] = run_program({AUTOINTERP_CLI_EXE, "explain", cache_dir, "--latents", "0-29", "--min-examples", "5",
                                   "--scorers", "detection,simulation", "--provider", "local", "--base-url",
                                   fake.base_url(), "--model", "fake", "--concurrency", "4", "--out", out.string(),
                                   "--price", "prompt=1.5,completion=6,cached=0.5"});
  ASSERT_EQ(code, 0) << text;
  auto const sums = sum_run_lines(out);
  auto const reported = fake.meter.reported();
  EXPECT_EQ(sums.prompt, reported.prompt_tokens);
  EXPECT_EQ(sums.completion, reported.completion_tokens);
  EXPECT_EQ(sums.cached, reported.cached_tokens);
  EXPECT_GT(sums.cached, 0u);  // scoring prompts of one latent share the system prompt and the explanation
  // No server cost: each line is priced from its tokens, the cached ones at the cached price.
  double const expected = (static_cast<double>(sums.prompt - sums.cached) * 1.5 + static_cast<double>(sums.cached) * 0.5 +
                           static_cast<double>(sums.completion) * 6) / 1e6;
  EXPECT_NEAR(sums.cost, expected, 1e-9);
  for (auto const& row : run_lines(out)) {
    auto const& u = row.at("usage").as_object();
    double const p = u.at("prompt_tokens").to_number<double>(), c = u.at("completion_tokens").to_number<double>(),
                 k = u.at("cached_tokens").to_number<double>();
    EXPECT_NEAR(row.at("cost_usd").to_number<double>(), ((p - k) * 1.5 + k * 0.5 + c * 6) / 1e6, 1e-12);
  }
  auto [scode, json] = run_program({AUTOINTERP_CLI_EXE, "summary", out.string(), "--json"});
  ASSERT_EQ(scode, 0) << json;
  auto const cost = last_json_line(json).at("cost").as_object();
  EXPECT_NEAR(cost.at("cost_usd").to_number<double>(), expected, 1e-9);
  EXPECT_NEAR(cost.at("cache_hit_rate").to_number<double>(), static_cast<double>(sums.cached) / static_cast<double>(sums.prompt), 1e-9);
  EXPECT_NEAR(cost.at("cost_per_latent_usd").to_number<double>(), expected / cost.at("latents").to_number<double>(), 1e-12);
  std::filesystem::remove_all(out);
}

TEST(cost_cli, max_cost_stops_with_exit_3_and_a_larger_budget_resumes_paying_no_prompt_twice) {
  constexpr double per_call = 0.001;
  metered_server fake(per_call);
  auto out = fresh_dir("cli_budget");
  std::vector<std::string> args{AUTOINTERP_CLI_EXE, "explain", cache_dir, "--latents", "0-39", "--min-examples", "5",
                                "--scorers", "detection", "--provider", "local", "--base-url", fake.base_url(),
                                "--model", "fake", "--concurrency", "2", "--out", out.string()};
  auto first = args;
  first.insert(first.end(), {"--max-cost", "0.02"});
  auto [code, text] = run_program(first);
  EXPECT_EQ(code, 3) << text;
  EXPECT_NE(text.find("--max-cost $0.0200 reached"), std::string::npos) << text;
  auto const spent = sum_run_lines(out);
  EXPECT_NEAR(spent.cost, per_call * static_cast<double>(fake.meter.calls()), 1e-9);  // every paid call was saved
  EXPECT_LT(fake.meter.calls(), 200u);  // it stopped early
  // Over the budget only by what was in flight: at most 2 x --concurrency latents, each finishing the
  // stage it started (one explanation, or a detection stage of at most a dozen prompts).
  EXPECT_LE(spent.cost, 0.02 + 4 * 12 * per_call);
  auto const budget = boost::json::parse(read(out / "budget.json")).as_object();
  EXPECT_TRUE(budget.at("reached").as_bool());
  EXPECT_NEAR(budget.at("cost_overrun_usd").to_number<double>(), std::max(0.0, spent.cost - 0.02), 1e-9);

  auto second = args;
  second.insert(second.end(), {"--max-cost", "1", "--resume"});
  auto [rcode, rtext] = run_program(second);
  EXPECT_EQ(rcode, 0) << rtext;
  for (auto const& [prompt, n] : fake.meter.answered()) EXPECT_EQ(n, 1) << prompt.substr(0, 200);
  std::set<std::uint32_t> explained, scored, skipped;  // skipped: too few examples (each run says so again)
  for (auto const& row : run_lines(out)) {
    auto const latent = static_cast<std::uint32_t>(row.at("latent").as_int64());
    if (row.at("status") == "explained") explained.insert(latent);
    if (row.at("status") == "scored") scored.insert(latent);
    if (row.at("status") == "skipped") skipped.insert(latent);
  }
  EXPECT_EQ(explained.size() + skipped.size(), 40u);
  EXPECT_EQ(scored, explained);
  EXPECT_NEAR(sum_run_lines(out).cost, per_call * static_cast<double>(fake.meter.calls()), 1e-9);
  std::filesystem::remove_all(out);
}

TEST(cost_cli, dry_run_estimate_is_within_ten_percent_of_what_the_fake_then_reports) {
  auto out = fresh_dir("cli_estimate");
  std::vector<std::string> common{"--latents", "0-29", "--min-examples", "5", "--scorers", "detection,fuzz,simulation",
                                  "--model", "fake", "--price", "prompt=1,completion=4", "--out", out.string()};
  std::vector<std::string> dry{AUTOINTERP_CLI_EXE, "explain", cache_dir, "--provider", "dry-run", "--json",
                               "--estimate-explanation-chars", "20"};
  dry.insert(dry.end(), common.begin(), common.end());
  auto [dcode, dtext] = run_program(dry);
  ASSERT_EQ(dcode, 0) << dtext;
  EXPECT_NE(dtext.find("placeholder explanation of 20 characters"), std::string::npos) << dtext;
  auto const est = last_json_line(dtext);
  ASSERT_TRUE(est.contains("by_stage")) << dtext;
  EXPECT_EQ(est.at("latents").to_number<std::size_t>(), 30u);
  for (char const* stage : {"explain", "detection", "fuzz", "simulation"}) EXPECT_TRUE(est.at("by_stage").as_object().contains(stage)) << stage;
  EXPECT_GT(est.at("cacheable_prefix_share").to_number<double>(), 0.1);
  EXPECT_FALSE(std::filesystem::exists(out / "explanations" / "layers.6_latent0.txt"));  // a dry run leaves no placeholder behind

  metered_server fake;
  std::vector<std::string> real{AUTOINTERP_CLI_EXE, "explain", cache_dir, "--provider", "local", "--base-url",
                                fake.base_url(), "--concurrency", "4"};
  real.insert(real.end(), common.begin(), common.end());
  auto [rcode, rtext] = run_program(real);
  ASSERT_EQ(rcode, 0) << rtext;
  auto const used = sum_run_lines(out);
  auto near = [](double estimate, double actual) { return std::abs(estimate - actual) <= 0.1 * actual; };
  double const est_prompt = est.at("prompt_tokens").to_number<double>();
  EXPECT_TRUE(near(est_prompt, static_cast<double>(used.prompt))) << est_prompt << " vs " << used.prompt;
  double const est_total = est_prompt + est.at("completion_tokens").to_number<double>();
  EXPECT_TRUE(near(est_total, static_cast<double>(used.prompt + used.completion))) << est_total;
  EXPECT_EQ(est.at("calls").to_number<std::size_t>(), fake.meter.calls());
  std::printf("dry run: %.0f prompt tokens estimated, %llu reported (%+.1f%%); %.0f prompt + completion vs %llu (%+.1f%%); "
              "cacheable prefix %.1f%%\n",
              est_prompt, static_cast<unsigned long long>(used.prompt), (est_prompt / static_cast<double>(used.prompt) - 1) * 100,
              est_total, static_cast<unsigned long long>(used.prompt + used.completion),
              (est_total / static_cast<double>(used.prompt + used.completion) - 1) * 100,
              est.at("cacheable_prefix_share").to_number<double>() * 100);
  std::filesystem::remove_all(out);
}

// OpenAI's Batch API (`--provider openai-batch`) against the fake: files, batches whose statuses
// move on a timer, a share of requests failing.
namespace {

struct batch_server {
  ai::testing::fake_batch_api api;
  threaded_server host;

  explicit batch_server(ai::testing::fake_batch_settings s) : api(std::move(s)), host(api.handler()) {}
  std::string base_url() const { return host.server.base_url(); }
};

// Every latent of 0..n-1 with enough examples explained once and scored by `scorer` once.
void expect_explained_and_scored(std::filesystem::path const& out, std::uint32_t n, char const* scorer) {
  std::set<std::uint32_t> explained, scored, skipped;
  std::map<std::pair<std::string, std::uint32_t>, int> finished;
  for (auto const& row : run_lines(out)) {
    auto const latent = static_cast<std::uint32_t>(row.at("latent").as_int64());
    auto const status = std::string(row.at("status").as_string());
    auto const stage = row.contains("stage") ? std::string(row.at("stage").as_string()) : std::string("explain");
    if (status == "explained") explained.insert(latent);
    if (status == "scored") scored.insert(latent);
    if (status == "skipped") skipped.insert(latent);
    if (status == "explained" || status == "scored") ++finished[{stage, latent}];
    EXPECT_NE(status, "failed") << boost::json::serialize(row);
  }
  EXPECT_EQ(explained.size() + skipped.size(), n);
  EXPECT_EQ(scored, explained);
  for (auto const& [key, times] : finished) EXPECT_EQ(times, 1) << key.first << " " << key.second;
  for (auto latent : explained) {
    EXPECT_TRUE(std::filesystem::exists(out / "explanations" / ("layers.6_latent" + std::to_string(latent) + ".txt")));
    EXPECT_TRUE(std::filesystem::exists(out / "scores" / scorer / ("layers.6_latent" + std::to_string(latent) + ".txt")));
  }
}

std::vector<std::string> batch_args(std::string const& base_url, std::filesystem::path const& out) {
  return {AUTOINTERP_CLI_EXE, "explain", cache_dir, "--latents", "0-199", "--min-examples", "5", "--scorers", "detection",
          "--provider", "openai-batch", "--base-url", base_url, "--model", "fake", "--batch-poll-interval", "0.02",
          "--concurrency", "16", "--batch-max-requests", "500", "--out", out.string()};
}

}  // namespace

TEST(batch_cli, explains_and_scores_200_latents_sending_each_request_until_it_succeeds_and_never_after) {
  ai::testing::fake_batch_settings settings;
  settings.fail_fraction = 0.1;  // answered with a 500 the first time: the next round sends them again
  batch_server fake(settings);
  auto out = fresh_dir("cli_batch");
  auto [code, text] = run_program(batch_args(fake.base_url(), out), {"OPENAI_API_KEY=sk-test"});
  ASSERT_EQ(code, 0) << text;
  expect_explained_and_scored(out, 200, "detection");
  // Each request was answered once; the ones that failed were sent once more, none a third time.
  EXPECT_EQ(fake.api.answered(), fake.api.distinct_requests());
  EXPECT_EQ(fake.api.max_submissions(), 2u);
  EXPECT_GE(fake.api.batches_created(), 4u);  // explain, its retry, detection (split at 500 requests), its retry
  // What batches.jsonl says: every batch ended completed; its custom_ids name module, latent, stage, prompt.
  std::set<std::string> ids;
  std::map<std::string, std::string> status;
  std::istringstream log(read(out / "batches.jsonl"));
  for (std::string line; std::getline(log, line);) {
    auto o = boost::json::parse(line).as_object();
    status[std::string(o.at("batch_id").as_string())] = std::string(o.at("status").as_string());
    if (o.contains("custom_ids"))
      for (auto const& id : o.at("custom_ids").as_array()) ids.insert(std::string(id.as_string()));
  }
  for (auto const& [id, st] : status) EXPECT_EQ(st, "completed") << id;
  EXPECT_TRUE(ids.contains("layers.6/0/explain/0")) << *ids.begin();
  EXPECT_EQ(ids.size(), fake.api.distinct_requests());
  // Usage came back through the batches: cached tokens too.
  auto const sums = sum_run_lines(out);
  EXPECT_GT(sums.prompt, 0u);
  EXPECT_GT(sums.cached, 0u);
  std::filesystem::remove_all(out);
}

TEST(batch_cli, killed_while_polling_then_resumed_polls_the_batch_it_submitted_instead_of_sending_it_again) {
  ai::testing::fake_batch_settings settings;
  settings.in_progress = std::chrono::milliseconds(1500);  // long enough to be killed while polling
  batch_server fake(settings);
  auto out = fresh_dir("cli_batch_kill");
  auto args = batch_args(fake.base_url(), out);
  kill_once_written(args, out / "batches.jsonl", 0, {"OPENAI_API_KEY=sk-test"});
  auto const created_before = fake.api.batches_created();
  EXPECT_GE(created_before, 1u);
  args.push_back("--resume");
  auto [code, text] = run_program(args, {"OPENAI_API_KEY=sk-test"});
  ASSERT_EQ(code, 0) << text;
  expect_explained_and_scored(out, 200, "detection");
  EXPECT_EQ(fake.api.max_submissions(), 1u);  // nothing submitted before the kill was submitted again
  EXPECT_EQ(fake.api.answered(), fake.api.distinct_requests());
  std::filesystem::remove_all(out);
}

TEST(batch_cli, batches_cancel_stops_the_running_batch_and_resume_sends_only_what_did_not_run) {
  ai::testing::fake_batch_settings settings;
  settings.in_progress = std::chrono::seconds(30);  // still running when the job is killed and the batch cancelled
  settings.ran_share_when_cut = 0.5;
  batch_server fake(settings);
  auto out = fresh_dir("cli_batch_cancel");
  auto args = batch_args(fake.base_url(), out);
  kill_once_written(args, out / "batches.jsonl", 0, {"OPENAI_API_KEY=sk-test"});
  auto [lcode, listed] = run_program({AUTOINTERP_CLI_EXE, "batches", out.string()});
  EXPECT_EQ(lcode, 0) << listed;
  EXPECT_NE(listed.find("1 batches, 1 running"), std::string::npos) << listed;
  auto [ccode, cancelled] = run_program({AUTOINTERP_CLI_EXE, "batches", out.string(), "--cancel", "--base-url",
                                         fake.base_url()},
                                        {"OPENAI_API_KEY=sk-test"});
  EXPECT_EQ(ccode, 0) << cancelled;
  EXPECT_NE(cancelled.find("1 batches cancelled"), std::string::npos) << cancelled;
  // A fresh run into the folder would forget the cancelled batch's answers: it is refused while the
  // batch is cancelling, and --resume collects them.
  settings.in_progress = std::chrono::milliseconds(10);
  fake.api.set_settings(settings);
  args.push_back("--resume");
  auto [code, text] = run_program(args, {"OPENAI_API_KEY=sk-test"});
  ASSERT_EQ(code, 0) << text;
  expect_explained_and_scored(out, 200, "detection");
  // Half the cancelled batch ran and was kept; only the other half was sent again.
  EXPECT_EQ(fake.api.answered(), fake.api.distinct_requests());
  EXPECT_EQ(fake.api.max_submissions(), 2u);
  std::filesystem::remove_all(out);
}

TEST(batch_cli, ctrl_c_while_polling_stops_and_leaves_the_batch_running_for_resume) {
  ai::testing::fake_batch_settings settings;
  settings.in_progress = std::chrono::seconds(30);
  batch_server fake(settings);
  auto out = fresh_dir("cli_batch_sigint");
  auto c = spawn(batch_args(fake.base_url(), out), {"OPENAI_API_KEY=sk-test"});
  for (int i = 0; i < 3000 && !(std::filesystem::exists(out / "batches.jsonl") && std::filesystem::file_size(out / "batches.jsonl") > 0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(c.pid, SIGINT);
  auto text = read_all(c.out);
  EXPECT_EQ(wait_exit(c.pid), 1) << text;
  EXPECT_NE(text.find("they keep running: --resume polls them"), std::string::npos) << text;
  auto [lcode, listed] = run_program({AUTOINTERP_CLI_EXE, "batches", out.string()});
  EXPECT_NE(listed.find("1 running"), std::string::npos) << listed;
  // A fresh run into the folder is refused while its batch runs: it would be paid for and forgotten.
  auto [fcode, fresh] = run_program(batch_args(fake.base_url(), out), {"OPENAI_API_KEY=sk-test"});
  EXPECT_EQ(fcode, 2) << fresh;
  EXPECT_NE(fresh.find("batches still running: pass --resume"), std::string::npos) << fresh;
  EXPECT_EQ(fake.api.batches_created(), 1u);
  std::filesystem::remove_all(out);
}
