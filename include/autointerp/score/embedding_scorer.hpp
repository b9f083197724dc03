#pragma once
// The embedding scorer: a cheap score that needs only an embedding model. The explanation (behind
// an instruction prefix) is the query, the examples' texts are the documents, and each example's
// score is the cosine similarity of the two; a latent's figure is the ROC AUC of that similarity,
// activating against not.

#include <autointerp/error.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/llm/embedding.hpp>
#include <autointerp/score/build_samples.hpp>
#include <autointerp/score/scorer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::score {

/// delphi's query instruction for embedding models trained with instructions (E5, GTE and the
/// like); the explanation follows it directly.
inline constexpr std::string_view default_embedding_prefix =
    "Instruct: Retrieve sentences that could be related to the explanation.\nQuery:";

/// What the embedding scorer asks and how. Plain aggregate.
struct embedding_scorer_options {
  std::string model;                                     ///< the embedding model
  std::string query_prefix = std::string(default_embedding_prefix);  ///< put before the explanation
  std::size_t batch = 64;                                ///< texts per request (at least 1)
  scoring_options scoring;                               ///< the samples' seed (as detection's)
};

/// The cosine similarity of `a` and `b`; null when the lengths differ, either is empty or all
/// zeros, or the result is not finite. Pure.
inline std::optional<double> cosine_similarity(std::span<float const> a, std::span<float const> b) noexcept {
  if (a.empty() || a.size() != b.size()) return std::nullopt;
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  if (!(aa > 0) || !(bb > 0)) return std::nullopt;
  double const c = ab / std::sqrt(aa * bb);
  if (!std::isfinite(c)) return std::nullopt;
  return std::clamp(c, -1.0, 1.0);
}

/// Scores with an embedding model through `client` (OpenAI's `/v1/embeddings`; the client must
/// outlive the scorer). The samples are detection's (`build_samples`, the record's test examples
/// and non-activating windows); the query goes in the first request, and requests of at most
/// `batch` texts run one after another (latents run side by side). A failed call fails the latent.
class embedding_scorer final : public scorer {
 public:
  embedding_scorer(llm::client& client, embedding_scorer_options options) : client_(&client), options_(std::move(options)) {}

  std::string_view name() const noexcept override { return "embedding"; }
  executor_type get_executor() const noexcept override { return client_->get_executor(); }
  bool calls_llm() const noexcept override { return true; }

 protected:
  boost::asio::awaitable<autointerp::detail::partial_result<score_result>> score(records::latent_record const& record,
                                                                                 std::string_view explanation) const override {
    using partial = autointerp::detail::partial_result<score_result>;
    score_result out;
    if (options_.batch == 0) co_return partial{std::move(out), make_error(errc::bad_option, "--embedding-batch must be at least 1")};
    auto samples = build_samples(record, scorer_kind::detection, options_.scoring);
    if (!samples) co_return partial{std::move(out), samples.error()};
    out.samples = std::move(*samples);
    std::vector<std::string> texts;
    texts.reserve(out.samples.size() + 1);
    texts.push_back(options_.query_prefix + std::string(explanation));
    for (auto const& s : out.samples) texts.push_back(s.text());

    std::vector<std::vector<float>> vectors;
    vectors.reserve(texts.size());
    for (std::size_t start = 0; start < texts.size(); start += options_.batch) {
      llm::embedding_request req;
      req.model = options_.model;
      req.tag = llm::call_tag{record.latent.module, record.latent.index, std::string(name()),
                              static_cast<std::uint32_t>(start / options_.batch), 0};
      auto const end = std::min(texts.size(), start + options_.batch);
      req.input.assign(texts.begin() + static_cast<std::ptrdiff_t>(start), texts.begin() + static_cast<std::ptrdiff_t>(end));
      diagnostics diag;
      auto call = client_->async_embed(req, diag, boost::asio::as_tuple(boost::asio::use_awaitable));
      auto [ec, response] = co_await std::move(call);
      ++out.batches;
      out.attempts += response.attempts;
      out.usage += llm::accounted(response.usage);
      if (ec) {
        ++out.failed_batches;
        co_return partial{std::move(out), diag.to_error(ec)};
      }
      for (auto& v : response.embeddings) vectors.push_back(std::move(v));
    }
    if (vectors.size() != texts.size())
      co_return partial{std::move(out), make_error(errc::bad_response, "the embedding server returned " +
                                                                           std::to_string(vectors.size()) + " vectors for " +
                                                                           std::to_string(texts.size()) + " texts")};
    for (std::size_t i = 0; i < out.samples.size(); ++i) {
      out.samples[i].batch = (i + 1) / options_.batch;
      out.samples[i].similarity = cosine_similarity(vectors[0], vectors[i + 1]);
    }
    co_return partial{std::move(out), std::nullopt};
  }

 private:
  llm::client* client_;
  embedding_scorer_options options_;
};

}  // namespace autointerp::score
