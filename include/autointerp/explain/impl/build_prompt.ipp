#pragma once

#include <autointerp/explain/build_prompt.hpp>
#include <autointerp/explain/highlight.hpp>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace autointerp::explain {

namespace detail {

// A token of a worked example and its level (0 = silent).
struct shown_token {
  char const* text;
  std::uint8_t level;
};

inline records::activating_example make_example(std::initializer_list<shown_token> tokens) {
  records::activating_example ex;
  for (auto const& t : tokens) {
    ex.tokens.push_back(static_cast<std::uint32_t>(ex.tokens.size()));
    ex.str_tokens.emplace_back(t.text);
    ex.activations.push_back(static_cast<float>(t.level));
    ex.levels.push_back(t.level);
  }
  return ex;
}

inline records::non_activating_example make_plain(std::initializer_list<char const*> tokens) {
  records::non_activating_example ex;
  for (auto const* t : tokens) {
    ex.tokens.push_back(static_cast<std::uint32_t>(ex.tokens.size()));
    ex.str_tokens.emplace_back(t);
  }
  return ex;
}

// One worked example: the excerpts, the reasoning (shown with chain of thought) and the answer.
struct worked_example {
  std::vector<records::activating_example> active;
  std::vector<records::non_activating_example> silent;
  char const* reasoning;
  char const* answer;
};

inline std::vector<worked_example> standard_worked_examples() {
  return {
      {{make_example({{"The", 0}, {" festival", 0}, {" returns", 0}, {" every", 0}, {" June", 9}, {" to", 0},
                      {" the", 0}, {" harbour", 0}, {" town", 0}, {".", 0}}),
        make_example({{"Rent", 0}, {" is", 0}, {" due", 0}, {" on", 0}, {" the", 0}, {" first", 0}, {" of", 0},
                      {" March", 10}, {",", 0}, {" so", 0}, {" plan", 0}, {" ahead", 0}}),
        make_example({{"Between", 0}, {" October", 7}, {" and", 0}, {" December", 8}, {" the", 0},
                      {" mountain", 0}, {" roads", 0}, {" often", 0}, {" close", 0}})},
       {},
       "The marked tokens are June, March, October and December. They follow words such as \"every\", \"of\" "
       "and \"between\" in sentences about when something happens, and no other word is marked. Every one is "
       "the name of a month.",
       "Names of calendar months, in dates and schedules."},
      {{make_example({{"result", 0}, {" =", 0}, {" compute", 0}, {"(", 0}, {"a", 0}, {",", 0}, {" b", 0},
                      {")", 10}, {";", 0}}),
        make_example({{"if", 0}, {" (", 0}, {"count", 0}, {" >", 0}, {" 0", 0}, {")", 8}, {" {", 0}}),
        make_example({{"print", 0}, {"(", 0}, {"len", 0}, {"(", 0}, {"items", 0}, {"))", 9}})},
       {},
       "Only closing parentheses are marked, each one ending a call or a condition in program code; the "
       "opening ones are not marked.",
       "A closing parenthesis that ends a function call or a condition in source code."},
      {{make_example({{"She", 0}, {" speaks", 0}, {" French", 0}, {" as", 5}, {" well", 8}, {" as", 10},
                      {" Italian", 0}, {".", 0}}),
        make_example({{"The", 0}, {" kit", 0}, {" includes", 0}, {" tools", 0}, {" as", 4}, {" well", 7},
                      {" as", 10}, {" spare", 0}, {" parts", 0}})},
       {},
       "Both excerpts mark the three tokens \"as well as\" together, strongest on the last \"as\"; the words "
       "around the phrase vary.",
       "The connecting phrase \"as well as\", strongest on its final word."},
  };
}

inline std::vector<worked_example> contrastive_worked_examples() {
  return {{{make_example({{"We", 0}, {" moved", 0}, {" house", 0}, {" in", 0}, {" May", 10}, {" last", 0},
                          {" year", 0}}),
            make_example({{"The", 0}, {" report", 0}, {" is", 0}, {" due", 0}, {" by", 0}, {" April", 8},
                          {" 30", 0}})},
           {make_plain({"You", " may", " leave", " once", " the", " test", " is", " over"}),
            make_plain({"It", " might", " rain", " later", " today"})},
           "The marked tokens are May and April, both months in statements about dates. The silent excerpts "
           "contain \"may\" as a verb and other words about possibility, which are not marked.",
           "Month names used as dates (the month May, not the verb \"may\")."}};
}

inline std::vector<worked_example> single_token_worked_examples() {
  return {{{make_example({{" first", 0}, {" of", 0}, {" March", 10}}),
            make_example({{" returns", 0}, {" every", 0}, {" June", 9}}),
            make_example({{" roads", 0}, {" close", 0}, {" in", 0}, {" October", 7}})},
           {},
           "Each marked token is a month: March, June, October.",
           "Month names."}};
}

inline std::string describe_examples(std::vector<records::activating_example const*> const& active,
                                     std::vector<records::non_activating_example const*> const& silent,
                                     explainer_options const& options) {
  std::string out;
  if (!silent.empty()) out += "Excerpts where the feature is active:\n\n";
  std::size_t i = 0;
  for (auto const* ex : active) {
    out += "Excerpt " + std::to_string(++i) + ": " + highlight(*ex, options.threshold) + "\n";
    if (options.show_levels) {
      auto levels = levels_list(*ex, options.threshold);
      if (!levels.empty()) out += "Active tokens: " + levels + "\n";
    }
    out += "\n";
  }
  if (!silent.empty()) {
    out += "Excerpts where the feature stays silent:\n\n";
    std::size_t j = 0;
    for (auto const* ex : silent) out += "Silent excerpt " + std::to_string(++j) + ": " + plain_text(*ex) + "\n\n";
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// The single-token view: the strongest token, marked, after a few tokens of context.
inline records::activating_example strongest_token_view(records::activating_example const& ex,
                                                        std::size_t context) {
  std::size_t const m = std::min(ex.tokens.size(), ex.activations.size());
  std::size_t best = 0;
  for (std::size_t i = 1; i < m; ++i)
    if (ex.activations[i] > ex.activations[best]) best = i;
  records::activating_example view;
  if (m == 0) return view;
  std::size_t const first = best > context ? best - context : 0;
  bool const strings = ex.str_tokens.size() == ex.tokens.size();
  bool const levels = ex.levels.size() == ex.tokens.size();
  for (std::size_t i = first; i <= best; ++i) {
    view.tokens.push_back(ex.tokens[i]);
    if (strings) view.str_tokens.push_back(ex.str_tokens[i]);
    view.activations.push_back(i == best ? ex.activations[i] : 0.f);
    if (levels) view.levels.push_back(i == best ? ex.levels[i] : 0);
  }
  return view;
}

inline std::string answer_text(worked_example const& w, bool chain_of_thought) {
  std::string out;
  if (chain_of_thought) out += std::string(w.reasoning) + "\n\n";
  out += "[EXPLANATION]: ";
  out += w.answer;
  return out;
}

}  // namespace detail

AUTOINTERP_DECL std::string system_prompt(explainer_options const& options) {
  std::string s;
  switch (options.kind) {
    case explainer_kind::contrastive:
      s = "You are studying one feature inside a language model. You will see two groups of short text "
          "excerpts. In the first group the feature is active, and the tokens where it is active are wrapped "
          "in << and >> (consecutive active tokens share one pair). In the second group the feature stays "
          "silent. Work out what the marked tokens, and the text around them, have in common that the silent "
          "excerpts lack.";
      break;
    case explainer_kind::single_token:
      s = "You are studying one feature inside a language model. Each excerpt below ends with the single "
          "token where the feature was strongest, wrapped in << and >>, after a few tokens that led up to it. "
          "Name the token, or the kind of token, that the feature responds to.";
      break;
    default:
      s = "You are studying one feature inside a language model. You will see short text excerpts; in each, "
          "the tokens where the feature is active are wrapped in << and >> (consecutive active tokens share "
          "one pair). Work out what the marked tokens, and the text around them, have in common.";
      break;
  }
  if (options.show_levels && options.kind != explainer_kind::single_token)
    s += " After each excerpt its active tokens are listed with their strength from 0 (weak) to 10 (strongest).";
  s += "\n\nThe explanation should be a short phrase or one sentence about what the feature detects. Do not "
       "list the examples one by one and do not mention the markers.";
  if (options.chain_of_thought)
    s += " Before answering, reason step by step: note the marked tokens, what comes before and after them, "
         "form a guess and check it against every excerpt.";
  s += "\n\nEnd your answer with exactly one line of the form:\n[EXPLANATION]: <your explanation>";
  return s;
}

AUTOINTERP_DECL result<prompt> build_prompt(records::latent_record const& record, explainer_options const& options) {
  auto const& id = record.latent;
  std::string const where = "latent " + std::to_string(id.index) + " of module '" + id.module + "'";
  if (record.train.empty())
    return make_error(errc::too_few_examples,
                      where + " has no activating example to show; lower record_options::min_examples or pick another latent");

  std::vector<records::activating_example const*> active;
  std::vector<records::activating_example> single_views;  // owns the single-token views
  std::size_t const n_active = options.max_examples == 0 ? record.train.size()
                                                         : std::min(options.max_examples, record.train.size());
  if (options.kind == explainer_kind::single_token) {
    single_views.reserve(n_active);
    for (std::size_t i = 0; i < n_active; ++i)
      single_views.push_back(detail::strongest_token_view(record.train[i], options.single_token_context));
    for (auto const& v : single_views) active.push_back(&v);
  } else {
    for (std::size_t i = 0; i < n_active; ++i) active.push_back(&record.train[i]);
  }

  std::vector<records::non_activating_example const*> silent;
  if (options.kind == explainer_kind::contrastive) {
    if (record.non_activating.empty())
      return make_error(errc::too_few_examples,
                        where + " has no non-activating example for the contrastive explainer; set "
                                "record_options::n_non_activating above 0");
    std::size_t const n = options.max_non_activating == 0
                              ? record.non_activating.size()
                              : std::min(options.max_non_activating, record.non_activating.size());
    for (std::size_t i = 0; i < n; ++i) silent.push_back(&record.non_activating[i]);
  }

  prompt p;
  p.messages.push_back({"system", system_prompt(options)});
  if (options.worked_examples) {
    auto worked = options.kind == explainer_kind::contrastive    ? detail::contrastive_worked_examples()
                  : options.kind == explainer_kind::single_token ? detail::single_token_worked_examples()
                                                                 : detail::standard_worked_examples();
    for (auto const& w : worked) {
      std::vector<records::activating_example const*> wa;
      for (auto const& e : w.active) wa.push_back(&e);
      std::vector<records::non_activating_example const*> ws;
      for (auto const& e : w.silent) ws.push_back(&e);
      p.messages.push_back({"user", detail::describe_examples(wa, ws, options)});
      p.messages.push_back({"assistant", detail::answer_text(w, options.chain_of_thought)});
    }
  }
  p.messages.push_back({"user", detail::describe_examples(active, silent, options)});
  return p;
}

}  // namespace autointerp::explain
