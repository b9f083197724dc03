// explain_one: the smallest program that co_awaits one latent's explanation.
//   explain_one CACHE MODULE LATENT [TOKENIZER_JSON]
// With OPENROUTER_API_KEY set an LLM explains; without, the statistical baseline does.
#include <autointerp/cache/dataset.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/pipeline/explain_latent.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>

#include <iostream>

namespace asio = boost::asio;
using namespace autointerp;

asio::awaitable<int> print_explanation(pipeline::explain_context const& ctx, cache::latent_id id) {
  auto op = pipeline::explain_latent(ctx, id);  // (made apart from co_await: works around a g++ 12 bug)
  pipeline::latent_outcome out = co_await std::move(op);
  if (out.error) std::cerr << out.error->what() << "\n";
  std::cout << id.module << " latent " << id.index << ": " << out.explanation << "\n";
  co_return out.status == pipeline::latent_status::explained ? 0 : 1;
}

int main(int argc, char** argv) try {
  if (argc < 4) return std::cerr << "usage: explain_one CACHE MODULE LATENT [TOKENIZER_JSON]\n", 2;
  asio::io_context io;
  asio::thread_pool cpu(2);  // decompression and record building run here, not on io
  pipeline::explain_context ctx;
  ctx.data = cache::dataset::open(argv[1]).value();  // .value() throws autointerp::exception on error
  if (argc > 4) ctx.tokens = std::make_shared<tokenizer::tokenizer const>(tokenizer::load_tokenizer(argv[4]).value());
  ctx.cpu = cpu.get_executor();
  ctx.records.min_examples = 1;
  std::optional<llm::client> client;
  if (auto endpoint = llm::openrouter()) {
    llm::client_options options;
    options.endpoint = *endpoint;
    client.emplace(io.get_executor(), std::move(options));
    ctx.backend = pipeline::explainer_backend::llm;
    ctx.client = &*client;
    ctx.model = "openai/gpt-4o-mini";
  }
  cache::latent_id id{argv[2], static_cast<std::uint32_t>(std::stoul(argv[3]))};
  auto result = asio::co_spawn(io, print_explanation(ctx, id), asio::use_future);
  io.run();
  return result.get();
} catch (std::exception const& e) {
  std::cerr << "explain_one: " << e.what() << "\n";
  return 2;
}
