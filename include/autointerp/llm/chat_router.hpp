#pragma once
// A chat router: takes over a client's chat calls and answers them some other way than one HTTP
// request each (the OpenAI Batch API gathers them into batch files). The client still admits each
// call against its spending budget and prices the answer.

#include <autointerp/error.hpp>
#include <autointerp/llm/chat_request.hpp>
#include <autointerp/llm/chat_response.hpp>

#include <boost/asio/awaitable.hpp>

namespace autointerp::llm {

/// The interface of a router. `route` runs on the client's executor; terminal cancellation of the
/// calling coroutine reaches it. A failed call's error says what failed and what to do.
class chat_router {
 public:
  chat_router() = default;
  chat_router(chat_router const&) = delete;
  chat_router& operator=(chat_router const&) = delete;
  virtual ~chat_router() = default;

  virtual boost::asio::awaitable<result<chat_response>> route(chat_request request) = 0;
};

}  // namespace autointerp::llm
