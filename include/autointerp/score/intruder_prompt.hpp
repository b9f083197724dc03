#pragma once
// The intruder scorer's protocol: prompts of activating examples from one quantile with one
// example that does not belong, and the model names it. The explanation is not shown (as in
// delphi): the test is whether the latent's examples hang together.
//
// Layout, stable text first: the system prompt, one worked example as an earlier user/assistant
// turn, then the user message
//
//   Examples to compare (4):
//
//   Example 1: The<< cat>> sat on the mat.
//
//   Example 2: ...
//
// The answer ends with a line `[RESPONSE]: k` naming the intruder's number; reasoning may come
// first. Read by `parse_intruder_answer`.

#include <autointerp/error.hpp>
#include <autointerp/llm/chat_request.hpp>
#include <autointerp/records/latent_record.hpp>
#include <autointerp/records/python_random.hpp>
#include <autointerp/score/build_samples.hpp>
#include <autointerp/score/fuzz_highlight.hpp>
#include <autointerp/score/score_sample.hpp>
#include <autointerp/score/scoring_options.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autointerp::score {

/// A latent's intruder prompts:
/// - the record's test examples are grouped by quantile; prompt j takes the groups in turn (in
///   ascending quantile order) and shows `min(n_examples_shown - 1, group size)` examples drawn
///   from its group without replacement, each highlighting its tokens at or above `threshold` x its
///   maximum (`activating_highlights`);
/// - the intruder (`intruder_type::standard`) is the record's j-th non-activating window, with
///   `wrong_highlight_count` of the prompt's examples (the mean of their active tokens, rounded up)
///   highlighted by `wrong_highlights`, as fuzzing highlights; or (`intruder_type::internal`) an
///   activating example of another quantile, chosen at random, with its own active tokens
///   highlighted;
/// - the intruder goes to a random position among the prompt's examples.
/// There is one prompt per non-activating window (delphi's count); in `internal` mode without such
/// windows, ceil(test examples / (n_examples_shown - 1)). Randomness comes from one CPython
/// generator seeded as `build_samples` seeds its shuffle (`scoring_options::seed` and the latent's
/// index), so a latent's prompts do not depend on other latents.
///
/// Errors: `errc::bad_option` when `n_examples_shown` is below 2 or `threshold` is outside
/// [0, 1]; `errc::too_few_examples` without test examples, without non-activating windows
/// (standard), or with fewer than two quantiles (internal). Pure.
inline result<std::vector<intruder_trial>> build_intruder_trials(records::latent_record const& record,
                                                                 scoring_options const& options = {}) {
  std::string const where = "latent " + std::to_string(record.latent.index) + " of module '" + record.latent.module + "'";
  if (options.n_examples_shown < 2)
    return make_error(errc::bad_option, "the intruder scorer needs at least 2 examples per prompt (scoring " + where + ")");
  if (!(options.threshold >= 0.f && options.threshold <= 1.f))
    return make_error(errc::bad_option, "the highlight threshold must be within [0, 1] (scoring " + where + ")");
  if (record.test.empty())
    return make_error(errc::too_few_examples,
                      where + " has no test example to score; set record_options::n_examples_test above 0");
  bool const internal = options.intruder == intruder_type::internal;
  std::map<std::uint32_t, std::vector<std::size_t>> by_quantile;
  for (std::size_t i = 0; i < record.test.size(); ++i) by_quantile[record.test[i].quantile].push_back(i);
  std::vector<std::pair<std::uint32_t, std::vector<std::size_t> const*>> groups;
  for (auto const& [q, members] : by_quantile) groups.emplace_back(q, &members);
  if (!internal && record.non_activating.empty())
    return make_error(errc::too_few_examples, where + " has no non-activating window to use as an intruder");
  if (internal && groups.size() < 2)
    return make_error(errc::too_few_examples,
                      where + " has test examples from one quantile only; internal intruders need two");

  std::size_t const per_prompt = options.n_examples_shown - 1;
  std::size_t const n_prompts = !record.non_activating.empty()
                                    ? record.non_activating.size()
                                    : (record.test.size() + per_prompt - 1) / per_prompt;
  std::uint32_t const words[3] = {static_cast<std::uint32_t>(options.seed), static_cast<std::uint32_t>(options.seed >> 32),
                                  record.latent.index};
  records::python_random rng;
  rng.seed_words(words);

  std::vector<intruder_trial> out;
  out.reserve(n_prompts);
  for (std::size_t j = 0; j < n_prompts; ++j) {
    auto const g = j % groups.size();
    auto const& members = *groups[g].second;
    auto const picked = rng.sample_indices(members.size(), std::min(per_prompt, members.size()));
    intruder_trial t;
    t.quantile = groups[g].first;
    std::vector<records::activating_example> shown;
    for (auto k : picked) {
      auto const& ex = record.test[members[k]];
      shown.push_back(ex);
      auto s = detail::activating_sample(ex);
      s.highlighted = activating_highlights(s.activations, options.threshold);
      t.examples.push_back(std::move(s));
    }
    score_sample intruder;
    if (!internal) {
      intruder = detail::non_activating_sample(record.non_activating[j]);
      intruder.highlighted = wrong_highlights({}, intruder.tokens.size(), wrong_highlight_count(shown),
                                              options.threshold, options.highlight_seed);
    } else {
      auto other = static_cast<std::size_t>(rng.randbelow(groups.size() - 1));
      if (other >= g) ++other;
      auto const& pool = *groups[other].second;
      auto const& ex = record.test[pool[static_cast<std::size_t>(rng.randbelow(pool.size()))]];
      intruder = detail::activating_sample(ex);
      intruder.highlighted = activating_highlights(intruder.activations, options.threshold);
    }
    t.intruder = static_cast<std::size_t>(rng.randbelow(t.examples.size() + 1));
    t.examples.insert(t.examples.begin() + static_cast<std::ptrdiff_t>(t.intruder), std::move(intruder));
    for (auto& s : t.examples) s.batch = j;
    out.push_back(std::move(t));
  }
  return out;
}

/// The system prompt of the intruder scorer.
inline std::string intruder_system_prompt() {
  return "You are examining a feature inside a language model. You will get a numbered list of short texts. In "
         "each, the tokens between << and >> are where something was active (consecutive marked tokens share one "
         "pair). All texts but one were taken from the same feature, so their marked tokens have something in "
         "common: a word, a topic, a grammatical role or a pattern. Exactly one text, the intruder, was taken "
         "from elsewhere. Find it.\n\nYou may reason briefly first. End your answer with one line of the form "
         "[RESPONSE]: k, where k is the number of the intruder.";
}

/// The last user message: a heading naming the count, then `Example k: <text>` blocks (k from 1)
/// separated by blank lines.
inline std::string intruder_user_message(std::span<std::string const> texts) {
  std::string m = "Examples to compare (" + std::to_string(texts.size()) + "):";
  for (std::size_t i = 0; i < texts.size(); ++i) {
    m += "\n\nExample " + std::to_string(i + 1) + ": ";
    m += texts[i];
  }
  return m;
}

/// The chat request for `trial`: system prompt, the worked example when `worked_example`, then the
/// user message with each example's highlighted text. Pure; the caller sets model options.
inline llm::chat_request build_intruder_request(intruder_trial const& trial, bool worked_example = true,
                                                std::string model = {}) {
  llm::chat_request r;
  r.model = std::move(model);
  r.messages.push_back({"system", intruder_system_prompt()});
  if (worked_example) {
    std::vector<std::string> const texts = {"She bought<< apples>> at the market.", "Add two<< pears>> to the bowl.",
                                            "The<< train>> left at noon.", "Peel the<< oranges>> first."};
    r.messages.push_back({"user", intruder_user_message(texts)});
    r.messages.push_back({"assistant", "Three marked words are fruit; \"train\" is not.\n[RESPONSE]: 3"});
  }
  std::vector<std::string> texts;
  texts.reserve(trial.examples.size());
  for (auto const& s : trial.examples) texts.push_back(highlighted_text(s.str_tokens, s.highlighted));
  r.messages.push_back({"user", intruder_user_message(texts)});
  return r;
}

/// The 0-based position the answer names: the number after the LAST `[RESPONSE]:` in `text`
/// (markdown emphasis, spaces and a word "Example" may sit between), when it is 1..n. Nullopt
/// otherwise (no marker, no number, out of range). Linear; never throws. Pure.
inline std::optional<std::size_t> parse_intruder_answer(std::string_view text, std::size_t n) {
  constexpr std::string_view marker = "[RESPONSE]:";
  auto const at = text.rfind(marker);
  if (at == std::string_view::npos) return std::nullopt;
  auto rest = text.substr(at + marker.size());
  auto skip = [&] {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t' || rest.front() == '*' || rest.front() == '_'))
      rest.remove_prefix(1);
  };
  skip();
  for (std::string_view w : {"Example", "example"})
    if (rest.substr(0, w.size()) == w) {
      rest.remove_prefix(w.size());
      skip();
      break;
    }
  std::size_t k = 0, digits = 0;
  while (digits < rest.size() && digits < 6 && rest[digits] >= '0' && rest[digits] <= '9') k = k * 10 + static_cast<std::size_t>(rest[digits++] - '0');
  if (digits == 0 || (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9')) return std::nullopt;
  if (k < 1 || k > n) return std::nullopt;
  return k - 1;
}

}  // namespace autointerp::score
