#pragma once
// The chat request that asks an LLM to score one prompt's worth of samples against an explanation.
//
// Layout, chosen so that the text shared by many requests comes first and providers that cache
// prompt prefixes can reuse it: the system prompt (one per scorer), our worked examples as earlier
// user/assistant turns (the same for every latent), then one user message that gives the
// explanation once (shared by every prompt of a latent) and then the examples:
//
//   Explanation: <explanation>
//
//   Texts to judge (3):                       (fuzz: "Texts with marked tokens to judge (3):")
//
//   Example 1: <text>
//
//   Example 2: <text>
//   ...
//
// The model is asked for a JSON list of 0/1, one per example in order, read by `parse_scoring_answer`.

#include <autointerp/llm/chat_request.hpp>
#include <autointerp/score/fuzz_highlight.hpp>
#include <autointerp/score/score_sample.hpp>
#include <autointerp/score/scoring_options.hpp>

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autointerp::score {

/// The system prompt of `kind`.
inline std::string scoring_system_prompt(scorer_kind kind) {
  std::string s =
      "You are checking an explanation of a feature inside a language model. The feature responds to certain "
      "tokens in certain texts, and the explanation says what it responds to. You will get the explanation and "
      "a numbered list of text examples";
  if (kind == scorer_kind::fuzz) {
    s += " in which some tokens are marked between << and >> (consecutive marked tokens share one pair). In some "
         "examples the marks sit on the tokens where the feature is active; in others they were put on other "
         "tokens. For each example, decide whether every marked token fits the explanation: 1 if all of them do, "
         "0 if any does not. Any mix is possible: all, some or none of the examples may be marked correctly.";
  } else {
    s += ". For each example, decide whether the feature described would be active anywhere in it: 1 if it would, "
         "0 if not. Any mix is possible: all, some or none of the examples may fit.";
  }
  s += "\n\nAnswer with a JSON list holding one 0 or 1 for each example, in the order given, for instance "
       "[1,0,0,1,1], and nothing else.";
  return s;
}

/// How `sample` appears in a prompt of `kind`: its plain text (detection) or its text with the
/// highlighted runs between `<<` and `>>` (fuzz).
inline std::string example_text(score_sample const& sample, scorer_kind kind) {
  if (kind == scorer_kind::fuzz) return highlighted_text(sample.str_tokens, sample.highlighted);
  return sample.text();
}

/// The last user message: the explanation once, a heading naming the count, then one
/// `Example k: <text>` block per text (k from 1), blocks separated by a blank line.
inline std::string scoring_user_message(scorer_kind kind, std::string_view explanation,
                                        std::span<std::string const> texts) {
  std::string m = "Explanation: ";
  m += explanation;
  m += kind == scorer_kind::fuzz ? "\n\nTexts with marked tokens to judge (" : "\n\nTexts to judge (";
  m += std::to_string(texts.size()) + "):";
  for (std::size_t i = 0; i < texts.size(); ++i) {
    m += "\n\nExample " + std::to_string(i + 1) + ": ";
    m += texts[i];
  }
  return m;
}

namespace detail {

struct scoring_worked_example {
  char const* explanation;
  std::vector<std::string> texts;
  char const* answer;
};

inline std::vector<scoring_worked_example> scoring_worked_examples(scorer_kind kind) {
  if (kind == scorer_kind::fuzz)
    return {{"Names of the days of the week.",
             {"We meet every<< Tuesday>> after lunch.", "The<< river>> floods in early spring.",
              "See you on<< Friday>>, then<<!>>", "Pick<< Monday>> or<< Sunday>> for the trip."},
             "[1,0,0,1]"},
            {"A closing parenthesis that ends a function call.",
             {"total = sum(values<<)>>", "for item<< in>> items:", "return max(a, b<<)>>"},
             "[1,0,1]"}};
  return {{"Names of the days of the week.",
           {"We meet every Tuesday after lunch.", "The river floods in early spring.", "See you on Friday, then!",
            "Her favourite colour is green."},
           "[1,0,1,0]"},
          {"The word \"because\" introducing a reason.",
           {"He stayed home because of the storm.", "Prices rose sharply last year.",
            "Nobody knew why the lights went out."},
           "[1,0,0]"}};
}

}  // namespace detail

/// The chat request scoring `batch` against `explanation` with scorer `kind`: system prompt, the
/// worked examples when `options.worked_examples`, then the user message of `scoring_user_message`.
/// With `options.logprobs` it sets `logprobs = true, top_logprobs = 5`. Other fields (max_tokens,
/// temperature) are left unset for the caller. Pure and thread-safe; never fails (an empty batch
/// gives a prompt with no example, which callers should not send).
inline llm::chat_request build_scoring_request(scorer_kind kind, std::string_view explanation,
                                               std::span<score_sample const> batch, scoring_options const& options = {},
                                               std::string model = {}) {
  llm::chat_request r;
  r.model = std::move(model);
  r.messages.push_back({"system", scoring_system_prompt(kind)});
  if (options.worked_examples)
    for (auto const& w : detail::scoring_worked_examples(kind)) {
      r.messages.push_back({"user", scoring_user_message(kind, w.explanation, w.texts)});
      r.messages.push_back({"assistant", w.answer});
    }
  std::vector<std::string> texts;
  texts.reserve(batch.size());
  for (auto const& s : batch) texts.push_back(example_text(s, kind));
  r.messages.push_back({"user", scoring_user_message(kind, explanation, texts)});
  if (options.logprobs) {
    r.logprobs = true;
    r.top_logprobs = 5;
  }
  return r;
}

}  // namespace autointerp::score
