// Scoring's pure core: samples, fuzz highlights, prompts, answer parsing, logprobs, the keyword
// baseline, score files, summary metrics, and the test fake's scoring brain.
#include <autointerp/explain/build_prompt.hpp>
#include <autointerp/explain/parse_answer.hpp>
#include <autointerp/explain/statistical.hpp>
#include <autointerp/llm/wire.hpp>
#include <autointerp/score/build_samples.hpp>
#include <autointerp/score/fuzz_highlight.hpp>
#include <autointerp/score/keyword_baseline.hpp>
#include <autointerp/score/metrics.hpp>
#include <autointerp/score/parse_scoring_answer.hpp>
#include <autointerp/score/score_file.hpp>
#include <autointerp/score/score_sample.hpp>
#include <autointerp/score/scoring_options.hpp>
#include <autointerp/score/scoring_prompt.hpp>
#include <autointerp/score/summary.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "fake_answers.hpp"

namespace ai = autointerp;
namespace sc = autointerp::score;
namespace rec = autointerp::records;
using sc::scorer_kind;

namespace {

rec::activating_example act(std::vector<std::string> words, std::vector<float> acts, std::uint32_t quantile = 0,
                            std::uint32_t first_id = 0) {
  rec::activating_example ex;
  for (std::size_t i = 0; i < words.size(); ++i) ex.tokens.push_back(first_id + static_cast<std::uint32_t>(i));
  ex.str_tokens = std::move(words);
  ex.activations = std::move(acts);
  ex.quantile = quantile;
  return ex;
}

rec::non_activating_example silent(std::vector<std::string> words, float distance = 0, std::uint32_t first_id = 0) {
  rec::non_activating_example ex;
  for (std::size_t i = 0; i < words.size(); ++i) ex.tokens.push_back(first_id + static_cast<std::uint32_t>(i));
  ex.str_tokens = std::move(words);
  ex.distance = distance;
  return ex;
}

std::vector<std::string> words_of(std::size_t n, std::string const& w = " x") { return std::vector<std::string>(n, w); }

// A record of `n_silent` one-token non-activating windows (ids 0..) and `n_test` one-token test
// examples (ids n_silent..): each sample is recognisable by its only token id, its original index.
rec::latent_record numbered_record(std::size_t n_silent, std::size_t n_test, std::uint32_t latent = 0) {
  rec::latent_record r;
  r.latent = {"layers.0", latent};
  for (std::size_t i = 0; i < n_silent; ++i) r.non_activating.push_back(silent({" s"}, 0, static_cast<std::uint32_t>(i)));
  for (std::size_t i = 0; i < n_test; ++i)
    r.test.push_back(act({" a"}, {1.f}, static_cast<std::uint32_t>(i % 10), static_cast<std::uint32_t>(n_silent + i)));
  return r;
}

std::vector<std::uint32_t> first_ids(std::vector<sc::score_sample> const& s) {
  std::vector<std::uint32_t> out;
  for (auto const& x : s) out.push_back(x.tokens.at(0));
  return out;
}

sc::score_sample labelled(bool activating, std::optional<bool> prediction, double distance = 0,
                          std::optional<double> probability = std::nullopt) {
  sc::score_sample s;
  s.activating = activating;
  s.prediction = prediction;
  s.distance = distance;
  s.probability = probability;
  s.str_tokens = {" t"};
  s.activations = {activating ? 1.f : 0.f};
  return s;
}

std::size_t count_of(std::string const& hay, std::string const& needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

// --- samples ---------------------------------------------------------------------------------------

TEST(score_samples, labels_distances_and_activations_come_from_the_record) {
  rec::latent_record r;
  r.latent = {"m", 7};
  r.test = {act({"a", " b", " c"}, {0, 2, 0}, 0, 10), act({"d", " e"}, {1, 0}, 1, 20), act({"f"}, {3}, 4, 30)};
  r.non_activating = {silent({"g", " h"}, -1.f, 40), silent({"i", " j", " k"}, -0.75f, 50)};
  auto s = sc::build_samples(r, scorer_kind::detection);
  ASSERT_TRUE(s) << s.error().what();
  ASSERT_EQ(s->size(), 5u);
  std::map<std::uint32_t, sc::score_sample> by_id;
  for (auto const& x : *s) by_id[x.tokens.at(0)] = x;
  ASSERT_EQ(by_id.size(), 5u);
  EXPECT_TRUE(by_id[10].activating);
  EXPECT_EQ(by_id[10].distance, 0);
  EXPECT_EQ(by_id[20].distance, 1);
  EXPECT_EQ(by_id[30].distance, 4);
  EXPECT_EQ(by_id[30].quantile, 4u);
  EXPECT_EQ(by_id[10].activations, (std::vector<float>{0, 2, 0}));
  EXPECT_EQ(by_id[10].str_tokens, (std::vector<std::string>{"a", " b", " c"}));
  EXPECT_EQ(by_id[10].text(), "a b c");
  EXPECT_FALSE(by_id[40].activating);
  EXPECT_EQ(by_id[40].distance, -1);  // a random window
  EXPECT_EQ(by_id[50].distance, -0.75);  // a neighbour window: minus its score, as the record has it
  EXPECT_EQ(by_id[50].activations, (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(by_id[50].quantile, 0u);
  for (auto const& x : *s) {
    EXPECT_TRUE(x.highlighted.empty());  // detection never highlights
    EXPECT_FALSE(x.prediction.has_value());
    EXPECT_EQ(x.str_tokens.size(), x.tokens.size());
  }
}

TEST(score_samples, missing_token_strings_become_placeholders) {
  rec::latent_record r;
  auto ex = act({"a", "b"}, {1, 0}, 0, 7);
  ex.str_tokens.clear();
  r.test.push_back(ex);
  auto s = sc::build_samples(r, scorer_kind::detection);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->at(0).str_tokens, (std::vector<std::string>{"[#7]", "[#8]"}));
}

TEST(score_samples, a_record_without_non_activating_windows_gives_activating_samples_only) {
  auto s = sc::build_samples(numbered_record(0, 4), scorer_kind::fuzz);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->size(), 4u);
  for (auto const& x : *s) EXPECT_TRUE(x.activating);
}

TEST(score_samples, shuffle_is_seeded_and_matches_cpython) {
  // random.Random(22).shuffle(list(range(10))) and random.Random(22 + (3 << 64)).shuffle(...), by CPython 3.11.
  auto a = sc::build_samples(numbered_record(5, 5, 0), scorer_kind::detection);
  ASSERT_TRUE(a);
  EXPECT_EQ(first_ids(*a), (std::vector<std::uint32_t>{5, 6, 9, 7, 1, 8, 4, 0, 3, 2}));
  auto b = sc::build_samples(numbered_record(5, 5, 3), scorer_kind::detection);
  ASSERT_TRUE(b);
  EXPECT_EQ(first_ids(*b), (std::vector<std::uint32_t>{7, 2, 3, 8, 9, 0, 6, 5, 4, 1}));
  auto again = sc::build_samples(numbered_record(5, 5, 0), scorer_kind::detection);
  EXPECT_EQ(first_ids(*again), first_ids(*a));
  auto other_seed = sc::build_samples(numbered_record(5, 5, 0), scorer_kind::detection, {.seed = 23});
  EXPECT_NE(first_ids(*other_seed), first_ids(*a));
}

TEST(score_samples, batches_of_n_with_a_short_last_batch) {
  auto s = sc::build_samples(numbered_record(6, 6), scorer_kind::detection, {.n_examples_shown = 5});
  ASSERT_TRUE(s);
  ASSERT_EQ(s->size(), 12u);
  EXPECT_EQ(first_ids(*s), (std::vector<std::uint32_t>{4, 1, 10, 6, 8, 9, 5, 11, 7, 0, 3, 2}));
  for (std::size_t i = 0; i < s->size(); ++i) EXPECT_EQ((*s)[i].batch, i / 5);
  auto batches = sc::split_batches(*s);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(), 5u);
  EXPECT_EQ(batches[1].size(), 5u);
  EXPECT_EQ(batches[2].size(), 2u);  // the short last prompt is a normal prompt
  EXPECT_EQ(batches[2].data(), s->data() + 10);
  auto const& cs = *s;
  EXPECT_EQ(sc::split_batches(cs).size(), 3u);

  auto even = sc::build_samples(numbered_record(6, 6), scorer_kind::detection, {.n_examples_shown = 4});
  ASSERT_EQ(sc::split_batches(*even).size(), 3u);
  for (auto b : sc::split_batches(*even)) EXPECT_EQ(b.size(), 4u);
  auto one = sc::build_samples(numbered_record(6, 6), scorer_kind::detection, {.n_examples_shown = 100});
  EXPECT_EQ(sc::split_batches(*one).size(), 1u);
  std::vector<sc::score_sample> none;
  EXPECT_TRUE(sc::split_batches(none).empty());
}

TEST(score_samples, bad_options_and_records_without_test_examples_are_errors) {
  auto zero = sc::build_samples(numbered_record(2, 2), scorer_kind::detection, {.n_examples_shown = 0});
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error(), ai::errc::bad_option);
  auto threshold = sc::build_samples(numbered_record(2, 2), scorer_kind::fuzz, {.threshold = 1.5f});
  ASSERT_FALSE(threshold);
  EXPECT_EQ(threshold.error(), ai::errc::bad_option);
  auto nan = sc::build_samples(numbered_record(2, 2), scorer_kind::fuzz,
                               {.threshold = std::numeric_limits<float>::quiet_NaN()});
  EXPECT_FALSE(nan);
  auto empty = sc::build_samples(numbered_record(3, 0, 9), scorer_kind::detection);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), ai::errc::too_few_examples);
  EXPECT_NE(empty.error().message.find("latent 9"), std::string::npos);
}

// --- fuzz highlights --------------------------------------------------------------------------------

TEST(fuzz_highlight, activating_examples_highlight_at_or_above_the_threshold) {
  std::vector<float> a{0, 0.29f, 0.3f, 1.0f, 0.5f, 0};
  EXPECT_EQ(sc::activating_highlights(a, 0.3f), (std::vector<std::uint32_t>{2, 3, 4}));  // 0.3 x 1.0 counts (>=)
  EXPECT_EQ(sc::activating_highlights(a, 0.f), (std::vector<std::uint32_t>{1, 2, 3, 4}));  // never a zero
  EXPECT_TRUE(sc::activating_highlights(std::vector<float>{0, 0}, 0.3f).empty());
  EXPECT_TRUE(sc::activating_highlights({}, 0.3f).empty());
}

TEST(fuzz_highlight, wrong_count_is_the_ceiling_of_the_mean_nonzero_count) {
  std::vector<rec::activating_example> test{act(words_of(4), {1, 0.1f, 0, 0}), act(words_of(4), {0, 2, 3, 4}),
                                            act(words_of(4), {5, 0, 0, 0})};
  EXPECT_EQ(sc::wrong_highlight_count(test), 2u);  // (2 + 3 + 1) / 3 = 2 exactly
  test.push_back(act(words_of(4), {1, 0, 0, 0}));
  EXPECT_EQ(sc::wrong_highlight_count(test), 2u);  // 7 / 4 -> 2
  test.push_back(act(words_of(4), {1, 1, 1, 1}));
  EXPECT_EQ(sc::wrong_highlight_count(test), 3u);  // 11 / 5 -> 3
  EXPECT_EQ(sc::wrong_highlight_count({}), 1u);
}

TEST(fuzz_highlight, wrong_highlights_always_include_len_minus_len_over_4_and_match_delphi) {
  // delphi: random.seed(22); [24] + random.sample(list(range(32)) without 24, k - 1), by CPython 3.11.
  EXPECT_EQ(sc::wrong_highlights({}, 32, 3, 0.3f, 22), (std::vector<std::uint32_t>{24, 30, 31}));
  EXPECT_EQ(sc::wrong_highlights({}, 32, 5, 0.3f, 22), (std::vector<std::uint32_t>{4, 7, 24, 30, 31}));
  EXPECT_EQ(sc::wrong_highlights({}, 32, 1, 0.3f, 22), (std::vector<std::uint32_t>{24}));
  for (std::size_t n : {4u, 5u, 8u, 17u, 64u}) {
    auto h = sc::wrong_highlights({}, n, 2, 0.3f, 22);
    ASSERT_EQ(h.size(), 2u);
    EXPECT_TRUE(std::count(h.begin(), h.end(), n - n / 4) == 1) << n;
  }
  // Three tokens: position 3 is past the end, so random.sample([0, 1, 2], 2) decides.
  EXPECT_EQ(sc::wrong_highlights({}, 3, 2, 0.3f, 22), (std::vector<std::uint32_t>{0, 2}));
  // More wanted than eligible: every eligible token.
  EXPECT_EQ(sc::wrong_highlights({}, 3, 10, 0.3f, 22), (std::vector<std::uint32_t>{0, 1, 2}));
  EXPECT_TRUE(sc::wrong_highlights({}, 0, 3, 0.3f, 22).empty());
  // Active fuzzing: position 6 of 8 fires (5 > 0.3 x 5), so it is not eligible; random.sample of
  // [0, 1, 2, 3, 4, 5, 7] after random.seed(22) takes [1] for one token and [1, 7] for two.
  std::vector<float> fires{0, 0, 0, 0, 0, 0, 5, 0};
  EXPECT_EQ(sc::wrong_highlights(fires, 8, 1, 0.3f, 22), (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(sc::wrong_highlights(fires, 8, 2, 0.3f, 22), (std::vector<std::uint32_t>{1, 7}));
  // One eligible token is highlighted (delphi's squeeze would lose it).
  EXPECT_EQ(sc::wrong_highlights(std::vector<float>{4, 4, 0, 4}, 4, 2, 0.3f, 22), (std::vector<std::uint32_t>{2}));
}

TEST(fuzz_highlight, consecutive_tokens_share_one_pair) {
  std::vector<std::string> t{"The", " cat", " sat", " down"};
  std::vector<std::uint32_t> run{1, 2}, apart{0, 3}, past{3, 9};
  EXPECT_EQ(sc::highlighted_text(t, run), "The<< cat sat>> down");
  EXPECT_EQ(sc::highlighted_text(t, apart), "<<The>> cat sat<< down>>");
  EXPECT_EQ(sc::highlighted_text(t, past), "The cat sat<< down>>");
  EXPECT_EQ(sc::highlighted_text(t, {}), "The cat sat down");
  EXPECT_EQ(sc::highlighted_spans(t, run), (std::vector<std::string>{" cat sat"}));
  EXPECT_EQ(sc::highlighted_spans(t, apart), (std::vector<std::string>{"The", " down"}));
}

TEST(fuzz_samples, standard_type_highlights_activating_tokens_and_random_ones_elsewhere) {
  rec::latent_record r;
  r.latent = {"m", 0};
  // Nonzero counts 2, 3, 3: ceil(8 / 3) = 3 wrong highlights per non-activating window.
  r.test = {act(words_of(32), std::vector<float>(32, 0), 0, 100), act(words_of(32), std::vector<float>(32, 0), 1, 200),
            act(words_of(32), std::vector<float>(32, 0), 2, 300)};
  r.test[0].activations = {0, 0, 0, 1.f, 0.2f};
  r.test[1].activations = {0, 0, 0, 0, 0, 2.f, 0.6f, 0.1f};
  r.test[2].activations = {1.f, 1.f, 1.f};
  for (auto& ex : r.test) ex.activations.resize(32, 0.f);
  for (std::uint32_t i = 0; i < 4; ++i) r.non_activating.push_back(silent(words_of(32), 0, 1000 * (i + 1)));
  auto s = sc::build_samples(r, scorer_kind::fuzz);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->size(), 7u);
  for (auto const& x : *s) {
    if (!x.activating) {
      EXPECT_EQ(x.highlighted, (std::vector<std::uint32_t>{24, 30, 31}));  // same picks as delphi's, every window
      continue;
    }
    switch (x.tokens[0]) {
      case 100: EXPECT_EQ(x.highlighted, (std::vector<std::uint32_t>{3})); break;  // 0.2 < 0.3
      case 200: EXPECT_EQ(x.highlighted, (std::vector<std::uint32_t>{5, 6})); break;  // 0.6 = 0.3 x 2
      case 300: EXPECT_EQ(x.highlighted, (std::vector<std::uint32_t>{0, 1, 2})); break;
      default: ADD_FAILURE() << "unexpected sample";
    }
  }
  auto three = sc::build_samples(r, scorer_kind::fuzz, {.highlight_seed = 3});
  for (auto const& x : *three)
    if (!x.activating) {
      EXPECT_EQ(x.highlighted.size(), 3u);
      EXPECT_TRUE(std::count(x.highlighted.begin(), x.highlighted.end(), 24u) == 1);
    }
}

TEST(fuzz_samples, active_type_highlights_inactive_tokens_of_activating_copies) {
  rec::latent_record r;
  r.latent = {"m", 0};
  std::vector<float> fires{0, 0, 0, 0, 0, 0, 5, 0};
  r.test = {act(words_of(8), fires, 3, 100), act(words_of(8), fires, 5, 200)};
  r.non_activating = {silent(words_of(8), 0, 900)};
  auto s = sc::build_samples(r, scorer_kind::fuzz, {.fuzz = sc::fuzz_type::active});
  ASSERT_TRUE(s);
  ASSERT_EQ(s->size(), 4u);  // the non-activating window is not used
  int copies = 0;
  for (auto const& x : *s) {
    EXPECT_NE(x.tokens[0], 900u);
    EXPECT_EQ(x.activations, fires);  // copies keep their activations, as delphi's do
    if (x.activating) {
      EXPECT_EQ(x.highlighted, (std::vector<std::uint32_t>{6}));
      EXPECT_EQ(x.distance, x.tokens[0] == 100 ? 3 : 5);
    } else {
      ++copies;
      EXPECT_EQ(x.distance, -1);
      EXPECT_EQ(x.highlighted, (std::vector<std::uint32_t>{1}));  // one nonzero token per example -> 1
    }
  }
  EXPECT_EQ(copies, 2);
  EXPECT_EQ(sc::parse_fuzz_type("default"), sc::fuzz_type::standard);
  EXPECT_EQ(sc::parse_fuzz_type("active"), sc::fuzz_type::active);
  EXPECT_FALSE(sc::parse_fuzz_type("hard"));
  EXPECT_EQ(sc::fuzz_type_name(sc::fuzz_type::standard), "default");
  EXPECT_EQ(sc::parse_scorer_kind(sc::scorer_name(scorer_kind::fuzz)), scorer_kind::fuzz);
  EXPECT_EQ(sc::scorer_name(scorer_kind::detection), "detection");
}

// --- prompts ----------------------------------------------------------------------------------------

TEST(scoring_prompt, explanation_once_then_numbered_examples_after_the_stable_text) {
  rec::latent_record r;
  r.latent = {"m", 1};
  for (std::uint32_t i = 0; i < 4; ++i) r.test.push_back(act({"In", " June", " we"}, {0, 1, 0}, i, 10 * i));
  for (std::uint32_t i = 0; i < 3; ++i) r.non_activating.push_back(silent({"No", " month", " here"}, 0, 100 + i));
  auto samples = sc::build_samples(r, scorer_kind::detection);
  ASSERT_TRUE(samples);
  auto batches = sc::split_batches(std::as_const(*samples));
  ASSERT_EQ(batches.size(), 2u);
  std::string const explanation = "the token \" June\"";
  auto req = sc::build_scoring_request(scorer_kind::detection, explanation, batches[0], {}, "some/model");
  EXPECT_EQ(req.model, "some/model");
  ASSERT_EQ(req.messages.size(), 6u);  // system, two worked exchanges, the prompt
  EXPECT_EQ(req.messages[0].role, "system");
  EXPECT_EQ(req.messages[0].content, sc::scoring_system_prompt(scorer_kind::detection));
  EXPECT_EQ(req.messages[1].role, "user");
  EXPECT_EQ(req.messages[2].role, "assistant");
  EXPECT_EQ(req.messages[5].role, "user");
  std::string expected = "Explanation: " + explanation + "\n\nTexts to judge (5):";
  for (std::size_t k = 0; k < 5; ++k) expected += "\n\nExample " + std::to_string(k + 1) + ": " + batches[0][k].text();
  EXPECT_EQ(req.messages[5].content, expected);
  std::string all;
  for (auto const& m : req.messages) all += m.content + "\n";
  EXPECT_EQ(count_of(all, explanation), 1u);
  EXPECT_FALSE(req.logprobs);
  EXPECT_EQ(req.top_logprobs, 0u);
  EXPECT_NE(req.messages[0].content.find("[1,0,0,1,1]"), std::string::npos);

  // The short last batch, another explanation: everything before the last message is unchanged,
  // and two prompts of one latent share the explanation as a prefix of the last message.
  auto last = sc::build_scoring_request(scorer_kind::detection, explanation, batches[1], {.logprobs = true});
  ASSERT_EQ(last.messages.size(), 6u);
  EXPECT_EQ(last.messages[5].content.find("Explanation: " + explanation + "\n\nTexts to judge (2):\n\nExample 1: "), 0u);
  EXPECT_EQ(last.messages[5].content.find("Example 3:"), std::string::npos);
  EXPECT_TRUE(last.logprobs);
  EXPECT_EQ(last.top_logprobs, 5u);
  auto other = sc::build_scoring_request(scorer_kind::detection, "months", batches[1]);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(other.messages[i].content, req.messages[i].content);

  auto bare = sc::build_scoring_request(scorer_kind::detection, explanation, batches[0], {.worked_examples = false});
  ASSERT_EQ(bare.messages.size(), 2u);
  EXPECT_EQ(bare.messages[1].content, expected);

  // The worked answers have one entry per example they show.
  for (auto kind : {scorer_kind::detection, scorer_kind::fuzz}) {
    auto w = sc::build_scoring_request(kind, explanation, batches[0]);
    for (std::size_t i = 1; i + 1 < w.messages.size(); i += 2) {
      std::size_t const n = count_of(w.messages[i].content, "\n\nExample ");
      EXPECT_TRUE(sc::parse_predictions(w.messages[i + 1].content, n).has_value()) << w.messages[i].content;
    }
  }
}

TEST(scoring_prompt, fuzz_examples_show_their_highlights) {
  rec::latent_record r;
  r.test = {act({"In", " June", " we"}, {0, 1, 0})};
  r.non_activating = {silent({"No", " month", " here", " at", " all"})};
  auto samples = sc::build_samples(r, scorer_kind::fuzz, {.seed = 1});
  ASSERT_TRUE(samples);
  auto req = sc::build_scoring_request(scorer_kind::fuzz, "June", *samples);
  EXPECT_NE(req.messages[0].content.find("<<"), std::string::npos);
  auto const& last = req.messages.back().content;
  EXPECT_EQ(last.find("Explanation: June\n\nTexts with marked tokens to judge (2):\n\nExample 1: "), 0u);
  EXPECT_NE(last.find("In<< June>> we"), std::string::npos);
  EXPECT_NE(last.find("No month here at<< all>>"), std::string::npos);  // 5 - 5 / 4 = 4
  auto plain = sc::build_scoring_request(scorer_kind::detection, "June", *samples);
  EXPECT_EQ(plain.messages.back().content.find("<<"), std::string::npos);
}

// --- parsing answers --------------------------------------------------------------------------------

TEST(parse_scoring_answer, takes_the_last_list_of_the_right_length) {
  using v = std::vector<bool>;
  EXPECT_EQ(sc::parse_predictions("[1,0,1]", 3), (v{true, false, true}));
  EXPECT_EQ(sc::parse_predictions("Sure!\n```json\n[ 1, 0,\n  1 ]\n```\nDone.", 3), (v{true, false, true}));
  EXPECT_EQ(sc::parse_predictions("First [0,0,0], on reflection [1,1,0].", 3), (v{true, true, false}));
  EXPECT_EQ(sc::parse_predictions("[1,0,1] and later [1,0]", 3), (v{true, false, true}));  // wrong length ignored
  EXPECT_EQ(sc::parse_predictions("[true, false, True, False]", 4), (v{true, false, true, false}));
  EXPECT_EQ(sc::parse_predictions("[[1,0,1]]", 3), (v{true, false, true}));
  EXPECT_EQ(sc::parse_predictions("[1,0,1] [1,2,0]", 3), (v{true, false, true}));
  EXPECT_FALSE(sc::parse_predictions("[1,0]", 3));
  EXPECT_FALSE(sc::parse_predictions("[1,2,0]", 3));
  EXPECT_FALSE(sc::parse_predictions("[1.0,0,1]", 3));
  EXPECT_FALSE(sc::parse_predictions("[10,0,1]", 3));
  EXPECT_FALSE(sc::parse_predictions("[\"1\",0,1]", 3));
  EXPECT_FALSE(sc::parse_predictions("[1,0,1,]", 3));
  EXPECT_FALSE(sc::parse_predictions("[1,0,1", 3));
  EXPECT_FALSE(sc::parse_predictions("[yes, no, yes]", 3));
  EXPECT_FALSE(sc::parse_predictions("1, 0, 1", 3));
  EXPECT_FALSE(sc::parse_predictions("", 3));
  EXPECT_FALSE(sc::parse_predictions(std::string("\0[1]\xff", 5), 2));
  EXPECT_EQ(sc::parse_predictions(std::string("\0[1]\xff", 5), 1), (v{true}));
}

TEST(parse_scoring_answer, huge_inputs_parse_in_linear_time) {
  std::string brackets(4'000'000, '[');
  std::string open_list = "[";
  for (int i = 0; i < 1'000'000; ++i) open_list += "1,";
  std::string many_lists;
  for (int i = 0; i < 200'000; ++i) many_lists += "[1,0] ";
  auto const start = std::chrono::steady_clock::now();
  EXPECT_FALSE(sc::parse_predictions(brackets, 5));
  EXPECT_FALSE(sc::parse_predictions(open_list, 5));
  EXPECT_EQ(sc::parse_predictions(open_list + " ok: [0,1,1,0,1]", 5), (std::vector<bool>{false, true, true, false, true}));
  EXPECT_FALSE(sc::parse_predictions(many_lists, 5));
  EXPECT_EQ(sc::parse_predictions(many_lists, 2)->size(), 2u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST(parse_scoring_answer, probabilities_from_top_logprobs) {
  using ai::llm::token_logprob;
  auto tl = [](std::string token, std::vector<std::pair<std::string, double>> top) {
    token_logprob t;
    t.token = std::move(token);
    for (auto& [s, p] : top) t.top.push_back({s, std::log(p)});
    t.logprob = t.top.empty() ? 0 : t.top[0].logprob;
    return t;
  };
  std::vector<token_logprob> lp{tl("[", {{"[", 1}}), tl("1", {{"1", 0.7}, {"0", 0.2}, {"2", 0.1}}), tl(",", {{",", 1}}),
                                tl(" 0", {{" 0", 0.6}, {" 1", 0.3}}), tl(",", {{",", 1}}),
                                tl("1", {{"1", 0.5}, {" 1", 0.3}, {"0", 0.2}}), tl("]", {{"]", 1}})};
  auto a = sc::parse_scoring_answer("[1, 0,1]", 3, lp);
  ASSERT_TRUE(a.parsed);
  EXPECT_EQ(a.predictions, (std::vector<bool>{true, false, true}));
  ASSERT_EQ(a.probabilities.size(), 3u);
  EXPECT_NEAR(*a.probabilities[0], 0.7 / 0.9, 1e-12);
  EXPECT_NEAR(*a.probabilities[1], 0.3 / 0.9, 1e-12);
  EXPECT_NEAR(*a.probabilities[2], 0.8 / 1.0, 1e-12);  // "1" and " 1" add up

  // Prose before the list that the logprobs do not cover; merged tokens such as "[1" and ",0]".
  std::vector<token_logprob> merged{tl("[1", {{"[1", 0.9}, {"[0", 0.1}}), tl(",0]", {{",0]", 0.4}, {",1]", 0.4}})};
  auto b = sc::parse_scoring_answer("My answer: [1,0]", 2, merged);
  ASSERT_TRUE(b.parsed);
  EXPECT_NEAR(*b.probabilities[0], 0.9, 1e-12);
  EXPECT_NEAR(*b.probabilities[1], 0.5, 1e-12);

  // No 0 or 1 among the alternatives: null; the chosen token counts when it is not listed.
  std::vector<token_logprob> odd{tl("[", {}), tl("1", {{"yes", 0.9}}), tl(",", {}), tl("0", {{"x", 0.5}}), tl("]", {})};
  odd[1].top.clear();
  odd[1].logprob = std::log(0.8);
  auto c = sc::parse_scoring_answer("[1,0]", 2, odd);
  EXPECT_NEAR(*c.probabilities[0], 1.0, 1e-12);  // only the chosen "1" is known
  EXPECT_NEAR(*c.probabilities[1], 0.0, 1e-12);  // the chosen "0" (not among "x")
  token_logprob none = tl("1", {{"a", 0.5}, {"b", 0.5}});
  none.token = "maybe";
  EXPECT_FALSE(sc::binary_probability(none));

  // Logprobs of some other text: nulls; no logprobs: nulls; not parsed: nothing.
  std::vector<token_logprob> unrelated{tl("hello", {{"hello", 1}})};
  auto d = sc::parse_scoring_answer("[1,0]", 2, unrelated);
  ASSERT_TRUE(d.parsed);
  EXPECT_FALSE(d.probabilities[0] || d.probabilities[1]);
  auto e = sc::parse_scoring_answer("[1,0]", 2);
  EXPECT_EQ(e.probabilities.size(), 2u);
  EXPECT_FALSE(e.probabilities[0]);
  auto f = sc::parse_scoring_answer("no list", 2, lp);
  EXPECT_FALSE(f.parsed);
  EXPECT_TRUE(f.predictions.empty());
}

TEST(parse_scoring_answer, apply_answer_fills_or_nulls_a_batch) {
  std::vector<sc::score_sample> batch(3);
  batch[0].activating = true;
  auto ok = sc::parse_scoring_answer("[1,0,0]", 3);
  ok.probabilities[2] = 0.25;
  sc::apply_answer(batch, ok);
  EXPECT_EQ(batch[0].prediction, true);
  EXPECT_EQ(batch[0].correct(), true);
  EXPECT_EQ(batch[1].prediction, false);
  EXPECT_EQ(batch[1].correct(), true);
  EXPECT_EQ(batch[2].probability, 0.25);
  sc::apply_answer(batch, sc::parse_scoring_answer("[1,0]", 2));  // wrong size: the batch failed
  for (auto const& s : batch) {
    EXPECT_FALSE(s.prediction);
    EXPECT_FALSE(s.probability);
    EXPECT_FALSE(s.correct());
  }
  sc::apply_answer(batch, sc::scoring_answer{});
  EXPECT_FALSE(batch[0].prediction);
}

// --- keyword baseline -------------------------------------------------------------------------------

TEST(keyword_baseline, quoted_strings) {
  using v = std::vector<std::string>;
  EXPECT_EQ(sc::quoted_strings("the token \" June\", “July”, 'Aug' and `Sep`"), (v{" June", "July", "Aug", "Sep"}));
  EXPECT_EQ(sc::quoted_strings("the feature's favourite: 'it's' and ‘don’t’"), (v{"it's", "don’t"}));
  EXPECT_EQ(sc::quoted_strings("Statistical baseline (no LLM): active on \"\\n\" (60%), \"\\\"\" (40%), \" June\""),
            (v{"\n", "\"", " June"}));
  EXPECT_EQ(sc::quoted_strings("\"a\" \"a\" \"\" \"b"), (v{"a"}));  // duplicates, empty, unclosed
  EXPECT_TRUE(sc::quoted_strings("no quotes at all, isn't it").empty());
}

TEST(keyword_baseline, detection_contains_and_fuzz_spans_equal) {
  std::vector<sc::score_sample> batch(4);
  batch[0].str_tokens = {"In", " June", " we"};
  batch[0].highlighted = {1};
  batch[1].str_tokens = {"In", " June", " we"};
  batch[1].highlighted = {1, 2};  // one span " June we"
  batch[2].str_tokens = {"July", " and", " June"};
  batch[2].highlighted = {0, 2};  // spans "July" and " June"
  batch[3].str_tokens = {"Nothing", " here"};
  batch[3].highlighted = {};
  auto det = sc::keyword_answer(scorer_kind::detection, "the token \" June\"", batch);
  EXPECT_TRUE(det.parsed);
  EXPECT_EQ(det.predictions, (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(det.probabilities.size(), 4u);
  auto fuzz = sc::keyword_answer(scorer_kind::fuzz, "the token \" June\"", batch);
  EXPECT_EQ(fuzz.predictions, (std::vector<bool>{true, false, false, false}));
  auto both = sc::keyword_answer(scorer_kind::fuzz, "\"June\" or \"July\"", batch);
  EXPECT_EQ(both.predictions, (std::vector<bool>{true, false, true, false}));
  auto none = sc::keyword_answer(scorer_kind::detection, "months of summer", batch);
  EXPECT_EQ(none.predictions, (std::vector<bool>(4, false)));
  std::vector<sc::score_sample> newline(1);
  newline[0].str_tokens = {"a", "\n", "b"};
  newline[0].highlighted = {1};
  EXPECT_EQ(sc::keyword_answer(scorer_kind::fuzz, "\"\\n\"", newline).predictions, (std::vector<bool>{true}));
}

// --- score files ------------------------------------------------------------------------------------

TEST(score_file, round_trip) {
  std::vector<sc::score_sample> s(3);
  s[0].str_tokens = {"say \"hi\"", "\n", "caf\xc3\xa9", "\xf0\x9f\x98\x80"};
  s[0].activations = {0, 1.5f, 0.1f, 3e-7f};
  s[0].distance = 4;
  s[0].quantile = 4;
  s[0].activating = true;
  s[0].highlighted = {1, 2};
  s[0].batch = 2;
  s[0].prediction = true;
  s[0].probability = 0.8125;
  s[1].str_tokens = {"x"};
  s[1].activations = {0};
  s[1].distance = -0.375;
  s[1].prediction = true;
  s[2].str_tokens = {"y"};
  s[2].activations = {0};
  s[2].distance = -1;
  s[2].batch = 7;
  auto const text = sc::to_score_file(s);
  auto doc = boost::json::parse(text);
  ASSERT_TRUE(doc.is_array());
  auto const& o = doc.as_array()[1].as_object();
  for (auto key : {"str_tokens", "activations", "distance", "activating", "prediction", "probability", "correct",
                   "highlighted", "batch"})
    EXPECT_TRUE(o.contains(key)) << key;
  EXPECT_EQ(o.at("correct"), boost::json::value(false));  // predicted activating, is not
  EXPECT_TRUE(doc.as_array()[2].as_object().at("prediction").is_null());
  EXPECT_TRUE(doc.as_array()[2].as_object().at("correct").is_null());
  EXPECT_EQ(doc.as_array()[0].as_object().at("distance"), boost::json::value(4));
  EXPECT_NE(text.find("\"activations\":[0.0,1.5,0.1,3e-07]"), std::string::npos) << text;

  auto back = sc::parse_score_file(text);
  ASSERT_TRUE(back) << back.error().what();
  ASSERT_EQ(back->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    auto const& a = s[i];
    auto const& b = (*back)[i];
    EXPECT_EQ(a.str_tokens, b.str_tokens);
    EXPECT_EQ(a.activations, b.activations);
    EXPECT_EQ(a.distance, b.distance);
    EXPECT_EQ(a.activating, b.activating);
    EXPECT_EQ(a.quantile, b.quantile);
    EXPECT_EQ(a.highlighted, b.highlighted);
    EXPECT_EQ(a.batch, b.batch);
    EXPECT_EQ(a.prediction, b.prediction);
    EXPECT_EQ(a.probability, b.probability);
  }
  EXPECT_EQ(sc::to_score_file(*back), text);
  EXPECT_EQ(sc::to_score_file({}), "[]\n");
  EXPECT_TRUE(sc::parse_score_file("[]\n")->empty());
}

TEST(score_file, odd_values_are_written_as_valid_json) {
  std::vector<sc::score_sample> s(1);
  s[0].str_tokens = {"\xff\xfe broken"};
  s[0].activations = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()};
  s[0].probability = std::numeric_limits<double>::quiet_NaN();
  auto text = sc::to_score_file(s);
  for (unsigned char c : text) EXPECT_LT(c, 0x80);
  auto doc = boost::json::parse(text);
  auto const& o = doc.as_array()[0].as_object();
  EXPECT_EQ(o.at("str_tokens").as_array()[0].as_string(), "\xef\xbf\xbd\xef\xbf\xbd broken");
  EXPECT_TRUE(o.at("activations").as_array()[0].is_null());
  EXPECT_TRUE(o.at("probability").is_null());
  EXPECT_TRUE(sc::parse_score_file(text));
}

TEST(score_file, reads_delphi_files_without_our_fields) {
  // orjson's output for delphi's ClassifierOutput list (prediction null for a failed batch).
  std::string const delphi =
      R"([{"str_tokens":["The"," cat"],"activations":[0.0,2.5],"distance":3,"activating":true,"prediction":true,)"
      R"("probability":0.91,"correct":true},{"str_tokens":["A"," dog"],"activations":[0,0],"distance":-1.0,)"
      R"("activating":false,"prediction":null,"probability":null,"correct":null},{"activations":[],)"
      R"("distance":-0.5,"activating":false,"prediction":0,"probability":null,"correct":true}])";
  auto s = sc::parse_score_file(delphi, "scores/fuzz/m_latent3.txt");
  ASSERT_TRUE(s) << s.error().what();
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ((*s)[0].str_tokens, (std::vector<std::string>{"The", " cat"}));
  EXPECT_EQ((*s)[0].activations, (std::vector<float>{0, 2.5f}));
  EXPECT_EQ((*s)[0].quantile, 3u);
  EXPECT_EQ((*s)[0].probability, 0.91);
  EXPECT_TRUE((*s)[0].highlighted.empty());
  EXPECT_EQ((*s)[0].batch, 0u);
  EXPECT_EQ((*s)[1].distance, -1);
  EXPECT_FALSE((*s)[1].prediction);
  EXPECT_TRUE((*s)[2].str_tokens.empty());  // simulation-style entry without str_tokens
  EXPECT_EQ((*s)[2].prediction, false);
}

TEST(score_file, untrusted_input_gives_errors) {
  auto expect_error = [](std::string const& text, std::string const& says) {
    auto r = sc::parse_score_file(text, "f.txt");
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error(), ai::errc::bad_score_file);
    EXPECT_EQ(r.error().message.rfind("f.txt: ", 0), 0u);
    EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
  };
  expect_error("", "not valid JSON");
  expect_error("[{\"activating\": true}", "not valid JSON");
  expect_error("{\"activating\": true}", "list");
  expect_error("[1]", "sample 0");
  expect_error("[{\"activating\": true}, {}]", "sample 1: \"activating\"");
  expect_error("[{\"activating\": 1}]", "\"activating\"");
  expect_error("[{\"activating\": true, \"str_tokens\": \"abc\"}]", "\"str_tokens\"");
  expect_error("[{\"activating\": true, \"str_tokens\": [1]}]", "\"str_tokens\"");
  expect_error("[{\"activating\": true, \"activations\": [\"a\"]}]", "\"activations\"");
  expect_error("[{\"activating\": true, \"distance\": \"far\"}]", "\"distance\"");
  expect_error("[{\"activating\": true, \"prediction\": 2}]", "\"prediction\"");
  expect_error("[{\"activating\": true, \"probability\": \"high\"}]", "\"probability\"");
  expect_error("[{\"activating\": true, \"highlighted\": [-1]}]", "\"highlighted\"");
  expect_error("[{\"activating\": true, \"highlighted\": [5000000000]}]", "\"highlighted\"");
  expect_error("[{\"activating\": true, \"batch\": -2}]", "\"batch\"");
  expect_error(std::string(100000, '['), "not valid JSON");
  expect_error("[\"\xff\"]", "not valid JSON");
  std::string big = "[";
  for (int i = 0; i < 20000; ++i) big += "{\"activating\":false,\"str_tokens\":[\"x\"]},";
  big += "{\"activating\":\"no\"}]";
  expect_error(big, "sample 20000");
}

// --- metrics ----------------------------------------------------------------------------------------

namespace {

// Samples of one latent: (activating, prediction, distance) triples.
sc::latent_scores latent(std::string module, std::uint32_t index,
                         std::vector<std::tuple<bool, std::optional<bool>, double>> const& samples) {
  sc::latent_scores l;
  l.latent = {std::move(module), index};
  for (auto const& [a, p, d] : samples) l.samples.push_back(labelled(a, p, d));
  return l;
}

// A: TP 3 FN 1 TN 2 FP 1, one failed. B: TP 2 TN 2, one failed. C: TP 1 FN 1, no negatives. D: TP 1 FN 1 TN 2.
std::vector<sc::latent_scores> four_latents() {
  auto const null = std::nullopt;
  return {latent("m1", 0, {{true, true, 0}, {true, true, 1}, {true, true, 1}, {true, false, 2}, {false, false, -1},
                           {false, false, -1}, {false, true, -0.5}, {true, null, 2}}),
          latent("m1", 1, {{true, true, 0}, {true, true, 2}, {false, false, -1}, {false, false, -1}, {false, null, -1}}),
          latent("m2", 2, {{true, true, 1}, {true, false, 1}}),
          latent("m2", 3, {{true, true, 0}, {true, false, 0}, {false, false, -1}, {false, false, -1}})};
}

// The formulas computed directly from the samples, independently of the library.
struct direct {
  double tp = 0, tn = 0, fp = 0, fn = 0, failed = 0;
  explicit direct(std::vector<sc::latent_scores> const& ls) {
    for (auto const& l : ls)
      for (auto const& s : l.samples) {
        if (!s.prediction) failed += 1;
        else if (s.activating && *s.prediction) tp += 1;
        else if (s.activating) fn += 1;
        else if (*s.prediction) fp += 1;
        else tn += 1;
      }
  }
  double balanced() const { return (tp / (tp + fn) + tn / (tn + fp)) / 2; }
  double precision() const { return tp / (tp + fp); }
  double recall() const { return tp / (tp + fn); }
  double f1() const { return 2 * precision() * recall() / (precision() + recall()); }
};

// sklearn's AUC as the share of (positive, negative) pairs ranked right, ties counting one half.
double pairwise_auc(std::vector<std::pair<double, bool>> const& v) {
  double good = 0, pairs = 0;
  for (auto const& [p, pa] : v)
    for (auto const& [n, na] : v)
      if (pa && !na) {
        pairs += 1;
        good += p > n ? 1 : p == n ? 0.5 : 0;
      }
  return good / pairs;
}

}  // namespace

TEST(metrics, pooled_figures_equal_the_formulas) {
  auto const ls = four_latents();
  auto const s = sc::summarize(ls);
  direct const d(ls);
  EXPECT_EQ(d.tp, 7);
  EXPECT_EQ(d.fn, 3);
  EXPECT_EQ(d.tn, 6);
  EXPECT_EQ(d.fp, 1);
  EXPECT_EQ(s.latents, 4u);
  EXPECT_EQ(s.counts.true_positives, 7u);
  EXPECT_EQ(s.counts.false_negatives, 3u);
  EXPECT_EQ(s.counts.true_negatives, 6u);
  EXPECT_EQ(s.counts.false_positives, 1u);
  EXPECT_EQ(s.counts.failed, 2u);  // null predictions are counted, not scored
  EXPECT_EQ(s.counts.examples(), 17u);
  EXPECT_DOUBLE_EQ(*s.balanced_accuracy, d.balanced());
  EXPECT_DOUBLE_EQ(*s.balanced_accuracy, (7.0 / 10 + 6.0 / 7) / 2);
  EXPECT_DOUBLE_EQ(*s.precision, d.precision());
  EXPECT_DOUBLE_EQ(*s.recall, d.recall());
  EXPECT_DOUBLE_EQ(*s.f1, d.f1());
  EXPECT_FALSE(s.auc);  // no probabilities

  // per_quantile: activating samples with a prediction, by distance; share predicted activating.
  ASSERT_EQ(s.per_quantile.size(), 3u);
  EXPECT_EQ(s.per_quantile[0].quantile, 0);
  EXPECT_EQ(s.per_quantile[0].examples, 4u);  // A, B, D twice
  EXPECT_DOUBLE_EQ(s.per_quantile[0].accuracy, 3.0 / 4);
  EXPECT_EQ(s.per_quantile[1].quantile, 1);
  EXPECT_EQ(s.per_quantile[1].examples, 4u);
  EXPECT_DOUBLE_EQ(s.per_quantile[1].accuracy, 3.0 / 4);
  EXPECT_EQ(s.per_quantile[2].quantile, 2);
  EXPECT_EQ(s.per_quantile[2].examples, 2u);  // A's null one left out
  EXPECT_DOUBLE_EQ(s.per_quantile[2].accuracy, 1.0 / 2);
}

TEST(metrics, per_latent_distribution_excludes_latents_without_both_classes) {
  auto const s = sc::summarize(four_latents());
  auto const& d = s.per_latent;
  EXPECT_EQ(d.latents, 3u);
  EXPECT_EQ(d.excluded, 1u);  // C has no negative
  // A = (3/4 + 2/3) / 2, B = 1, D = (1/2 + 1) / 2; numpy.percentile(..., [25, 50, 75]) and the
  // bootstrap by CPython: random.Random(22), 1000 resamples.
  double const a = (3.0 / 4 + 2.0 / 3) / 2;
  EXPECT_DOUBLE_EQ(*d.median, 0.75);
  EXPECT_DOUBLE_EQ(*d.q1, 0.7291666666666666);
  EXPECT_DOUBLE_EQ(*d.q3, 0.875);
  EXPECT_DOUBLE_EQ(*d.mean, (a + 1 + 0.75) / 3);
  EXPECT_DOUBLE_EQ(*d.ci95_low, 0.7083333333333334);
  EXPECT_DOUBLE_EQ(*d.ci95_high, 1.0);
  auto const m = sc::compute_latent_metrics(four_latents()[2].samples);
  EXPECT_FALSE(m.balanced_accuracy);
  EXPECT_DOUBLE_EQ(*m.f1, 2.0 / 3);
  EXPECT_DOUBLE_EQ(*m.recall, 0.5);
}

TEST(metrics, percentiles_follow_numpy_linear_interpolation) {
  std::vector<double> v{1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(*sc::percentile(v, 25), 1.75);
  EXPECT_DOUBLE_EQ(*sc::percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(*sc::percentile(v, 75), 3.25);
  EXPECT_DOUBLE_EQ(*sc::percentile(v, 2.5), 1.075);
  EXPECT_DOUBLE_EQ(*sc::percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(*sc::percentile(v, 100), 4);
  std::vector<double> w{10, 20, 30, 40, 50};
  EXPECT_DOUBLE_EQ(*sc::percentile(w, 97.5), 49);
  EXPECT_DOUBLE_EQ(*sc::percentile(std::vector<double>{7}, 30), 7);
  EXPECT_FALSE(sc::percentile({}, 50));
  // Bootstrap interval of the mean against CPython: random.Random(seed), 1000 resamples.
  std::vector<double> acc{0.5, 0.55, 0.62, 0.7, 0.71, 0.8, 0.85, 0.9, 0.97, 1.0};
  auto ci = sc::bootstrap_mean_interval(acc, 1000, 22);
  EXPECT_NEAR(ci->first, 0.663, 1e-12);
  EXPECT_NEAR(ci->second, 0.861025, 1e-12);
  auto ci7 = sc::bootstrap_mean_interval(acc, 1000, 7);
  EXPECT_NEAR(ci7->first, 0.66, 1e-12);
  EXPECT_NEAR(ci7->second, 0.854025, 1e-12);
  EXPECT_FALSE(sc::bootstrap_mean_interval({}, 1000, 22));
  EXPECT_FALSE(sc::bootstrap_mean_interval(acc, 0, 22));
}

TEST(metrics, auc_handles_ties_like_sklearn) {
  std::vector<sc::scored_label> doc{{0.1, false}, {0.4, false}, {0.35, true}, {0.8, true}};
  EXPECT_DOUBLE_EQ(*sc::roc_auc(doc), 0.75);  // sklearn's documented example
  std::vector<sc::scored_label> ties{{0.5, false}, {0.5, true}, {0.2, false}, {0.9, true}};
  EXPECT_DOUBLE_EQ(*sc::roc_auc(ties), 0.875);
  std::vector<sc::scored_label> flat{{0.5, false}, {0.5, true}, {0.5, false}};
  EXPECT_DOUBLE_EQ(*sc::roc_auc(flat), 0.5);
  std::vector<sc::scored_label> one_class{{0.1, true}, {0.7, true}};
  EXPECT_FALSE(sc::roc_auc(one_class));
  EXPECT_FALSE(sc::roc_auc(std::span<sc::scored_label const>{}));

  // Many ties over a pooled summary, against the pairwise definition.
  std::vector<sc::latent_scores> ls(2);
  std::vector<std::pair<double, bool>> pairs;
  rec::python_random rng(5);
  for (int i = 0; i < 120; ++i) {
    bool const a = rng.randbelow(2) == 1;
    double const p = static_cast<double>(rng.randbelow(6)) / 5;
    ls[static_cast<std::size_t>(i % 2)].samples.push_back(labelled(a, a, 0, p));
    pairs.emplace_back(p, a);
  }
  ls[0].samples.push_back(labelled(true, std::nullopt));  // no probability: left out
  auto const s = sc::summarize(ls);
  ASSERT_TRUE(s.auc);
  EXPECT_NEAR(*s.auc, pairwise_auc(pairs), 1e-12);
}

TEST(metrics, undefined_figures_are_null_and_weighted_f1_uses_firing_counts) {
  auto const ls = four_latents();
  std::map<std::uint32_t, std::uint64_t> fires{{0, 10}, {1, 30}, {2, 60}};
  auto counts = [&](ai::cache::latent_id const& id) -> std::optional<std::uint64_t> {
    auto it = fires.find(id.index);
    if (it == fires.end()) return std::nullopt;
    return it->second;
  };
  auto const s = sc::summarize(ls, counts);
  // F1: A = 6/8, B = 1, C = 2/3, D unknown count. m1 = (0.75 x 10 + 1 x 30) / 40, m2 = C's; then the mean.
  ASSERT_TRUE(s.weighted_f1);
  EXPECT_DOUBLE_EQ(*s.weighted_f1, ((0.75 * 10 + 1.0 * 30) / 40 + 2.0 / 3) / 2);
  EXPECT_FALSE(sc::summarize(ls).weighted_f1);

  auto const empty = sc::summarize({});
  EXPECT_EQ(empty.latents, 0u);
  EXPECT_FALSE(empty.balanced_accuracy || empty.f1 || empty.precision || empty.recall || empty.auc);
  EXPECT_FALSE(empty.per_latent.median || empty.per_latent.mean || empty.per_latent.ci95_low);
  std::vector<sc::latent_scores> failed{latent("m", 0, {{true, std::nullopt, 0}, {false, std::nullopt, -1}})};
  auto const f = sc::summarize(failed);
  EXPECT_EQ(f.counts.failed, 2u);
  EXPECT_EQ(f.counts.examples(), 0u);
  EXPECT_FALSE(f.balanced_accuracy);
  EXPECT_EQ(f.per_latent.excluded, 1u);
  EXPECT_TRUE(f.per_quantile.empty());

  // A latent with only negatives, all right: precision, recall and F1 are undefined.
  auto const c = sc::count_confusion(latent("m", 0, {{false, false, -1}}).samples);
  EXPECT_FALSE(sc::precision(c) || sc::recall(c) || sc::f1_score(c) || sc::balanced_accuracy(c));
  // No true positive but errors: F1 is 0, as delphi reports it.
  auto const z = sc::count_confusion(latent("m", 0, {{true, false, 0}, {false, true, -1}}).samples);
  EXPECT_EQ(sc::f1_score(z), 0.0);
  EXPECT_FALSE(sc::precision(sc::count_confusion(latent("m", 0, {{true, false, 0}}).samples)));
}

TEST(metrics, summary_json_has_the_issue_shape_and_no_nan) {
  auto const ls = four_latents();
  std::vector<std::pair<std::string, boost::json::object>> scorers{{"detection", sc::to_json(sc::summarize(ls))},
                                                                   {"fuzz", sc::to_json(sc::summarize({}))}};
  auto const o = sc::summary_json(scorers);
  auto const text = sc::to_json_text(o);
  EXPECT_EQ(text.find("NaN"), std::string::npos);
  EXPECT_EQ(text.find("E-"), std::string::npos);  // 0.5, not 5E-1
  auto const parsed = boost::json::parse(text);
  auto const& det = parsed.at("scorers").at("detection").as_object();
  for (auto key : {"latents", "examples", "failed", "balanced_accuracy", "f1", "precision", "recall", "auc",
                   "true_positives", "true_negatives", "false_positives", "false_negatives", "per_quantile",
                   "per_latent", "weighted_f1"})
    EXPECT_TRUE(det.contains(key)) << key;
  EXPECT_EQ(det.at("latents"), boost::json::value(4));
  EXPECT_EQ(det.at("examples"), boost::json::value(17));
  EXPECT_EQ(det.at("failed"), boost::json::value(2));
  EXPECT_TRUE(det.at("auc").is_null());
  EXPECT_TRUE(det.at("weighted_f1").is_null());
  EXPECT_DOUBLE_EQ(det.at("balanced_accuracy").as_double(), (7.0 / 10 + 6.0 / 7) / 2);
  auto const& q = det.at("per_quantile").as_array();
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].at("quantile"), boost::json::value(0));
  EXPECT_EQ(q[2].at("examples"), boost::json::value(2));
  EXPECT_DOUBLE_EQ(q[2].at("accuracy").as_double(), 0.5);
  auto const& pl = det.at("per_latent").as_object();
  for (auto key : {"median", "q1", "q3", "mean", "ci95"}) EXPECT_TRUE(pl.contains(key)) << key;
  EXPECT_EQ(pl.at("ci95").as_array().size(), 2u);
  EXPECT_EQ(pl.at("excluded"), boost::json::value(1));
  auto const& fuzz = parsed.at("scorers").at("fuzz").as_object();
  EXPECT_TRUE(fuzz.at("balanced_accuracy").is_null());
  EXPECT_TRUE(fuzz.at("per_latent").at("median").is_null());
  EXPECT_TRUE(fuzz.at("per_latent").at("ci95").is_null());
  EXPECT_EQ(fuzz.at("examples"), boost::json::value(0));
}

// --- the fake brain and the whole core on hand-built records ------------------------------------------

namespace {

// A planted single-token latent: it fires on " June" (and weakly on the token after it, below the
// fuzz threshold), in 16-token windows of filler words; non-activating windows never hold " June".
rec::latent_record planted_record(std::uint32_t index, std::size_t n_test = 20, std::size_t n_silent = 20) {
  static std::vector<std::string> const filler{" the", " a", " river", " stone", " green", " walked", " slowly", " over",
                                               " and", " bright", " of", " city", " old", " ran", " quiet", " field"};
  rec::python_random rng(index + 100);
  auto window = [&](bool with_june, std::vector<float>* acts) {
    std::vector<std::string> w;
    for (int i = 0; i < 16; ++i) w.push_back(filler[static_cast<std::size_t>(rng.randbelow(filler.size()))]);
    w[0] = " the";  // every window holds " the"
    if (with_june) {
      auto const at = 2 + static_cast<std::size_t>(rng.randbelow(12));
      w[at] = " June";
      acts->assign(16, 0.f);
      (*acts)[at] = 4.f + static_cast<float>(rng.randbelow(4));
      (*acts)[at + 1] = 0.5f;
    }
    return w;
  };
  rec::latent_record r;
  r.latent = {"layers.3", index};
  for (std::size_t i = 0; i < n_test; ++i) {
    std::vector<float> acts;
    auto w = window(true, &acts);
    r.train.push_back(act(w, acts, static_cast<std::uint32_t>(i % 10), static_cast<std::uint32_t>(1000 * i)));
    r.test.push_back(act(w, acts, static_cast<std::uint32_t>(i % 10), static_cast<std::uint32_t>(1000 * i + 100)));
  }
  for (std::size_t i = 0; i < n_silent; ++i)
    r.non_activating.push_back(silent(window(false, nullptr), i % 2 ? 0.f : 0.25f, static_cast<std::uint32_t>(500 * i)));
  return r;
}

// Scores `record` with `explanation` the way a scorer stage will: samples, one request per batch,
// the fake's answer, parsed and applied; then through a score file and back.
sc::latent_scores score_with_fake(rec::latent_record const& record, scorer_kind kind, std::string const& explanation,
                                  sc::scoring_options const& options = {}) {
  auto samples = sc::build_samples(record, kind, options);
  EXPECT_TRUE(samples);
  for (auto batch : sc::split_batches(*samples)) {
    auto const req = sc::build_scoring_request(kind, explanation, std::span<sc::score_sample const>(batch), options);
    auto const answer = ai::testing::answer_scoring(req.messages.back().content);
    auto const parsed = sc::parse_scoring_answer(answer, batch.size());
    EXPECT_TRUE(parsed.parsed) << answer;
    sc::apply_answer(batch, parsed);
  }
  auto back = sc::parse_score_file(sc::to_score_file(*samples));
  EXPECT_TRUE(back);
  return {record.latent, std::move(*back), {}};
}

}  // namespace

TEST(fake_brain, scores_a_prompt_built_by_the_builder) {
  rec::latent_record r;
  r.test = {act({"In", " June", " we"}, {0, 3, 0}, 0, 10), act({"Late", " June", " rain"}, {0, 2, 0}, 1, 20)};
  r.non_activating = {silent({"No", " month", " here", " at", " all"}, 0, 30),
                      silent({"Just", " June", "bug", " talk", " now"}, 0, 40)};
  for (auto kind : {scorer_kind::detection, scorer_kind::fuzz}) {
    auto samples = sc::build_samples(r, kind);
    ASSERT_TRUE(samples);
    auto const req = sc::build_scoring_request(kind, "the token \" June\"", *samples);
    auto const predictions = ai::testing::scoring_predictions(req.messages.back().content);
    ASSERT_EQ(predictions.size(), samples->size());
    for (std::size_t i = 0; i < samples->size(); ++i) {
      auto const& s = (*samples)[i];
      // Detection: the text contains " June" (the window with "Junebug" too); fuzz: only true highlights.
      bool const expected = kind == scorer_kind::detection ? s.text().find(" June") != std::string::npos : s.activating;
      EXPECT_EQ(predictions[i], expected) << sc::example_text(s, kind);
    }
  }
  // Prompts that are not scoring prompts get the explaining answer.
  EXPECT_FALSE(ai::testing::is_scoring_prompt("Excerpt 1: In<< June>> we"));
  EXPECT_EQ(ai::testing::explaining_answer("Excerpt 1: In<< June>> we\n\nExcerpt 2: a<< June>>"),
            "The excerpts share one marked token.\n\n**[EXPLANATION]:** the token \" June\"");
}

TEST(fake_brain, answers_over_the_wire_with_logprobs) {
  auto const r = planted_record(1, 3, 2);
  auto samples = sc::build_samples(r, scorer_kind::detection, {.logprobs = true});
  ASSERT_TRUE(samples);
  auto const req = sc::build_scoring_request(scorer_kind::detection, "the token \" June\"", *samples, {.logprobs = true});
  ai::testing::fake_request fr;
  fr.body = ai::llm::serialize_request(req);
  fr.json = boost::json::parse(fr.body);
  auto const reply = ai::testing::fake_brain(fr);
  auto const response = ai::llm::parse_chat_response(reply.body, {});
  ASSERT_TRUE(response);
  auto const a = sc::parse_scoring_answer(response->text, samples->size(), response->logprobs);
  ASSERT_TRUE(a.parsed) << response->text;
  for (std::size_t i = 0; i < samples->size(); ++i) {
    EXPECT_EQ(a.predictions[i], (*samples)[i].activating);
    ASSERT_TRUE(a.probabilities[i]);
    EXPECT_EQ(*a.probabilities[i], (*samples)[i].activating ? 1.0 : 0.0);
  }
  // Any other prompt: the explaining answer.
  ai::testing::fake_request explain;
  explain.json = boost::json::parse(R"({"messages":[{"role":"user","content":"Excerpt 1: a<< June>> b"}]})");
  auto const ex = ai::llm::parse_chat_response(ai::testing::fake_brain(explain).body, {});
  ASSERT_TRUE(ex);
  EXPECT_EQ(ai::explain::parse_answer(ex->text).explanation, "the token \" June\"");
}

TEST(score_end_to_end, planted_latents_score_high_and_an_unrelated_token_scores_half) {
  std::vector<rec::latent_record> records;
  for (std::uint32_t i = 0; i < 6; ++i) records.push_back(planted_record(i));
  std::map<scorer_kind, std::vector<sc::latent_scores>> good, unrelated, keywords;
  std::vector<sc::latent_scores> active_fuzz;
  for (auto const& r : records) {
    // The fake explains the latent from the explainer's own prompt.
    auto const prompt = ai::explain::build_prompt(r, {});
    ASSERT_TRUE(prompt);
    auto const explanation = ai::explain::parse_answer(ai::testing::explaining_answer(prompt->messages.back().content));
    ASSERT_TRUE(explanation.parsed);
    ASSERT_EQ(explanation.explanation, "the token \" June\"");
    for (auto kind : {scorer_kind::detection, scorer_kind::fuzz}) {
      good[kind].push_back(score_with_fake(r, kind, explanation.explanation));
      unrelated[kind].push_back(score_with_fake(r, kind, "the token \" the\""));
      auto samples = *sc::build_samples(r, kind);
      auto const statistical = ai::explain::statistical_explanation(r);
      for (auto batch : sc::split_batches(samples))
        sc::apply_answer(batch, sc::keyword_answer(kind, statistical, std::span<sc::score_sample const>(batch)));
      keywords[kind].push_back({r.latent, std::move(samples), {}});
    }
    active_fuzz.push_back(score_with_fake(r, scorer_kind::fuzz, explanation.explanation, {.fuzz = sc::fuzz_type::active}));
  }
  for (auto kind : {scorer_kind::detection, scorer_kind::fuzz}) {
    auto const s = sc::summarize(good[kind]);
    EXPECT_EQ(s.counts.failed, 0u);
    EXPECT_EQ(s.counts.examples(), 6u * 40);
    EXPECT_GE(*s.balanced_accuracy, 0.9) << sc::scorer_name(kind);
    EXPECT_GE(*s.per_latent.median, 0.9);
    auto const u = sc::summarize(unrelated[kind]);
    EXPECT_NEAR(*u.balanced_accuracy, 0.5, 0.1) << sc::scorer_name(kind);
    auto const k = sc::summarize(keywords[kind]);
    EXPECT_GE(*k.balanced_accuracy, 0.9) << sc::scorer_name(kind) << ": " << ai::explain::statistical_explanation(records[0]);
  }
  EXPECT_DOUBLE_EQ(*sc::summarize(unrelated[scorer_kind::detection]).balanced_accuracy, 0.5);  // every window has " the"
  auto const a = sc::summarize(active_fuzz);
  EXPECT_EQ(a.counts.examples(), 6u * 40);
  EXPECT_GE(*a.balanced_accuracy, 0.9);
}
