// 03_chat_with_retries: one chat completion through llm::client, with retry settings, and a failure
// explained through `diagnostics`.
//   AUTOINTERP_BASE_URL=http://127.0.0.1:8000/v1 03_chat_with_retries [PROMPT]   (any OpenAI-compatible server)
//   OPENROUTER_API_KEY=sk-or-... 03_chat_with_retries [PROMPT]
// With neither set it says so and exits 0.
//
// An operation's error_code says what kind of failure it was; `diagnostics`, passed before the
// token, receives our one-line message (endpoint, status, what to do) and, apart from it, what the
// server said. `as_tuple` turns the completion into (error_code, value) instead of an exception.
#include <autointerp/llm/client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

namespace asio = boost::asio;
using namespace autointerp;
using namespace std::chrono_literals;

asio::awaitable<int> ask(llm::client& client, llm::chat_request request) {
  diagnostics diag;
  auto [ec, answer] = co_await client.async_chat(request, diag, asio::as_tuple(asio::deferred));
  if (ec) {
    std::cout << "failed after " << answer.attempts << " attempt(s) [" << ec.message() << "]: " << diag.message << "\n";
    if (!diag.remote.empty()) std::cout << "the server said: " << diag.remote << "\n";
    co_return 1;
  }
  std::cout << "answer after " << answer.attempts << " attempt(s): " << answer.text << "\n";
  co_return 0;
}

int main(int argc, char** argv) try {
  llm::client_options options;
  std::string model = "openai/gpt-4o-mini";
  if (char const* url = std::getenv("AUTOINTERP_BASE_URL"); url && *url) {
    options.endpoint = llm::local(url);
    model = "default";  // local servers serve the model they loaded
  } else if (auto openrouter = llm::openrouter()) {
    options.endpoint = *openrouter;
  } else {
    std::cout << "no LLM configured: set AUTOINTERP_BASE_URL (an OpenAI-compatible server, e.g. "
                 "http://127.0.0.1:8000/v1) or OPENROUTER_API_KEY\n";
    return 0;
  }
  options.retry.max_attempts = 4;    // the first attempt and up to three retries
  options.retry.base_delay = 100ms;  // full-jitter backoff: waits of up to 100, 200, 400 ms ...
  options.retry.max_backoff = 2s;    // ... never more than this
  options.timeouts.request = 60s;    // writing the request and reading the whole answer
  options.on_retry = [](llm::retry_event const& e) {
    std::cout << "attempt " << e.attempt << " failed (" << e.error.message << "); retrying in " << e.delay.count()
              << " ms\n";
  };

  asio::io_context io;
  llm::client client(io.get_executor(), std::move(options));  // one pool and retry budget for all calls
  llm::chat_request request;
  request.model = model;
  request.max_tokens = 200;
  request.messages = {{"system", "You answer in one sentence."},
                      {"user", argc > 1 ? argv[1] : "What is a latent of a sparse autoencoder?"}};
  auto code = asio::co_spawn(io, ask(client, std::move(request)), asio::use_future);
  io.run();
  return code.get();
} catch (std::exception const& e) {
  std::cerr << "03_chat_with_retries: " << e.what() << "\n";
  return 2;
}
