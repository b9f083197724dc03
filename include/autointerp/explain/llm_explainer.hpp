#pragma once
// The LLM explainer: a prompt from the record, one chat call, the answer's explanation line.

#include <autointerp/error.hpp>
#include <autointerp/explain/build_prompt.hpp>
#include <autointerp/explain/explainer.hpp>
#include <autointerp/explain/explainer_options.hpp>
#include <autointerp/explain/parse_answer.hpp>
#include <autointerp/explain/prompt.hpp>
#include <autointerp/llm/chat_request.hpp>
#include <autointerp/llm/client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace autointerp::explain {

/// What an LLM explainer asks and how. Plain aggregate.
struct llm_explainer_options {
  explainer_options prompt;                 ///< which prompt, highlighting, levels, reasoning
  std::string model;                        ///< model name sent with each request
  std::optional<std::uint32_t> max_tokens;  ///< answer length cap; unset = the server's default
  std::optional<double> temperature;        ///< unset = the server's default
};

/// The request an LLM explainer sends for `record`. Errors: those of `build_prompt`.
inline result<llm::chat_request> explanation_request(records::latent_record const& record,
                                                     llm_explainer_options const& options) {
  if (auto e = empty_train_error(record)) return *e;
  auto p = build_prompt(record, options.prompt);
  if (!p) return p.error();
  auto request = to_request(std::move(*p), options.model);
  request.max_tokens = options.max_tokens;
  request.temperature = options.temperature;
  request.tag = llm::call_tag{record.latent.module, record.latent.index, "explain", 0, 0};
  return request;
}

/// Asks an LLM through `client`: the prompt of `options.prompt.kind`, one call (the client
/// retries), then the answer's last `[EXPLANATION]:` line. An answer without one is not an
/// error: it completes with `answer_kind::unparsed` and the raw text.
class llm_explainer final : public explainer {
 public:
  /// `client` must outlive the explainer; operations run on its executor.
  llm_explainer(llm::client& client, llm_explainer_options options) : client_(&client), options_(std::move(options)) {}

  executor_type get_executor() const noexcept override { return client_->get_executor(); }
  bool calls_llm() const noexcept override { return true; }
  llm_explainer_options const& options() const noexcept { return options_; }

 protected:
  boost::asio::awaitable<autointerp::detail::partial_result<explanation>> explain(records::latent_record const& record) const override {
    using partial = autointerp::detail::partial_result<explanation>;
    explanation out;
    auto request = explanation_request(record, options_);
    if (!request) co_return partial{std::move(out), request.error()};
    diagnostics diag;
    auto call = client_->async_chat(*request, diag, boost::asio::as_tuple(boost::asio::use_awaitable));
    auto [ec, answer] = co_await std::move(call);
    out.attempts = answer.attempts;
    if (ec) co_return partial{std::move(out), diag.to_error(ec)};
    out.usage = llm::accounted(answer.usage);
    auto parsed = parse_answer(answer.text);
    if (parsed.parsed) {
      out.text = std::move(parsed.explanation);
    } else {
      out.kind = answer_kind::unparsed;
      out.raw_answer = std::move(answer.text);
    }
    co_return partial{std::move(out), std::nullopt};
  }

 private:
  llm::client* client_;
  llm_explainer_options options_;
};

}  // namespace autointerp::explain
