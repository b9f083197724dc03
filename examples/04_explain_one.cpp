// 04_explain_one: the smallest program that co_awaits one latent's explanation.
//   04_explain_one CACHE MODULE LATENT [TOKENIZER_JSON]
// With OPENROUTER_API_KEY set an LLM explains; without, the statistical baseline does.
//
// An explainer is an object with one operation, `async_explain` (record in, explanation out); the
// SDK has three (statistical, LLM, dry run). pipeline::async_explain_latent builds the record (02)
// and asks the explainer, in one `co_await`.
#include <autointerp/cache/dataset.hpp>
#include <autointerp/explain/llm_explainer.hpp>
#include <autointerp/explain/statistical_explainer.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/pipeline/explain_latent.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>
#include <autointerp/with_diagnostics.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <iostream>
#include <memory>
#include <optional>

namespace asio = boost::asio;
using namespace autointerp;

asio::awaitable<int> print_explanation(explain::explainer const& explainer, pipeline::job_sources const& sources,
                                       records::load_options const& options, cache::latent_id const& id) {
  // with_diagnostics: a failure throws autointerp::exception with our message and the server's text.
  auto out = co_await pipeline::async_explain_latent(explainer, sources, options, id,
                                                     with_diagnostics(asio::use_awaitable));
  std::cout << id.module << " latent " << id.index << ": " << (out.text.empty() ? out.raw_answer : out.text) << "\n";
  co_return out.kind == explain::answer_kind::explained ? 0 : 1;
}

int main(int argc, char** argv) try {
  if (argc < 4) return std::cerr << "usage: 04_explain_one CACHE MODULE LATENT [TOKENIZER_JSON]\n", 2;
  asio::io_context io;
  asio::thread_pool cpu(2);  // decompression and record building run here, not on io
  pipeline::job_sources sources{.data = cache::dataset::open(argv[1]).value(),  // .value() throws on error
                                .tokens = nullptr,
                                .cpu = cpu.get_executor()};
  if (argc > 4) sources.tokens = std::make_shared<tokenizer::tokenizer const>(tokenizer::load_tokenizer(argv[4]).value());
  records::load_options options{.records = {.min_examples = 1}, .neighbours = nullptr};

  std::optional<llm::client> client;
  std::unique_ptr<explain::explainer> explainer;
  if (auto endpoint = llm::openrouter()) {
    llm::client_options co;
    co.endpoint = *endpoint;
    client.emplace(io.get_executor(), std::move(co));
    explain::llm_explainer_options eo;
    eo.model = "openai/gpt-4o-mini";
    explainer = std::make_unique<explain::llm_explainer>(*client, std::move(eo));
  } else {
    explainer = std::make_unique<explain::statistical_explainer>(io.get_executor());
  }
  cache::latent_id id{argv[2], static_cast<std::uint32_t>(std::stoul(argv[3]))};
  auto result = asio::co_spawn(io, print_explanation(*explainer, sources, options, id), asio::use_future);
  io.run();
  return result.get();
} catch (std::exception const& e) {
  std::cerr << "04_explain_one: " << e.what() << "\n";
  return 2;
}
