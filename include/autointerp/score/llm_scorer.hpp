#pragma once
// The LLM scorer: a latent's samples cut into batches, every batch one concurrent chat call (the
// client bounds how many run at once), answers parsed, unparsable answers asked again.

#include <autointerp/error.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/score/ask_all.hpp>
#include <autointerp/score/build_samples.hpp>
#include <autointerp/score/parse_scoring_answer.hpp>
#include <autointerp/score/scorer.hpp>
#include <autointerp/score/scoring_prompt.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::score {

/// What an LLM scorer asks and how. Plain aggregate.
struct llm_scorer_options {
  scoring_options scoring;                  ///< samples, batches, highlights, logprobs
  std::string model;                        ///< model name sent with each request
  std::optional<std::uint32_t> max_tokens;  ///< answer length cap; unset = the server's default
  std::optional<double> temperature;        ///< unset = the server's default
  /// Answers without a list of the right length are asked again this many times (delphi asks once
  /// and gives up); after that the batch's predictions are null.
  unsigned retries = 2;

  /// Sets the generation settings above (`max_tokens`, `temperature`) on `r`; the prompt
  /// builders set the model and messages.
  void apply_generation(llm::chat_request& r) const {
    r.max_tokens = max_tokens;
    r.temperature = temperature;
  }
};

/// Scores with an LLM through `client` (which must outlive the scorer). All batches of a latent
/// are in flight at once; the client's `limits.max_in_flight` is the one bound across latents.
/// A call that fails after the client's retries (a fatal one such as 401 or 402 among them) fails
/// the latent's scoring with that error, so nothing partial is saved and a resumed run asks again;
/// a batch whose answers never parse keeps null predictions. A batch whose answer parsed is never
/// asked again.
class llm_scorer final : public scorer {
 public:
  llm_scorer(llm::client& client, scorer_kind kind, llm_scorer_options options)
      : client_(&client), kind_(kind), options_(std::move(options)) {}

  std::string_view name() const noexcept override { return scorer_name(kind_); }
  executor_type get_executor() const noexcept override { return client_->get_executor(); }
  bool calls_llm() const noexcept override { return true; }

  /// The request for one batch (also what a dry run would send).
  llm::chat_request request_for(std::string_view explanation, std::span<score_sample const> batch) const {
    auto r = build_scoring_request(kind_, explanation, batch, options_.scoring, options_.model);
    options_.apply_generation(r);
    return r;
  }

 protected:
  boost::asio::awaitable<autointerp::detail::partial_result<score_result>> score(records::latent_record const& record,
                                                                                 std::string_view explanation) const override {
    using partial = autointerp::detail::partial_result<score_result>;
    score_result out;
    auto samples = build_samples(record, kind_, options_.scoring);
    if (!samples) co_return partial{std::move(out), samples.error()};
    out.samples = std::move(*samples);
    auto batches = split_batches(out.samples);
    out.batches = batches.size();
    std::vector<llm::chat_request> requests;
    requests.reserve(batches.size());
    for (auto const& b : batches) requests.push_back(request_for(explanation, b));
    bool const logprobs = options_.scoring.logprobs;
    ask_options ask;
    ask.retries = options_.retries;
    ask.tag = llm::call_tag{record.latent.module, record.latent.index, std::string(name()), 0, 0};
    ask.describe_unparsed = [&](std::size_t i) {
      return "a " + std::string(scorer_name(kind_)) + " batch's answers had no list of " +
             std::to_string(batches[i].size()) + " 0/1 values";
    };
    auto asked = co_await ask_all(
        *client_, requests,
        [&](std::size_t i, llm::chat_response const& response) {
          auto answer = parse_scoring_answer(response.text, batches[i].size(),
                                             logprobs ? std::span<llm::token_logprob const>(response.logprobs)
                                                      : std::span<llm::token_logprob const>());
          apply_answer(batches[i], answer);
          return answer.parsed;
        },
        std::move(ask));
    co_return finish_scoring(std::move(out), std::move(asked));
  }

 private:
  llm::client* client_;
  scorer_kind kind_;
  llm_scorer_options options_;
};

}  // namespace autointerp::score
