#pragma once
// One latent's whole job: load its activations, build its record, decode its tokens, explain it.

#include <autointerp/cache/dataset.hpp>
#include <autointerp/error.hpp>
#include <autointerp/explain/build_prompt.hpp>
#include <autointerp/explain/explainer_options.hpp>
#include <autointerp/explain/parse_answer.hpp>
#include <autointerp/explain/prompt.hpp>
#include <autointerp/explain/statistical.hpp>
#include <autointerp/llm/chat_request.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/llm/wire.hpp>
#include <autointerp/pipeline/latent_outcome.hpp>
#include <autointerp/records/build_record.hpp>
#include <autointerp/records/load_neighbour_activity.hpp>
#include <autointerp/records/non_activating.hpp>
#include <autointerp/records/record_options.hpp>
#include <autointerp/run_on.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::pipeline {

/// What explains the latents.
enum class explainer_backend {
  llm,          ///< build a prompt, call the LLM, parse its answer
  statistical,  ///< no LLM: `explain::statistical_explanation` (a baseline)
  dry_run,      ///< build the prompt and its request body, call nothing (status `skipped`)
};

/// Everything the latents of a run share. The members are shared, not copied, by every latent.
struct explain_context {
  cache::dataset data;                                ///< the open cache
  std::shared_ptr<tokenizer::tokenizer const> tokens; ///< per-token strings; null shows ids as `[#id]`
  boost::asio::any_io_executor cpu;                   ///< where decompression and record building run
  records::record_options records;                    ///< how records are built (delphi's settings)
  explain::explainer_options explainer;               ///< how examples are shown
  explainer_backend backend = explainer_backend::statistical;
  llm::client* client = nullptr;  ///< required for `llm`; used only on the caller's executor
  std::string model;              ///< model name sent with each request (llm, dry_run)
  std::optional<std::uint32_t> max_tokens;  ///< answer length cap sent with each request
  std::optional<double> temperature;
  /// delphi's neighbour lists of the module, read by `records.non_activating_source ==
  /// neighbours`; null (or a latent without an entry) falls back to random non-activating windows.
  std::shared_ptr<records::neighbour_table const> neighbours;
};

/// The record of `id` with per-token strings, built on `ctx.cpu`. Errors: those of the cache
/// (`load_latent`, `tokens`), of `build_record` (`errc::too_few_examples` among them) and of
/// decoding (`errc::token_out_of_range` when cache and tokenizer do not belong together).
inline boost::asio::awaitable<result<records::latent_record>> build_latent_record(explain_context const& ctx,
                                                                               cache::latent_id id) {
  // Named, not a temporary of the co_await expression: g++ 12 may destroy such temporaries twice.
  auto work = [data = ctx.data, tok = ctx.tokens, options = ctx.records, nb = ctx.neighbours,
               id]() -> result<records::latent_record> {
    auto matrix = data.tokens(id.module);
    if (!matrix) return matrix.error();
    auto acts = data.load_latent(id.module, id.index);
    if (!acts) return acts.error();
    std::vector<records::neighbour_activity> neighbours;
    if (nb && options.non_activating_source == records::non_activating_kind::neighbours && options.n_non_activating > 0) {
      auto loaded = records::load_neighbour_activity(data, id.module, *nb, id.index);
      if (!loaded) return loaded.error();
      neighbours = std::move(*loaded);
    }
    auto record = records::build_record(**matrix, *acts, options, neighbours);
    if (!record) return record.error();
    if (tok) {
      auto decode = [&](auto& ex) -> result<void> {
        ex.str_tokens.clear();
        return tok->decode_tokens(ex.tokens, ex.str_tokens);
      };
      for (auto& ex : record->train)
        if (auto r = decode(ex); !r) return r.error();
      for (auto& ex : record->non_activating)
        if (auto r = decode(ex); !r) return r.error();
    }
    return record;
  };
  auto op = async_run_on(ctx.cpu, std::move(work), boost::asio::use_awaitable);
  auto r = co_await std::move(op);
  co_return r;
}

/// Explains one latent and completes with its outcome; never fails as a whole: every error is in
/// the outcome (`failed`, or `skipped` for `errc::too_few_examples`). `latency` covers the whole
/// job of the latent; `attempts` and `usage` come from the LLM client. A dry run puts the request
/// body in `request` (status `skipped`, `usage.prompt_tokens` = the estimate).
///
/// Runs on the calling coroutine's executor (CPU work on `ctx.cpu`); `ctx` must outlive the call.
/// Cancellation: terminal cancellation of the calling coroutine aborts the LLM call
/// (`errc::cancelled` in the outcome) or the CPU work before it starts. Thread-safety: as
/// `llm::client` (one executor), the rest is safe to run concurrently.
inline boost::asio::awaitable<latent_outcome> explain_latent(explain_context const& ctx, cache::latent_id id) {
  auto const start = std::chrono::steady_clock::now();
  latent_outcome out;
  out.latent = id;
  auto done = [&]() -> latent_outcome {
    out.latency = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    return std::move(out);
  };
  auto fail = [&](autointerp::error e) {
    out.status = e == errc::too_few_examples ? latent_status::skipped : latent_status::failed;
    out.error = std::move(e);
    return done();
  };

  auto build = build_latent_record(ctx, id);
  auto record = co_await std::move(build);
  if (!record) co_return fail(record.error());
  if (record->train.empty())  // the quantiles sampler draws nothing from fewer windows than quantiles
    co_return fail(make_error(errc::too_few_examples,
                              "latent " + std::to_string(id.index) + " of module '" + id.module + "': " +
                                  std::to_string(record->n_examples) +
                                  " activating windows gave an empty train sample; use --train-type top or "
                                  "lower --n-quantiles"));

  if (ctx.backend == explainer_backend::statistical || ctx.explainer.kind == explain::explainer_kind::statistical) {
    out.explanation = explain::statistical_explanation(*record, ctx.explainer.threshold);
    out.status = latent_status::explained;
    co_return done();
  }

  auto p = explain::build_prompt(*record, ctx.explainer);
  if (!p) co_return fail(p.error());
  auto request = explain::to_request(std::move(*p), ctx.model);
  request.max_tokens = ctx.max_tokens;
  request.temperature = ctx.temperature;

  if (ctx.backend == explainer_backend::dry_run) {
    out.status = latent_status::skipped;
    out.usage.prompt_tokens = llm::estimate_prompt_tokens(request);
    out.request = llm::serialize_request(request);
    co_return done();
  }
  if (!ctx.client)
    co_return fail(make_error(errc::bad_option, "explain_latent: the llm backend needs a client; set explain_context::client"));

  auto call = ctx.client->chat(std::move(request), boost::asio::use_awaitable);
  auto answer = co_await std::move(call);
  if (!answer) co_return fail(answer.error());
  out.attempts = answer->attempts;
  out.usage.prompt_tokens = answer->usage.prompt_tokens;
  out.usage.completion_tokens = answer->usage.completion_tokens;
  out.usage.cost = answer->usage.cost.value_or(0);
  auto parsed = explain::parse_answer(answer->text);
  if (parsed.parsed) {
    out.status = latent_status::explained;
    out.explanation = std::move(parsed.explanation);
  } else {
    out.status = latent_status::unparsed;
    out.raw_answer = std::move(answer->text);
    out.error = make_error(errc::unparsed_answer, "latent " + std::to_string(id.index) + " of module '" + id.module +
                                                      "': no [EXPLANATION]: line in the answer; the raw answer is kept");
  }
  co_return done();
}

}  // namespace autointerp::pipeline
