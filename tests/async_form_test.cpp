// The public async form, operation by operation. Every asynchronous operation of the SDK is
// `async_xxx(args..., [diagnostics& diag,] token = deferred)` completing with `void(error_code, T)`;
// here each one is used the ways Asio users write it: co_await with deferred and use_awaitable,
// as_tuple, a plain callback, use_future, with_diagnostics and as_result. Failures must leave our
// text in `diagnostics`; completions must run on the handler's associated executor, and without
// one on the operation's I/O object's executor (never the system executor's threads); and every
// cancellation type an operation documents is exercised. The LLM is the in-process fake server on
// 127.0.0.1. Waits are bounded by safety timeouts only; ordering comes from gates and the server.
#include <autointerp/cache/dataset.hpp>
#include <autointerp/explain/dry_run_explainer.hpp>
#include <autointerp/explain/llm_explainer.hpp>
#include <autointerp/explain/statistical_explainer.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/pipeline/explain_latent.hpp>
#include <autointerp/pipeline/run.hpp>
#include <autointerp/records/load_record.hpp>
#include <autointerp/run_on.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>
#include <autointerp/with_diagnostics.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <latch>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fake_answers.hpp"
#include "fake_embeddings.hpp"
#include "fake_llm_server.hpp"
#include "test_paths.hpp"

namespace asio = boost::asio;
namespace ai = autointerp;
namespace pl = autointerp::pipeline;
using ai::testing::fake_reply;
using ai::testing::fake_request;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

std::filesystem::path const sample = std::filesystem::path(AUTOINTERP_SOURCE_DIR) / "examples" / "data";
constexpr auto safety = 60s;  // only a hung operation ever waits this long

// The fake LLM's answers: "hello" gets "hi there", a prompt containing FAIL a 400, and explaining
// prompts the token they mark (fake_brain); embeddings the fake model's vectors, or a 400 when an
// input contains FAIL.
fake_reply answer(fake_request const& r) {
  if (r.is_embeddings()) {
    for (auto const& text : r.inputs())
      if (text.find("FAIL") != std::string::npos) return fake_reply::error(400, "no such model: FAIL");
    return fake_reply::embeddings(r);
  }
  auto const prompt = r.prompt();
  if (prompt.find("FAIL") != std::string::npos) return fake_reply::error(400, "no such model: FAIL");
  if (prompt == "hello") return fake_reply::completion("hi there");
  return ai::testing::fake_brain(r);
}

// Everything the operations need. `io` is the I/O thread (run by the test thread), `cpu` the pool
// for CPU work, `other` a foreign executor for bind_executor. The fake server, the client and the
// explainers all live on `io`.
struct world {
  asio::io_context io;
  asio::thread_pool cpu{2};
  asio::thread_pool other{1};
  std::filesystem::path root = sample / "cache";
  std::filesystem::path missing = sample / "no-such-cache";
  std::filesystem::path tokenizer_file = sample / "tokenizer.json";
  std::filesystem::path missing_tokenizer = sample / "no-such-tokenizer.json";
  ai::cache::open_options open_options;
  ai::cache::dataset data = ai::cache::dataset::open(root).value();
  std::shared_ptr<ai::tokenizer::tokenizer const> tok =
      std::make_shared<ai::tokenizer::tokenizer const>(ai::tokenizer::load_tokenizer(tokenizer_file).value());
  std::string module = "layers.6";
  std::uint32_t latent = 69;  // planted on " Python"
  ai::cache::latent_id planted{"layers.6", 69};
  ai::cache::latent_id past_width{"layers.6", 99999};
  ai::records::load_options record_options = small_records();
  pl::job_sources sources{.data = data, .tokens = tok, .cpu = cpu.get_executor()};
  ai::records::latent_record record = ai::records::load_record(data, planted, record_options, tok.get()).value();
  ai::records::latent_record empty_record = no_train();
  ai::testing::fake_llm_server server{io.get_executor(), answer};
  ai::llm::client client{io.get_executor(), client_options(server)};
  ai::llm::chat_request hello = chat("hello"), failing = chat("please FAIL");
  ai::llm::embedding_request texts = embed({"hello world", "a second text"}), failing_texts = embed({"fine", "please FAIL"});
  ai::explain::statistical_explainer statistical{io.get_executor()};
  ai::explain::llm_explainer llm{client, explainer_options()};
  ai::explain::dry_run_explainer dry_run{io.get_executor(), explainer_options()};

  ~world() {
    // Let the server close its connections and the client forget its idle ones before io goes.
    server.stop();
    client.close_idle_connections();
    io.restart();
    io.poll();
  }

  static ai::records::load_options small_records() {
    ai::records::load_options o;
    o.records.min_examples = 1;
    o.records.n_examples_test = 0;
    o.records.n_non_activating = 0;
    return o;
  }
  ai::records::latent_record no_train() const {
    ai::records::latent_record r;
    r.latent = {"layers.6", 416};  // a dead latent: nothing to explain from
    return r;
  }
  static ai::llm::client_options client_options(ai::testing::fake_llm_server const& s) {
    ai::llm::client_options o;
    o.endpoint = ai::llm::local(s.base_url());
    o.retry.max_attempts = 3;
    o.retry.base_delay = 2ms;
    o.retry.max_backoff = 10ms;
    o.timeouts.request = safety;
    o.seed = 7;
    return o;
  }
  static ai::llm::chat_request chat(std::string text) {
    ai::llm::chat_request r;
    r.model = "fake/model";
    r.messages = {{"user", std::move(text)}};
    return r;
  }
  static ai::llm::embedding_request embed(std::vector<std::string> input) {
    ai::llm::embedding_request r;
    r.model = "fake/embedding";
    r.input = std::move(input);
    return r;
  }
  static ai::explain::llm_explainer_options explainer_options() {
    ai::explain::llm_explainer_options o;
    o.model = "fake/model";
    return o;
  }
};

// Which of the world's executors the calling thread belongs to; `elsewhere` is any other thread,
// such as the system executor's.
enum class where { io, cpu, other, elsewhere };
std::ostream& operator<<(std::ostream& os, where w) {
  char const* names[] = {"the io_context", "the cpu pool", "the other executor", "elsewhere (not ours)"};
  return os << names[static_cast<int>(w)];
}
where here(world& w) {
  if (w.other.get_executor().running_in_this_thread()) return where::other;
  if (w.cpu.get_executor().running_in_this_thread()) return where::cpu;
  if (w.io.get_executor().running_in_this_thread()) return where::io;
  return where::elsewhere;
}

// Runs `w.io` on this thread until `done` is set (by a completion on any thread) or the safety
// timeout. The work guard keeps io waiting while an operation completes on another executor.
void run_until(world& w, std::atomic<bool> const& done) {
  auto guard = asio::make_work_guard(w.io);
  w.io.restart();
  auto const deadline = std::chrono::steady_clock::now() + safety;
  while (!done && std::chrono::steady_clock::now() < deadline) w.io.run_one_for(20ms);
}

// Runs `body` (a coroutine lambda) on `w.io` to its end.
template <class Body>
void in_coroutine(world& w, Body body) {
  std::atomic<bool> done{false};
  std::exception_ptr failure;
  asio::co_spawn(w.io, std::move(body), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  run_until(w, done);
  ASSERT_TRUE(done) << "the coroutine did not finish";
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (std::exception const& e) {
      ADD_FAILURE() << "the coroutine threw: " << e.what();
    }
  }
}

// Runs `w.io` on a second thread while `body` blocks this one (std::future::get).
template <class Body>
void with_io_thread(world& w, Body body) {
  auto guard = asio::make_work_guard(w.io);
  w.io.restart();
  std::thread runner([&] { w.io.run(); });
  body();
  w.io.stop();
  runner.join();
  w.io.restart();
}

// What a callback saw.
template <class T>
struct seen {
  std::atomic<bool> done{false};
  error_code ec;
  std::exception_ptr exception;
  std::optional<T> value;
  std::optional<ai::result<T>> result;
  where at = where::elsewhere;
};

// Occupies `threads` threads of `w.cpu` until `release()`, so that work posted meanwhile waits
// (with one of the two held, the other runs the pool's work one item at a time, in order). The
// state is shared with the waiting tasks, which may still be returning when the gate goes.
class cpu_gate {
 public:
  explicit cpu_gate(world& w, int threads = 2) : st_(std::make_shared<state>(threads)) {
    for (int i = 0; i < threads; ++i)
      asio::post(w.cpu, [st = st_] {
        st->busy.count_down();
        st->opened.wait();
      });
    st_->busy.wait();
  }
  cpu_gate(cpu_gate const&) = delete;
  cpu_gate& operator=(cpu_gate const&) = delete;
  void release() {
    if (!std::exchange(released_, true)) st_->open.set_value();
  }
  ~cpu_gate() { release(); }

 private:
  struct state {
    explicit state(int n) : busy(n) {}
    std::promise<void> open;
    std::shared_future<void> opened = open.get_future().share();
    std::latch busy;
  };
  std::shared_ptr<state> st_;
  bool released_ = false;
};

// Blocks the calling thread until `w.cpu` has run everything posted to it so far (with a gate
// holding one thread, the pool runs in order, so a marker posted now runs after all of it).
void wait_for_cpu_queue(world& w) {
  auto marker = std::make_shared<std::promise<void>>();
  auto reached = marker->get_future();
  asio::post(w.cpu, [marker] { marker->set_value(); });
  reached.wait();
}

bool mentions(std::string const& text, std::string_view part) { return text.find(part) != std::string::npos; }

// ---------------------------------------------------------------------------------------------
// The operations, each with a way to start it so that it succeeds or fails, the check of its
// value, its error, a piece of the message that error carries, and where it completes when the
// handler has no executor of its own.

struct run_on_op {
  static constexpr char const* name = "async_run_on";
  using value_type = int;
  world& w;
  explicit run_on_op(world& wo) : w(wo) {}
  ai::errc error = ai::errc::bad_option;
  std::string_view text = "asked to fail";
  where fallback = where::cpu;  // `cpu`, the executor the work runs on

  static ai::result<int> work(bool ok) {
    if (ok) return 42;
    return ai::make_error(ai::errc::bad_option, "run_on test: asked to fail");
  }
  template <class Token>
  auto start(bool ok, Token&& token) {
    return ai::async_run_on(w.cpu.get_executor(), [ok] { return work(ok); }, std::forward<Token>(token));
  }
  template <class Token>
  auto start(bool ok, ai::diagnostics& diag, Token&& token) {
    return ai::async_run_on(w.cpu.get_executor(), [ok] { return work(ok); }, diag, std::forward<Token>(token));
  }
  void check(int v) const { EXPECT_EQ(v, 42); }
};

struct open_op {
  static constexpr char const* name = "cache::dataset::async_open";
  using value_type = ai::cache::dataset;
  world& w;
  explicit open_op(world& wo) : w(wo) {}
  ai::errc error = ai::errc::file_not_found;
  std::string_view text = "no-such-cache";  // the message names the folder
  where fallback = where::cpu;

  template <class Token>
  auto start(bool ok, Token&& token) {
    return ai::cache::dataset::async_open(w.cpu.get_executor(), ok ? w.root : w.missing, w.open_options,
                                          std::forward<Token>(token));
  }
  template <class Token>
  auto start(bool ok, ai::diagnostics& diag, Token&& token) {
    return ai::cache::dataset::async_open(w.cpu.get_executor(), ok ? w.root : w.missing, w.open_options, diag,
                                          std::forward<Token>(token));
  }
  void check(ai::cache::dataset const& d) const {
    ASSERT_EQ(d.modules().size(), 1u);
    EXPECT_EQ(d.modules()[0].name, "layers.6");
  }
};

struct load_latent_op {
  static constexpr char const* name = "cache::dataset::async_load_latent";
  using value_type = ai::cache::latent_activations;
  world& w;
  explicit load_latent_op(world& wo) : w(wo) {}
  ai::errc error = ai::errc::latent_out_of_range;
  std::string_view text = "99999";
  where fallback = where::cpu;

  template <class Token>
  auto start(bool ok, Token&& token) {
    return w.data.async_load_latent(w.cpu.get_executor(), w.module, ok ? w.latent : 99999u, std::forward<Token>(token));
  }
  template <class Token>
  auto start(bool ok, ai::diagnostics& diag, Token&& token) {
    return w.data.async_load_latent(w.cpu.get_executor(), w.module, ok ? w.latent : 99999u, diag,
                                    std::forward<Token>(token));
  }
  void check(ai::cache::latent_activations const& a) const {
    EXPECT_EQ(a.size(), w.data.load_latent("layers.6", 69).value().size());
    EXPECT_EQ(a.size(), 31u);  // planted.json's n_activations
  }
};

struct load_tokenizer_op {
  static constexpr char const* name = "tokenizer::async_load_tokenizer";
  using value_type = ai::tokenizer::tokenizer;
  world& w;
  explicit load_tokenizer_op(world& wo) : w(wo) {}
  ai::errc error = ai::errc::file_not_found;
  std::string_view text = "no-such-tokenizer.json";
  where fallback = where::cpu;

  template <class Token>
  auto start(bool ok, Token&& token) {
    return ai::tokenizer::async_load_tokenizer(w.cpu.get_executor(), ok ? w.tokenizer_file : w.missing_tokenizer,
                                               std::forward<Token>(token));
  }
  template <class Token>
  auto start(bool ok, ai::diagnostics& diag, Token&& token) {
    return ai::tokenizer::async_load_tokenizer(w.cpu.get_executor(), ok ? w.tokenizer_file : w.missing_tokenizer, diag,
                                               std::forward<Token>(token));
  }
  void check(ai::tokenizer::tokenizer const& t) const {
    EXPECT_EQ(t.size(), 50257u);
    EXPECT_EQ(t.decode_token(11361).value(), " Python");
  }
};

struct load_record_op {
  static constexpr char const* name = "records::async_load_record";
  using value_type = ai::records::latent_record;
  world& w;
  explicit load_record_op(world& wo) : w(wo) {}
  ai::errc error = ai::errc::latent_out_of_range;
  std::string_view text = "99999";
  where fallback = where::cpu;

  template <class Token>
  auto start(bool ok, Token&& token) {
    return ai::records::async_load_record(w.data, ok ? w.planted : w.past_width, w.record_options, w.tok.get(),
                                          w.cpu.get_executor(), std::forward<Token>(token));
  }
  template <class Token>
  auto start(bool ok, ai::diagnostics& diag, Token&& token) {
    return ai::records::async_load_record(w.data, ok ? w.planted : w.past_width, w.record_options, w.tok.get(),
                                          w.cpu.get_executor(), diag, std::forward<Token>(token));
  }
  void check(ai::records::latent_record const& r) const {
    ASSERT_FALSE(r.train.empty());
    EXPECT_EQ(r.train.size(), w.record.train.size());
    auto const& ex = r.train[0];
    ASSERT_EQ(ex.str_tokens.size(), ex.tokens.size());
    auto strongest = std::max_element(ex.activations.begin(), ex.activations.end()) - ex.activations.begin();
    EXPECT_EQ(ex.str_tokens[static_cast<std::size_t>(strongest)], " Python");
  }
};

struct chat_op {
  static constexpr char const* name = "llm::client::async_chat";
  using value_type = ai::llm::chat_response;
  world& w;
  explicit chat_op(world& wo) : w(wo) {}
  ai::errc error = ai::errc::bad_request;
  std::string_view text = "rejected as invalid";
  where fallback = where::io;  // the client's executor

  template <class Token>
  auto start(bool ok, Token&& token) {
    return w.client.async_chat(ok ? w.hello : w.failing, std::forward<Token>(token));
  }
  template <class Token>
  auto start(bool ok, ai::diagnostics& diag, Token&& token) {
    return w.client.async_chat(ok ? w.hello : w.failing, diag, std::forward<Token>(token));
  }
  void check(ai::llm::chat_response const& r) const {
    EXPECT_EQ(r.text, "hi there");
    EXPECT_EQ(r.attempts, 1u);
  }
};

struct embed_op {
  static constexpr char const* name = "llm::client::async_embed";
  using value_type = ai::llm::embedding_response;
  world& w;
  explicit embed_op(world& wo) : w(wo) {}
  ai::errc error = ai::errc::bad_request;
  std::string_view text = "rejected as invalid";
  where fallback = where::io;  // the client's executor

  template <class Token>
  auto start(bool ok, Token&& token) {
    return w.client.async_embed(ok ? w.texts : w.failing_texts, std::forward<Token>(token));
  }
  template <class Token>
  auto start(bool ok, ai::diagnostics& diag, Token&& token) {
    return w.client.async_embed(ok ? w.texts : w.failing_texts, diag, std::forward<Token>(token));
  }
  void check(ai::llm::embedding_response const& r) const {
    ASSERT_EQ(r.embeddings.size(), 2u);
    EXPECT_EQ(r.embeddings[0], ai::testing::fake_embedding("hello world"));
    EXPECT_EQ(r.embeddings[1], ai::testing::fake_embedding("a second text"));
    EXPECT_EQ(r.attempts, 1u);
  }
};

// `async_explain` of one of the three explainers.
struct explain_op {
  static constexpr char const* name = "explain::explainer::async_explain";
  using value_type = ai::explain::explanation;
  world& w;
  ai::explain::explainer const& explainer;
  explain_op(world& wo, ai::explain::explainer const& x) : w(wo), explainer(x) {}
  ai::errc error = ai::errc::too_few_examples;
  std::string_view text = "empty train sample";
  where fallback = where::io;  // the explainer's executor (for the LLM explainer, its client's)

  template <class Token>
  auto start(bool ok, Token&& token) {
    return explainer.async_explain(ok ? w.record : w.empty_record, std::forward<Token>(token));
  }
  template <class Token>
  auto start(bool ok, ai::diagnostics& diag, Token&& token) {
    return explainer.async_explain(ok ? w.record : w.empty_record, diag, std::forward<Token>(token));
  }
  void check(ai::explain::explanation const& e) const { check_explanation(w, explainer, e); }

  static void check_explanation(world& w, ai::explain::explainer const& x, ai::explain::explanation const& e) {
    if (&x == &w.llm) {
      EXPECT_EQ(e.kind, ai::explain::answer_kind::explained);
      EXPECT_EQ(e.text, "the token \" Python\"");  // what the fake names: the marked token
      EXPECT_EQ(e.attempts, 1u);
    } else if (&x == &w.dry_run) {
      EXPECT_EQ(e.kind, ai::explain::answer_kind::dry_run);
      EXPECT_TRUE(mentions(e.request, "<< Python>>")) << e.request;
    } else {
      EXPECT_EQ(e.kind, ai::explain::answer_kind::explained);
      EXPECT_TRUE(mentions(e.text, "active on \" Python\" (100%)")) << e.text;
    }
  }
};

struct explain_latent_op {
  static constexpr char const* name = "pipeline::async_explain_latent";
  using value_type = ai::explain::explanation;
  world& w;
  ai::explain::explainer const& explainer;
  explain_latent_op(world& wo, ai::explain::explainer const& x) : w(wo), explainer(x) {}
  ai::errc error = ai::errc::latent_out_of_range;
  std::string_view text = "99999";
  where fallback = where::io;  // the explainer's executor

  template <class Token>
  auto start(bool ok, Token&& token) {
    return pl::async_explain_latent(explainer, w.sources, w.record_options, ok ? w.planted : w.past_width,
                                    std::forward<Token>(token));
  }
  template <class Token>
  auto start(bool ok, ai::diagnostics& diag, Token&& token) {
    return pl::async_explain_latent(explainer, w.sources, w.record_options, ok ? w.planted : w.past_width, diag,
                                    std::forward<Token>(token));
  }
  void check(ai::explain::explanation const& e) const { explain_op::check_explanation(w, explainer, e); }
};

// A latent job that only says "explained", for the scheduler.
asio::awaitable<pl::latent_outcome> quick(ai::cache::latent_id id) {
  pl::latent_outcome o;
  o.latent = std::move(id);
  o.status = pl::latent_status::explained;
  co_return o;
}

struct run_op {
  static constexpr char const* name = "pipeline::async_run";
  using value_type = pl::run_summary;
  world& w;
  explicit run_op(world& wo) : w(wo) {}
  std::vector<ai::cache::latent_id> ids = {{"layers.6", 1}, {"layers.6", 2}, {"layers.6", 3}, {"layers.6", 4}};
  pl::run_hooks hooks = quick_hooks();
  pl::run_options good{.max_concurrent = 2}, bad{.max_concurrent = 0};
  ai::errc error = ai::errc::bad_option;
  std::string_view text = "max_concurrent";
  where fallback = where::io;  // the executor given to async_run

  static pl::run_hooks quick_hooks() {
    pl::run_hooks h;
    h.process = quick;
    return h;
  }
  template <class Token>
  auto start(bool ok, Token&& token) {
    return pl::async_run(w.io.get_executor(), ids, hooks, ok ? good : bad, std::forward<Token>(token));
  }
  template <class Token>
  auto start(bool ok, ai::diagnostics& diag, Token&& token) {
    return pl::async_run(w.io.get_executor(), ids, hooks, ok ? good : bad, diag, std::forward<Token>(token));
  }
  void check(pl::run_summary const& s) const {
    EXPECT_EQ(s.explained, 4u);
    EXPECT_EQ(s.stop, pl::stop_reason::completed);
  }
};

// ---------------------------------------------------------------------------------------------
// The forms.

// Inside a coroutine: deferred, use_awaitable, as_tuple of both, diagnostics, with_diagnostics and
// as_result. After every co_await the coroutine is back on its own executor (io).
template <class Op>
void coroutine_forms(world& w, Op& op) {
  using T = typename Op::value_type;
  auto code = ai::make_error_code(op.error);
  in_coroutine(w, [&]() -> asio::awaitable<void> {
    {  // deferred (the default token) and use_awaitable: the value, or a system_error
      T a = co_await op.start(true, asio::deferred);
      op.check(a);
      EXPECT_EQ(here(w), where::io);
      T b = co_await op.start(true, asio::use_awaitable);
      op.check(b);
      EXPECT_EQ(here(w), where::io);
      for (int token = 0; token < 2; ++token) {
        try {
          if (token == 0) (void)co_await op.start(false, asio::deferred);
          else (void)co_await op.start(false, asio::use_awaitable);
          ADD_FAILURE() << "no exception";
        } catch (boost::system::system_error const& e) {
          EXPECT_EQ(e.code(), code) << e.what();
        }
        EXPECT_EQ(here(w), where::io);
      }
    }
    {  // as_tuple: (error_code, value), no exception
      auto [ec, v] = co_await op.start(true, asio::as_tuple(asio::deferred));
      EXPECT_FALSE(ec) << ec.message();
      op.check(v);
      auto [ec2, v2] = co_await op.start(false, asio::as_tuple(asio::use_awaitable));
      EXPECT_EQ(ec2, code);
      EXPECT_EQ(here(w), where::io);
    }
    {  // diagnostics: our message on failure, cleared by the next success
      ai::diagnostics diag;
      auto [ec, v] = co_await op.start(false, diag, asio::as_tuple(asio::use_awaitable));
      EXPECT_EQ(ec, code);
      EXPECT_TRUE(mentions(diag.message, op.text)) << diag.message;
      auto [ec2, v2] = co_await op.start(true, diag, asio::as_tuple(asio::deferred));
      EXPECT_FALSE(ec2);
      op.check(v2);
      EXPECT_TRUE(diag.message.empty()) << diag.message;
    }
    {  // with_diagnostics: an autointerp::exception carrying our message (with or without diag)
      T v = co_await op.start(true, ai::with_diagnostics(asio::use_awaitable));
      op.check(v);
      try {
        (void)co_await op.start(false, ai::with_diagnostics(asio::use_awaitable));
        ADD_FAILURE() << "no exception";
      } catch (ai::exception const& e) {
        EXPECT_TRUE(e.get() == op.error) << e.what();
        EXPECT_TRUE(mentions(e.get().message, op.text)) << e.get().message;
        EXPECT_TRUE(mentions(e.what(), op.text)) << e.what();
      }
      ai::diagnostics diag;
      try {
        (void)co_await op.start(false, diag, ai::with_diagnostics(asio::use_awaitable));
        ADD_FAILURE() << "no exception";
      } catch (ai::exception const& e) {
        EXPECT_EQ(e.get().message, diag.message);
        EXPECT_TRUE(mentions(diag.message, op.text)) << diag.message;
      }
      EXPECT_EQ(here(w), where::io);
    }
    {  // as_result: one result<T>, value or error with its text
      ai::result<T> r = co_await op.start(true, ai::as_result(asio::use_awaitable));
      EXPECT_TRUE(r);
      if (r) op.check(*r);
      ai::result<T> bad = co_await op.start(false, ai::as_result(asio::deferred));
      EXPECT_FALSE(bad);
      if (!bad) {
        EXPECT_TRUE(bad.error() == op.error);
        EXPECT_TRUE(mentions(bad.error().message, op.text)) << bad.error().message;
      }
      EXPECT_EQ(here(w), where::io);
    }
  });
}

// Callbacks: without an associated executor the completion runs on the operation's I/O object's
// executor (`op.fallback`); bound with bind_executor it runs there. Also through with_diagnostics
// and as_result, which must keep the callback's executor.
template <class Op>
void callback_forms(world& w, Op& op) {
  using T = typename Op::value_type;
  auto code = ai::make_error_code(op.error);
  for (bool ok : {true, false}) {
    SCOPED_TRACE(ok ? "succeeding" : "failing");
    {
      seen<T> s;
      ai::diagnostics diag;
      op.start(ok, diag, [&](error_code ec, T v) {
        s.ec = ec;
        s.value = std::move(v);
        s.at = here(w);
        s.done = true;
      });
      run_until(w, s.done);
      ASSERT_TRUE(s.done);
      EXPECT_EQ(s.at, op.fallback) << "a plain callback";
      if (ok) {
        EXPECT_FALSE(s.ec) << diag.message;
        op.check(*s.value);
      } else {
        EXPECT_EQ(s.ec, code);
        EXPECT_TRUE(mentions(diag.message, op.text)) << diag.message;
      }
    }
    {
      seen<T> s;
      op.start(ok, asio::bind_executor(w.other, [&](error_code ec, T v) {
                 s.ec = ec;
                 s.value = std::move(v);
                 s.at = here(w);
                 s.done = true;
               }));
      run_until(w, s.done);
      ASSERT_TRUE(s.done);
      EXPECT_EQ(s.at, where::other) << "a callback bound to another executor";
      EXPECT_EQ(s.ec, ok ? error_code{} : code);
    }
    {
      seen<T> s;
      op.start(ok, ai::as_result(asio::bind_executor(w.other, [&](ai::result<T> r) {
                 s.result = std::move(r);
                 s.at = here(w);
                 s.done = true;
               })));
      run_until(w, s.done);
      ASSERT_TRUE(s.done);
      EXPECT_EQ(s.at, where::other) << "as_result of a bound callback";
      ASSERT_TRUE(s.result);
      EXPECT_EQ(bool(*s.result), ok);
      if (!ok) {
        EXPECT_TRUE(mentions(s.result->error().message, op.text)) << s.result->error().message;
      }
    }
    {
      seen<T> s;
      op.start(ok, ai::with_diagnostics([&](std::exception_ptr e, T v) {
                 s.exception = e;
                 s.value = std::move(v);
                 s.at = here(w);
                 s.done = true;
               }));
      run_until(w, s.done);
      ASSERT_TRUE(s.done);
      EXPECT_EQ(s.at, op.fallback) << "with_diagnostics of a plain callback";
      EXPECT_EQ(bool(s.exception), !ok);
      if (s.exception) {
        try {
          std::rethrow_exception(s.exception);
        } catch (ai::exception const& e) {
          EXPECT_TRUE(mentions(e.get().message, op.text)) << e.get().message;
        } catch (...) {
          ADD_FAILURE() << "not an autointerp::exception";
        }
      }
    }
  }
}

// use_future, with io run by a second thread; the operation is started on io, as the client and
// the scheduler want.
template <class Op>
void future_form(world& w, Op& op) {
  using T = typename Op::value_type;
  with_io_thread(w, [&] {
    for (bool ok : {true, false}) {
      auto started = asio::post(w.io, asio::use_future([&] { return op.start(ok, asio::use_future); }));
      ASSERT_EQ(started.wait_for(safety), std::future_status::ready);
      std::future<T> f = started.get();
      ASSERT_EQ(f.wait_for(safety), std::future_status::ready);
      if (ok) {
        op.check(f.get());
      } else {
        try {
          (void)f.get();
          ADD_FAILURE() << "no exception";
        } catch (boost::system::system_error const& e) {
          EXPECT_EQ(e.code(), ai::make_error_code(op.error));
        }
      }
    }
  });
}

template <class Op>
void every_form(world& w, Op op) {
  SCOPED_TRACE(Op::name);
  coroutine_forms(w, op);
  callback_forms(w, op);
  future_form(w, op);
}

// Terminal cancellation before the work starts completes with errc::cancelled, and the work never
// runs (for the operations built on async_run_on). Partial is not among their types: it is ignored.
template <class Op>
void cancelled_before_start(world& w, Op op) {
  SCOPED_TRACE(Op::name);
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial}) {
    seen<typename Op::value_type> s;
    ai::diagnostics diag;
    asio::cancellation_signal signal;
    {
      cpu_gate gate(w);
      op.start(true, diag, asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, typename Op::value_type v) {
                 s.ec = ec;
                 s.value = std::move(v);
                 s.at = here(w);
                 s.done = true;
               }));
      signal.emit(type);
    }
    run_until(w, s.done);
    ASSERT_TRUE(s.done);
    if (type == asio::cancellation_type::terminal) {
      EXPECT_EQ(s.ec, ai::errc::cancelled) << diag.message;
      EXPECT_TRUE(mentions(diag.message, "cancelled")) << diag.message;
    } else {
      EXPECT_FALSE(s.ec) << "partial is not supported, so it must not cancel: " << diag.message;
      op.check(*s.value);
    }
    EXPECT_EQ(s.at, op.fallback);
  }
}

}  // namespace

// --- every form, per operation ------------------------------------------------------------------

TEST(async_form, async_run_on) {
  world w;
  every_form(w, run_on_op{w});
}
TEST(async_form, dataset_async_open) {
  world w;
  every_form(w, open_op{w});
}
TEST(async_form, dataset_async_load_latent) {
  world w;
  every_form(w, load_latent_op{w});
}
TEST(async_form, async_load_tokenizer) {
  world w;
  every_form(w, load_tokenizer_op{w});
}
TEST(async_form, async_load_record) {
  world w;
  every_form(w, load_record_op{w});
}
TEST(async_form, client_async_chat) {
  world w;
  every_form(w, chat_op{w});
}
TEST(async_form, client_async_embed) {
  world w;
  every_form(w, embed_op{w});
}
TEST(async_form, statistical_explainer_async_explain) {
  world w;
  every_form(w, explain_op{w, w.statistical});
}
TEST(async_form, llm_explainer_async_explain) {
  world w;
  every_form(w, explain_op{w, w.llm});
}
TEST(async_form, dry_run_explainer_async_explain) {
  world w;
  every_form(w, explain_op{w, w.dry_run});
}
TEST(async_form, async_explain_latent_with_each_explainer) {
  world w;
  every_form(w, explain_latent_op{w, w.statistical});
  every_form(w, explain_latent_op{w, w.llm});
  every_form(w, explain_latent_op{w, w.dry_run});
}
TEST(async_form, pipeline_async_run) {
  world w;
  every_form(w, run_op{w});
}

// --- g++ 12: co_await directly on the operations, arguments being variables ---------------------
// g++ 12 destroys some temporaries of a co_await expression twice (a braced `latent_id{...}` or
// `open_options{}` made in the call), which is why the library names its own operations before
// awaiting them. User code must not need that: with lvalue arguments a plain co_await is correct.
// Under AddressSanitizer (CI's build-asan) a double destruction here would abort the test.
TEST(async_form, co_await_directly_with_lvalue_arguments) {
  world w;
  in_coroutine(w, [&]() -> asio::awaitable<void> {
    auto cpu = w.cpu.get_executor();
    auto fn = [] { return ai::result<int>(7); };
    int seven = co_await ai::async_run_on(cpu, fn);
    EXPECT_EQ(seven, 7);
    ai::cache::dataset data = co_await ai::cache::dataset::async_open(cpu, w.root);
    ai::cache::dataset again = co_await ai::cache::dataset::async_open(cpu, w.root, w.open_options);
    EXPECT_EQ(again.modules().size(), data.modules().size());
    ai::cache::latent_activations acts = co_await data.async_load_latent(cpu, w.module, w.latent);
    EXPECT_EQ(acts.size(), 31u);
    ai::tokenizer::tokenizer tok = co_await ai::tokenizer::async_load_tokenizer(cpu, w.tokenizer_file);
    ai::records::latent_record record =
        co_await ai::records::async_load_record(data, w.planted, w.record_options, &tok, cpu);
    EXPECT_EQ(record.train.size(), w.record.train.size());
    ai::llm::chat_response hi = co_await w.client.async_chat(w.hello);
    EXPECT_EQ(hi.text, "hi there");
    ai::llm::embedding_response vectors = co_await w.client.async_embed(w.texts);
    EXPECT_EQ(vectors.embeddings.size(), 2u);
    ai::explain::explanation e = co_await w.llm.async_explain(record);
    EXPECT_EQ(e.text, "the token \" Python\"");
    ai::explain::explanation out = co_await pl::async_explain_latent(w.llm, w.sources, w.record_options, w.planted);
    EXPECT_EQ(out.text, "the token \" Python\"");
    run_op runs{w};
    auto ex = w.io.get_executor();
    pl::run_summary summary = co_await pl::async_run(ex, runs.ids, runs.hooks, runs.good);
    EXPECT_EQ(summary.explained, 4u);
    // The same with diagnostics and an adapted token, still as one expression.
    ai::diagnostics diag;
    auto [ec, failed] = co_await ai::records::async_load_record(data, w.past_width, w.record_options, &tok, cpu, diag,
                                                                asio::as_tuple(asio::deferred));
    EXPECT_EQ(ec, ai::errc::latent_out_of_range);
    EXPECT_TRUE(mentions(diag.message, "99999")) << diag.message;
    ai::explain::explanation thrown =
        co_await pl::async_explain_latent(w.statistical, w.sources, w.record_options, w.planted,
                                          ai::with_diagnostics(asio::use_awaitable));
    EXPECT_EQ(thrown.kind, ai::explain::answer_kind::explained);
  });
}

// --- cancellation -------------------------------------------------------------------------------

TEST(async_form_cancellation, run_on_operations_skip_work_cancelled_before_it_starts) {
  world w;
  cancelled_before_start(w, run_on_op{w});
  cancelled_before_start(w, open_op{w});
  cancelled_before_start(w, load_latent_op{w});
  cancelled_before_start(w, load_tokenizer_op{w});
  cancelled_before_start(w, load_record_op{w});
}

TEST(async_form_cancellation, run_on_work_once_started_runs_to_the_end) {
  world w;
  std::promise<void> running, go_on;
  auto resume = go_on.get_future().share();
  seen<int> s;
  asio::cancellation_signal signal;
  ai::async_run_on(w.cpu.get_executor(),
                   [&running, resume]() -> ai::result<int> {
                     running.set_value();
                     resume.wait();
                     return 42;
                   },
                   asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, int v) {
                     s.ec = ec;
                     s.value = v;
                     s.at = here(w);
                     s.done = true;
                   }));
  running.get_future().wait();
  signal.emit(asio::cancellation_type::terminal);
  go_on.set_value();
  run_until(w, s.done);
  ASSERT_TRUE(s.done);
  EXPECT_FALSE(s.ec);
  EXPECT_EQ(s.value, 42);
  EXPECT_EQ(s.at, where::cpu);
}

// The fake LLM hangs on every request; the cancellation is emitted once the request has arrived
// (posted from the server's handler, on io, so it lands while the call waits for its answer).
template <class Start>
void cancel_a_hanging_call(world& w, asio::cancellation_type type, Start start) {
  // Shared with the completion, so that an operation that outlives a failed test never refers to
  // a signal that is gone.
  auto signal = std::make_shared<asio::cancellation_signal>();
  std::size_t arrived = 0;
  w.server.set_handler([&, signal](fake_request const&) {
    ++arrived;
    asio::post(w.io, [signal, type] { signal->emit(type); });
    return fake_reply::failure(fake_reply::action::hang);
  });
  auto s = std::make_shared<seen<int>>();  // the value is not looked at
  ai::diagnostics diag;
  start(diag, asio::bind_cancellation_slot(signal->slot(), [&w, s, signal](error_code ec, auto&&) {
          s->ec = ec;
          s->at = here(w);
          s->done = true;
        }));
  run_until(w, s->done);
  w.server.set_handler(answer);
  ASSERT_TRUE(s->done) << "the call was not cancelled";
  EXPECT_EQ(arrived, 1u);
  EXPECT_EQ(s->ec, ai::errc::cancelled) << diag.message;
  EXPECT_TRUE(mentions(diag.message, "cancelled")) << diag.message;
  EXPECT_EQ(s->at, where::io);
}

TEST(async_form_cancellation, chat_terminal_and_partial_abort_a_call_the_server_never_answers) {
  world w;
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial}) {
    SCOPED_TRACE(type == asio::cancellation_type::terminal ? "terminal" : "partial");
    cancel_a_hanging_call(w, type, [&](ai::diagnostics& diag, auto token) { w.client.async_chat(w.hello, diag, token); });
  }
  // The client still works afterwards.
  in_coroutine(w, [&]() -> asio::awaitable<void> {
    ai::llm::chat_response r = co_await w.client.async_chat(w.hello);
    EXPECT_EQ(r.text, "hi there");
  });
}

TEST(async_form_cancellation, embed_terminal_and_partial_abort_a_call_the_server_never_answers) {
  world w;
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial}) {
    SCOPED_TRACE(type == asio::cancellation_type::terminal ? "terminal" : "partial");
    cancel_a_hanging_call(w, type, [&](ai::diagnostics& diag, auto token) { w.client.async_embed(w.texts, diag, token); });
  }
  in_coroutine(w, [&]() -> asio::awaitable<void> {
    ai::llm::embedding_response r = co_await w.client.async_embed(w.texts);
    EXPECT_EQ(r.embeddings.size(), 2u);
  });
}

// `total` is not supported: a request already written may have been processed. The answer comes
// 50 ms after the request; the signal is emitted as soon as the request arrives.
template <class Op>
void ignores_total_cancellation(world& w, Op op) {
  SCOPED_TRACE(Op::name);
  asio::cancellation_signal signal;
  w.server.set_handler([&](fake_request const& r) {
    asio::post(w.io, [&signal] { signal.emit(asio::cancellation_type::total); });
    return answer(r).after(50ms);
  });
  seen<typename Op::value_type> s;
  op.start(true, asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, typename Op::value_type r) {
             s.ec = ec;
             s.value = std::move(r);
             s.done = true;
           }));
  run_until(w, s.done);
  w.server.set_handler(answer);
  ASSERT_TRUE(s.done);
  EXPECT_FALSE(s.ec) << s.ec.message();
  op.check(*s.value);
}

TEST(async_form_cancellation, chat_ignores_total_cancellation) {
  world w;
  ignores_total_cancellation(w, chat_op{w});
}

TEST(async_form_cancellation, embed_ignores_total_cancellation) {
  world w;
  ignores_total_cancellation(w, embed_op{w});
}

TEST(async_form_cancellation, llm_explainer_terminal_and_partial_abort_the_call) {
  world w;
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial}) {
    SCOPED_TRACE(type == asio::cancellation_type::terminal ? "terminal" : "partial");
    cancel_a_hanging_call(w, type, [&](ai::diagnostics& diag, auto token) { w.llm.async_explain(w.record, diag, token); });
  }
}

TEST(async_form_cancellation, explain_latent_terminal_and_partial_abort_the_llm_call) {
  world w;
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial}) {
    SCOPED_TRACE(type == asio::cancellation_type::terminal ? "terminal" : "partial");
    cancel_a_hanging_call(w, type, [&](ai::diagnostics& diag, auto token) {
      pl::async_explain_latent(w.llm, w.sources, w.record_options, w.planted, diag, token);
    });
  }
}

TEST(async_form_cancellation, explain_latent_terminal_before_the_record_is_built_skips_it_and_the_call) {
  world w;
  seen<ai::explain::explanation> s;
  ai::diagnostics diag;
  asio::cancellation_signal signal;
  {
    cpu_gate gate(w);  // the record's CPU work cannot start before the signal
    pl::async_explain_latent(w.llm, w.sources, w.record_options, w.planted, diag,
                             asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, ai::explain::explanation) {
                               s.ec = ec;
                               s.at = here(w);
                               s.done = true;
                             }));
    w.io.restart();
    w.io.poll();  // the operation's coroutine starts on io and hands the record's work to cpu
    signal.emit(asio::cancellation_type::terminal);
    w.io.poll();  // the signal reaches the coroutine (through io) before the work may start
  }
  run_until(w, s.done);
  ASSERT_TRUE(s.done);
  EXPECT_EQ(s.ec, ai::errc::cancelled) << diag.message;
  EXPECT_TRUE(mentions(diag.message, "before the work started")) << diag.message;  // the record's work was skipped
  EXPECT_EQ(s.at, where::io);
  EXPECT_EQ(w.server.requests(), 0u);
}

TEST(async_form_cancellation, explain_latent_terminal_while_the_record_is_built_is_cancelled_not_internal) {
  // The record's CPU work has finished (its completion is queued on io) when terminal arrives:
  // the operation must complete with errc::cancelled and make no LLM call.
  world w;
  seen<ai::explain::explanation> s;
  ai::diagnostics diag;
  asio::cancellation_signal signal;
  cpu_gate one(w, 1);  // one cpu thread held: the other runs cpu's work in order
  pl::async_explain_latent(w.llm, w.sources, w.record_options, w.planted, diag,
                           asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, ai::explain::explanation) {
                             s.ec = ec;
                             s.done = true;
                           }));
  // Runs on io after the operation's coroutine has handed the record's work to cpu, and before
  // that work's completion (queued on io behind this) resumes the coroutine.
  asio::post(w.io, [&] {
    wait_for_cpu_queue(w);
    signal.emit(asio::cancellation_type::terminal);
  });
  run_until(w, s.done);
  one.release();
  ASSERT_TRUE(s.done);
  EXPECT_EQ(s.ec, ai::errc::cancelled) << diag.message;
  EXPECT_TRUE(mentions(diag.message, "while its record was built")) << diag.message;
  EXPECT_EQ(w.server.requests(), 0u);
}

// The scheduler: latents that wait until released (or cancelled); once `max_concurrent` of them
// are in flight the test's signal is emitted.
struct waiting_latents {
  world& w;
  asio::cancellation_signal signal;
  asio::cancellation_type type;
  std::vector<asio::steady_timer*> waiting;
  std::size_t started = 0;

  pl::run_hooks hooks() {
    pl::run_hooks h;
    h.process = [this](ai::cache::latent_id id) -> asio::awaitable<pl::latent_outcome> {
      asio::steady_timer release(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
      waiting.push_back(&release);
      if (++started == 2) asio::post(w.io, [this] { emit_then_release(); });
      (void)co_await release.async_wait(asio::as_tuple(asio::use_awaitable));
      pl::latent_outcome o;
      o.latent = std::move(id);
      auto cs = co_await asio::this_coro::cancellation_state;
      o.status = cs.cancelled() == asio::cancellation_type::none ? pl::latent_status::explained : pl::latent_status::failed;
      co_return o;
    };
    return h;
  }
  void emit_then_release() {
    signal.emit(type);
    if (type != asio::cancellation_type::terminal)  // drained latents finish: let them
      for (auto* t : waiting) t->cancel();
  }
};

TEST(async_form_cancellation, run_partial_and_total_drain_terminal_cancels) {
  for (auto type : {asio::cancellation_type::partial, asio::cancellation_type::total, asio::cancellation_type::terminal}) {
    world w;
    waiting_latents latents{w, {}, type, {}, 0};
    std::vector<ai::cache::latent_id> ids;
    for (std::uint32_t i = 0; i < 10; ++i) ids.push_back({"layers.6", i});
    pl::run_options const two{.max_concurrent = 2};
    seen<pl::run_summary> s;
    pl::async_run(w.io.get_executor(), ids, latents.hooks(), two,
                  asio::bind_cancellation_slot(latents.signal.slot(), [&](error_code ec, pl::run_summary r) {
                    s.ec = ec;
                    s.value = r;
                    s.at = here(w);
                    s.done = true;
                  }));
    run_until(w, s.done);
    ASSERT_TRUE(s.done);
    EXPECT_FALSE(s.ec);
    EXPECT_EQ(s.at, where::io);
    EXPECT_EQ(s.value->processed(), 2u) << "no latent may start after the signal";
    if (type == asio::cancellation_type::terminal) {
      EXPECT_EQ(s.value->stop, pl::stop_reason::cancelled);
      EXPECT_EQ(s.value->failed, 2u);  // both saw the cancellation
    } else {
      EXPECT_EQ(s.value->stop, pl::stop_reason::drained);
      EXPECT_EQ(s.value->explained, 2u);  // both finished normally
    }
  }
}
