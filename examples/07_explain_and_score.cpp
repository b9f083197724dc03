// 07_explain_and_score: one latent explained, then scored by detection and fuzzing, from C++.
//   07_explain_and_score CACHE MODULE LATENT [TOKENIZER_JSON]
// With OPENROUTER_API_KEY (or AUTOINTERP_BASE_URL naming a local OpenAI-compatible server) an LLM
// explains and scores; without, the statistical baseline explains and the keyword baseline scores.
#include <autointerp/cache/dataset.hpp>
#include <autointerp/explain/llm_explainer.hpp>
#include <autointerp/explain/statistical_explainer.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/records/load_record.hpp>
#include <autointerp/score/keyword_scorer.hpp>
#include <autointerp/score/llm_scorer.hpp>
#include <autointerp/score/metrics.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>
#include <autointerp/with_diagnostics.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

namespace asio = boost::asio;
using namespace autointerp;

struct tools {
  std::unique_ptr<explain::explainer> explainer;
  std::vector<std::unique_ptr<score::scorer>> scorers;
};

asio::awaitable<int> explain_and_score(tools const& t, cache::dataset const& data, tokenizer::tokenizer const* tok,
                                       asio::thread_pool::executor_type cpu, cache::latent_id const& id) {
  records::load_options options;
  options.records.min_examples = 1;  // the sample's latents are small
  auto const token = with_diagnostics(asio::use_awaitable);  // failures throw with our message
  auto record = co_await records::async_load_record(data, id, options, tok, cpu, token);
  auto explanation = co_await t.explainer->async_explain(record, token);
  std::cout << id.module << " latent " << id.index << ": " << explanation.text << "\n";
  for (auto const& scorer : t.scorers) {
    auto scored = co_await scorer->async_score(record, explanation.text, token);
    auto m = score::compute_latent_metrics(scored.samples);
    std::cout << "  " << scorer->name() << ": balanced accuracy "
              << (m.balanced_accuracy ? std::to_string(*m.balanced_accuracy) : std::string("n/a")) << " over "
              << scored.samples.size() << " samples in " << scored.batches << " prompts\n";
  }
  co_return 0;
}

int main(int argc, char** argv) try {
  if (argc < 4) return std::cerr << "usage: 07_explain_and_score CACHE MODULE LATENT [TOKENIZER_JSON]\n", 2;
  asio::io_context io;
  asio::thread_pool cpu(2);
  auto data = cache::dataset::open(argv[1]).value();
  std::optional<tokenizer::tokenizer> tok;
  if (argc > 4) tok = tokenizer::load_tokenizer(argv[4]).value();

  std::optional<llm::endpoint> endpoint;
  if (char const* url = std::getenv("AUTOINTERP_BASE_URL"); url && *url) endpoint = llm::local(url);
  else if (auto openrouter = llm::openrouter()) endpoint = *openrouter;
  std::optional<llm::client> client;
  tools t;
  if (endpoint) {
    llm::client_options co;
    co.endpoint = *endpoint;
    client.emplace(io.get_executor(), std::move(co));
    std::string const model = std::getenv("AUTOINTERP_BASE_URL") ? "default" : "openai/gpt-4o-mini";
    explain::llm_explainer_options eo;
    eo.model = model;
    t.explainer = std::make_unique<explain::llm_explainer>(*client, eo);
    for (auto kind : {score::scorer_kind::detection, score::scorer_kind::fuzz}) {
      score::llm_scorer_options so;
      so.model = model;
      t.scorers.push_back(std::make_unique<score::llm_scorer>(*client, kind, so));
    }
  } else {
    t.explainer = std::make_unique<explain::statistical_explainer>(io.get_executor());
    for (auto kind : {score::scorer_kind::detection, score::scorer_kind::fuzz})
      t.scorers.push_back(std::make_unique<score::keyword_scorer>(io.get_executor(), kind));
  }
  cache::latent_id const id{argv[2], static_cast<std::uint32_t>(std::stoul(argv[3]))};
  auto done = asio::co_spawn(io, explain_and_score(t, data, tok ? &*tok : nullptr, cpu.get_executor(), id), asio::use_future);
  io.run();
  return done.get();
} catch (std::exception const& e) {
  std::cerr << "07_explain_and_score: " << e.what() << "\n";
  return 2;
}
