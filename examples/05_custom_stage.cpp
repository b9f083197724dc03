// 05_custom_stage: a stage of your own after the explain stage, both run as a job under the
// scheduler, and a partial cancellation after N latents that drains the run.
//   05_custom_stage CACHE TOKENIZER_JSON OUT [N]
//
// A job (pipeline::make_job) builds each latent's record once and runs its stages in order; the
// run store writes each stage's files, then its run.jsonl line. pipeline::async_run schedules the
// latents, a few at a time. Cancellation: `partial` drains (no new latent starts, those in flight
// finish and are written), `terminal` also cancels the latents in flight.
#include <autointerp/cache/dataset.hpp>
#include <autointerp/explain/statistical_explainer.hpp>
#include <autointerp/pipeline/explain_stage.hpp>
#include <autointerp/pipeline/job.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <iostream>
#include <vector>

namespace asio = boost::asio;
using namespace autointerp;

// Counts which token is the strongest of each train example: top_tokens/<module>_latent<i>.json.
class top_tokens_stage final : public pipeline::stage {
 public:
  std::string_view name() const noexcept override { return "top_tokens"; }
  static std::filesystem::path file(cache::latent_id const& id) {
    return std::filesystem::path("top_tokens") / (pipeline::run_store::stem(id) + ".json");
  }
  bool finished(pipeline::run_store const& store, cache::latent_id const& id) const override {
    return store.has_file(file(id));  // resume: the file is the proof
  }
  asio::awaitable<pipeline::stage_outcome> run(pipeline::latent_work& work) const override {
    boost::json::object counts;
    for (auto const& ex : work.record.train) {
      auto i = std::max_element(ex.activations.begin(), ex.activations.end()) - ex.activations.begin();
      auto& n = counts[ex.str_tokens.at(i)];
      n = n.is_null() ? 1 : n.as_int64() + 1;
    }
    pipeline::stage_outcome out;
    out.status = pipeline::latent_status::scored;  // anything else would end the latent's chain
    out.files.push_back({file(work.latent), boost::json::serialize(counts)});
    co_return out;
  }
};

int main(int argc, char** argv) try {
  if (argc < 4) return std::cerr << "usage: 05_custom_stage CACHE TOKENIZER_JSON OUT [N]\n", 2;
  std::size_t const drain_after = argc > 4 ? std::stoul(argv[4]) : 10;
  asio::io_context io;
  asio::thread_pool cpu(2);
  pipeline::job_sources sources{.data = cache::dataset::open(argv[1]).value(),
                                .tokens = std::make_shared<tokenizer::tokenizer const>(tokenizer::load_tokenizer(argv[2]).value()),
                                .cpu = cpu.get_executor()};
  explain::statistical_explainer explainer(io.get_executor());
  pipeline::stage_list stages{std::make_shared<pipeline::explain_stage>(explainer), std::make_shared<top_tokens_stage>()};
  pipeline::job_options options;
  options.out = argv[3];
  options.records.records.min_examples = 1;
  std::vector<cache::latent_id> latents;
  for (std::uint32_t i = 0; i < 2048; ++i) latents.push_back({"layers.6", i});
  pipeline::job job = pipeline::make_job(sources, options, stages, latents.size()).value();

  asio::cancellation_signal stop;  // a Ctrl-C handler would emit this; here a count of finished latents does
  std::size_t finished = 0;
  job.hooks.on_finished = [&, counted = job.hooks.on_finished](pipeline::latent_outcome const& o) {
    counted(o);  // the job's own bookkeeping (progress, write errors) first
    if (++finished == drain_after) stop.emit(asio::cancellation_type::partial);
  };
  pipeline::run_options const concurrency{.max_concurrent = 4};  // a variable: see the note in 01
  auto run = [&]() -> asio::awaitable<pipeline::run_summary> {  // the lambda outlives io.run()
    co_return co_await pipeline::async_run(io.get_executor(), latents, job.hooks, concurrency,
                                           asio::bind_cancellation_slot(stop.slot(), asio::use_awaitable));
  };
  auto summary = asio::co_spawn(io, run(), asio::use_future);
  io.run();
  pipeline::run_summary s = summary.get();
  bool const drained = s.stop == pipeline::stop_reason::drained;
  std::cout << (drained ? "drained" : "not drained") << " after " << s.processed() << " of " << latents.size()
            << " latents: " << s.explained << " explained, " << s.skipped << " skipped, " << s.failed << " failed\n";
  return drained ? 0 : 1;
} catch (std::exception const& e) {
  std::cerr << "05_custom_stage: " << e.what() << "\n";
  return 1;
}
