// Explainers: prompt building, highlighting, answer parsing and the statistical baseline.
#include <autointerp/explain/build_prompt.hpp>
#include <autointerp/explain/highlight.hpp>
#include <autointerp/explain/parse_answer.hpp>
#include <autointerp/explain/prompt.hpp>
#include <autointerp/explain/statistical.hpp>

#include <gtest/gtest.h>

#include <chrono>

#include <string>
#include <vector>

namespace ex = autointerp::explain;
using autointerp::errc;
using autointerp::records::activating_example;
using autointerp::records::latent_record;
using autointerp::records::non_activating_example;

namespace {

activating_example example(std::vector<std::string> words, std::vector<float> acts) {
  activating_example e;
  for (std::size_t i = 0; i < words.size(); ++i) e.tokens.push_back(static_cast<std::uint32_t>(100 + i));
  e.str_tokens = std::move(words);
  e.activations = std::move(acts);
  return e;
}

latent_record record_of(std::vector<activating_example> train) {
  latent_record r;
  r.latent = {"layers.3", 7};
  r.train = std::move(train);
  return r;
}

std::size_t count(std::string const& s, std::string const& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

}  // namespace

TEST(highlight, wraps_runs_of_active_tokens_in_one_pair) {
  auto e = example({"She", " speaks", " French", " as", " well", " as", " Italian"}, {0, 0, 0, 4, 9, 10, 0});
  EXPECT_EQ(ex::highlight(e, 0.3f), "She speaks French<< as well as>> Italian");
}

TEST(highlight, threshold_is_relative_to_the_example_maximum) {
  auto e = example({"a", "b", "c", "d"}, {10, 3, 3.5f, 0});
  EXPECT_EQ(ex::highlight(e, 0.3f), "<<a>>b<<c>>d");  // 3 is not above 0.3 x 10, 3.5 is
  EXPECT_EQ(ex::highlight(e, 0.0f), "<<abc>>d");
  EXPECT_EQ(ex::highlight(e, 5.0f), "<<a>>bcd");  // clamped below 1: only the maximum stays active
}

TEST(highlight, marks_the_last_token_and_survives_bad_input) {
  EXPECT_EQ(ex::highlight(example({"x", "y"}, {0, 2}), 0.3f), "x<<y>>");
  EXPECT_EQ(ex::highlight(example({"x", "y"}, {0, 0}), 0.3f), "xy");         // silent example
  EXPECT_EQ(ex::highlight(example({"x", "y", "z"}, {5}), 0.3f), "<<x>>yz");  // fewer activations than tokens
  auto no_strings = example({"x", "y"}, {0, 1});
  no_strings.str_tokens.clear();
  EXPECT_EQ(ex::highlight(no_strings, 0.3f), "[#100]<<[#101]>>");
  EXPECT_EQ(ex::highlight(activating_example{}, 0.3f), "");
}

TEST(highlight, levels_list_uses_record_levels_or_computes_them) {
  auto e = example({"a", " June", "b", " March"}, {0, 4, 0, 8});
  EXPECT_EQ(ex::levels_list(e, 0.3f), "\" June\" (5), \" March\" (10)");
  e.levels = {0, 3, 0, 9};
  EXPECT_EQ(ex::levels_list(e, 0.3f), "\" June\" (3), \" March\" (9)");
}

TEST(build_prompt, standard_prompt_has_system_worked_examples_and_the_latent) {
  auto r = record_of({example({"the", " cat", " sat"}, {0, 5, 0}), example({"a", " cat", "!"}, {0, 7, 1})});
  auto p = ex::build_prompt(r, {});
  ASSERT_TRUE(p.has_value()) << p.error().what();
  auto const& m = p->messages;
  ASSERT_EQ(m.size(), 1u + 2 * 3 + 1);
  EXPECT_EQ(m.front().role, "system");
  EXPECT_NE(m.front().content.find("[EXPLANATION]:"), std::string::npos);
  EXPECT_EQ(m[1].role, "user");
  EXPECT_EQ(m[2].role, "assistant");
  EXPECT_EQ(ex::parse_answer(m[2].content).explanation, "Names of calendar months, in dates and schedules.");
  EXPECT_EQ(m.back().role, "user");
  EXPECT_EQ(m.back().content, "Excerpt 1: the<< cat>> sat\n\nExcerpt 2: a<< cat>>!");
  EXPECT_GT(ex::estimate_tokens(*p), p->characters() / 4);
}

TEST(build_prompt, options_change_what_is_shown) {
  auto r = record_of({example({"x", " y", " z"}, {0, 10, 0}), example({"x", " y"}, {1, 10})});
  auto p = ex::build_prompt(r, {.show_levels = true, .chain_of_thought = true, .worked_examples = false, .max_examples = 1});
  ASSERT_TRUE(p.has_value());
  ASSERT_EQ(p->messages.size(), 2u);
  EXPECT_NE(p->messages[0].content.find("step by step"), std::string::npos);
  EXPECT_NE(p->messages[0].content.find("0 (weak) to 10"), std::string::npos);
  EXPECT_EQ(p->messages[1].content, "Excerpt 1: x<< y>> z\nActive tokens: \" y\" (10)");
  auto with_cot = ex::build_prompt(r, {.chain_of_thought = true});
  ASSERT_TRUE(with_cot.has_value());
  EXPECT_NE(with_cot->messages[2].content.find("They follow words"), std::string::npos);
  EXPECT_EQ(ex::parse_answer(with_cot->messages[2].content).explanation, "Names of calendar months, in dates and schedules.");
}

TEST(build_prompt, contrastive_shows_silent_examples_and_needs_them) {
  auto r = record_of({example({"in", " May"}, {0, 3})});
  auto none = ex::build_prompt(r, {.kind = ex::explainer_kind::contrastive});
  ASSERT_FALSE(none.has_value());
  EXPECT_TRUE(none.error() == errc::too_few_examples);
  EXPECT_NE(none.error().message.find("latent 7 of module 'layers.3'"), std::string::npos);
  non_activating_example silent;
  silent.tokens = {1, 2};
  silent.str_tokens = {"you", " may"};
  r.non_activating.push_back(silent);
  auto p = ex::build_prompt(r, {.kind = ex::explainer_kind::contrastive});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->messages.back().content,
            "Excerpts where the feature is active:\n\nExcerpt 1: in<< May>>\n\n"
            "Excerpts where the feature stays silent:\n\nSilent excerpt 1: you may");
  EXPECT_NE(p->messages[0].content.find("stays silent"), std::string::npos);
}

TEST(build_prompt, single_token_shows_the_strongest_token_after_some_context) {
  auto r = record_of({example({"a", "b", "c", "d", "e", "f"}, {0, 2, 0, 0, 9, 3})});
  auto p = ex::build_prompt(r, {.kind = ex::explainer_kind::single_token, .worked_examples = false, .single_token_context = 2});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->messages.back().content, "Excerpt 1: cd<<e>>");
}

TEST(build_prompt, refuses_empty_records) {
  auto empty = ex::build_prompt(record_of({}), {});
  ASSERT_FALSE(empty.has_value());
  EXPECT_TRUE(empty.error() == errc::too_few_examples);
}

TEST(build_prompt, our_prompts_are_our_own_words) {
  // Guards against drifting into delphi's wording: none of its characteristic sentences appear.
  auto p = ex::build_prompt(record_of({example({"a"}, {1})}), {.show_levels = true, .chain_of_thought = true});
  ASSERT_TRUE(p.has_value());
  for (auto const& m : p->messages) {
    EXPECT_EQ(m.content.find("You are a meticulous AI researcher"), std::string::npos);
    EXPECT_EQ(m.content.find("Guidelines:"), std::string::npos);
  }
}

TEST(parse_answer, takes_the_last_explanation_line) {
  auto a = ex::parse_answer("Let me think.\n[EXPLANATION]: first guess\nOn reflection...\n[EXPLANATION]: Month names");
  EXPECT_TRUE(a.parsed);
  EXPECT_EQ(a.explanation, "Month names");
}

TEST(parse_answer, tolerates_markdown_case_quotes_and_a_marker_on_its_own_line) {
  EXPECT_EQ(ex::parse_answer("**[EXPLANATION]:** Closing brackets").explanation, "Closing brackets");
  EXPECT_EQ(ex::parse_answer("**[EXPLANATION]: Closing brackets**").explanation, "Closing brackets");
  EXPECT_EQ(ex::parse_answer("### Explanation:\n\n`the word \"cat\"`\n").explanation, "the word \"cat\"");
  EXPECT_EQ(ex::parse_answer("> [explanation]: \"numbers in dates\"").explanation, "numbers in dates");
  EXPECT_EQ(ex::parse_answer("- Explanation: <digits>").explanation, "digits");
  EXPECT_EQ(ex::parse_answer("```\n[EXPLANATION]: code tokens\n```").explanation, "code tokens");
  EXPECT_EQ(ex::parse_answer("[EXPLANATION]:   spaced out  \r\n").explanation, "spaced out");
}

TEST(parse_answer, unparsable_answers_are_reported_not_invented) {
  EXPECT_FALSE(ex::parse_answer("").parsed);
  EXPECT_FALSE(ex::parse_answer("I think it is about cats.").parsed);
  EXPECT_FALSE(ex::parse_answer("My explanation: cats").parsed);  // "explanation" mid-sentence is not a marker
  EXPECT_FALSE(ex::parse_answer("[EXPLANATION]:\n\n").parsed);
  EXPECT_FALSE(ex::parse_answer(std::string("\0\0\xff[", 4)).parsed);
  // The empty last marker falls back to an earlier one with text.
  EXPECT_EQ(ex::parse_answer("[EXPLANATION]: dogs\n[EXPLANATION]:").explanation, "dogs");
}

// Found by fuzz_explanation_answer: removing a lone trailing "**" uncovered code ticks that were
// then kept, so "``" became the explanation (and was not what parsing "[EXPLANATION]: ``" gives).
TEST(parse_answer, markdown_left_by_a_lone_emphasis_marker_is_removed_too) {
  EXPECT_FALSE(ex::parse_answer("EXPLANATION:\n``**").parsed);
  EXPECT_EQ(ex::parse_answer("EXPLANATION:\n``**\ndigits").explanation, "digits");
  EXPECT_EQ(ex::parse_answer("**[EXPLANATION]:** \"month names\"**").explanation, "month names");
  EXPECT_EQ(ex::parse_answer("**[EXPLANATION]:** `code tokens`**").explanation, "code tokens");
  EXPECT_EQ(ex::parse_answer("**[EXPLANATION]: Closing brackets** and more**").explanation, "Closing brackets** and more");
}

// Found while fuzzing the answer parser: every "explanation" of a line re-checked the whole text
// before it, so an answer repeating the word (a degenerate generation; bodies may be 8 MB) took
// quadratic time: 220 KB took minutes. Now the word is only looked for where the content starts.
TEST(parse_answer, a_line_repeating_the_word_is_linear) {
  std::string answer = "I";
  for (int i = 0; i < 400000; ++i) answer += " explanation:";
  auto const start = std::chrono::steady_clock::now();
  EXPECT_FALSE(ex::parse_answer(answer).parsed);
  answer[0] = '*';
  answer[1] = '*';
  EXPECT_EQ(ex::parse_answer(answer).explanation.size(), answer.size() - std::string("**explanation:").size() - 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(statistical, names_the_dominant_token_and_its_share) {
  auto r = record_of({example({"the", " cat", " sat"}, {0, 5, 0}), example({"a", " cat", "!"}, {0, 7, 0}),
                      example({"one", " dog", "."}, {0, 4, 0}), example({"my", " cat", "."}, {0, 6, 0})});
  auto st = ex::compute_token_statistics(r);
  EXPECT_EQ(st.examples, 4u);
  EXPECT_EQ(st.active_tokens, 4u);
  ASSERT_EQ(st.dominant.size(), 2u);
  EXPECT_EQ(st.dominant[0].text, " cat");
  EXPECT_DOUBLE_EQ(st.dominant[0].share, 0.75);
  EXPECT_DOUBLE_EQ(st.median_position, 0.5);
  auto line = ex::statistical_explanation(r);
  EXPECT_EQ(line.rfind("Statistical baseline (no LLM): active on \" cat\" (75%), \" dog\" (25%)", 0), 0u) << line;
  EXPECT_NE(line.find("often before \".\" (50%)"), std::string::npos) << line;
  EXPECT_EQ(count(line, "\n"), 0u);
}

TEST(statistical, finds_token_classes_and_handles_empty_records) {
  auto r = record_of({example({"in", " 1984", ","}, {0, 5, 0}), example({"(", "see", " 12", ")"}, {0, 0, 3, 0}),
                      example({"page", " 7"}, {0, 2})});
  auto line = ex::statistical_explanation(r);
  EXPECT_NE(line.find("100% are digits"), std::string::npos) << line;
  EXPECT_EQ(ex::statistical_explanation(record_of({})), "Statistical baseline (no LLM): no active tokens in the examples, nothing to describe.");
}
