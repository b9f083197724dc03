// The simulation, intruder and embedding scorers' pure parts: samples and prompts, answer parsing,
// score files, formulas (checked against independent computations) and summaries; and the fake
// LLM answering prompts built by the builders.
#include <autointerp/score/embedding_metrics.hpp>
#include <autointerp/score/embedding_scorer.hpp>
#include <autointerp/score/intruder_metrics.hpp>
#include <autointerp/score/intruder_prompt.hpp>
#include <autointerp/score/run_summary.hpp>
#include <autointerp/score/score_file.hpp>
#include <autointerp/score/simulation_metrics.hpp>
#include <autointerp/score/simulation_prompt.hpp>
#include <autointerp/score/simulation_scorer.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fake_answers.hpp"

namespace ai = autointerp;
namespace sc = autointerp::score;
namespace rec = autointerp::records;
namespace llm = autointerp::llm;

namespace {

rec::activating_example act(std::vector<std::string> words, std::vector<float> acts, std::uint32_t quantile,
                            std::vector<std::uint8_t> levels = {}) {
  rec::activating_example ex;
  for (std::size_t i = 0; i < words.size(); ++i) ex.tokens.push_back(static_cast<std::uint32_t>(100 + i));
  ex.str_tokens = std::move(words);
  ex.activations = std::move(acts);
  ex.quantile = quantile;
  ex.levels = std::move(levels);
  return ex;
}

rec::non_activating_example silent(std::vector<std::string> words) {
  rec::non_activating_example ex;
  for (std::size_t i = 0; i < words.size(); ++i) ex.tokens.push_back(static_cast<std::uint32_t>(i));
  ex.str_tokens = std::move(words);
  ex.distance = -1;
  return ex;
}

// A planted-token record: `n` test examples per quantile (0..q-1), "cat" firing at position 1, and
// `n_silent` windows without it.
rec::latent_record cat_record(std::size_t quantiles, std::size_t n, std::size_t n_silent, std::uint32_t latent = 7) {
  rec::latent_record r;
  r.latent = {"layers.0", latent};
  for (std::uint32_t q = 0; q < quantiles; ++q)
    for (std::size_t i = 0; i < n; ++i)
      r.test.push_back(act({"The", " cat", " sat", " down"}, {0.f, 2.f, 0.f, 0.f}, q, {0, 10, 0, 0}));
  for (std::size_t i = 0; i < n_silent; ++i) r.non_activating.push_back(silent({"A", " dog", " ran", " off"}));
  return r;
}

// Pearson's r by the one-pass textbook formula in long double: an independent computation.
std::optional<double> textbook_r(std::vector<double> const& x, std::vector<double> const& y) {
  long double n = static_cast<long double>(x.size()), sx = 0, sy = 0, sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sx += x[i], sy += y[i], sxy += static_cast<long double>(x[i]) * y[i];
    sxx += static_cast<long double>(x[i]) * x[i], syy += static_cast<long double>(y[i]) * y[i];
  }
  long double const vx = n * sxx - sx * sx, vy = n * syy - sy * sy;
  if (vx <= 0 || vy <= 0) return std::nullopt;
  return static_cast<double>((n * sxy - sx * sy) / std::sqrt(vx * vy));
}

sc::score_sample simulated(std::vector<std::uint8_t> truth, std::optional<std::vector<double>> sim, bool activating = true,
                           double distance = 0) {
  sc::score_sample s;
  s.true_levels = std::move(truth);
  s.simulated = std::move(sim);
  s.activating = activating;
  s.distance = distance;
  s.str_tokens.assign(s.true_levels.size(), " t");
  s.activations.assign(s.true_levels.size(), 0.f);
  return s;
}

// A latent's scores, fields set one by one (g++ 12 warns on brace-initialised latent ids).
sc::latent_scores scores_of(std::uint32_t latent, std::vector<sc::score_sample> samples,
                            std::vector<sc::intruder_trial> trials = {}) {
  sc::latent_scores l;
  l.latent.module = "m";
  l.latent.index = latent;
  l.samples = std::move(samples);
  l.trials = std::move(trials);
  return l;
}

std::vector<llm::token_logprob> tokens_of(std::vector<std::string> const& parts) {
  std::vector<llm::token_logprob> out;
  for (auto const& p : parts) out.push_back({p, 0.0, {}});
  return out;
}

}  // namespace

// --- simulation -----------------------------------------------------------------------------------

TEST(simulation, samples_are_test_and_non_activating_one_per_prompt_with_true_levels) {
  auto const r = cat_record(2, 3, 4);
  auto s = sc::build_simulation_samples(r);
  ASSERT_TRUE(s) << s.error().what();
  ASSERT_EQ(s->size(), 10u);
  std::size_t active = 0;
  for (std::size_t i = 0; i < s->size(); ++i) {
    auto const& x = (*s)[i];
    EXPECT_EQ(x.batch, i);
    ASSERT_EQ(x.true_levels.size(), x.str_tokens.size());
    if (x.activating) {
      ++active;
      EXPECT_EQ(x.true_levels, (std::vector<std::uint8_t>{0, 10, 0, 0}));
    } else {
      EXPECT_EQ(x.true_levels, (std::vector<std::uint8_t>(4, 0)));
      EXPECT_EQ(x.distance, -1);
    }
  }
  EXPECT_EQ(active, 6u);
}

TEST(simulation, prompt_shows_the_explanation_then_the_tokens_as_a_json_array) {
  std::vector<std::string> const tokens = {"The", " cat", " \"q\"", "\n"};
  auto const r = sc::build_simulation_request("the token \" cat\"", tokens);
  ASSERT_GE(r.messages.size(), 4u);
  EXPECT_EQ(r.messages.front().role, "system");
  auto const& last = r.messages.back().content;
  EXPECT_EQ(last, "Explanation: the token \" cat\"\n\nTokens: [\"The\", \" cat\", \" \\\"q\\\"\", \"\\n\"]");
  // The array line is JSON that gives the tokens back.
  auto const parsed = boost::json::parse(last.substr(last.find("Tokens: ") + 8));
  ASSERT_EQ(parsed.as_array().size(), 4u);
  EXPECT_EQ(parsed.as_array()[2].as_string(), " \"q\"");
  // Stable text first: the system prompt and the worked example do not depend on the explanation.
  auto const other = sc::build_simulation_request("something else", tokens);
  for (std::size_t i = 0; i + 1 < r.messages.size(); ++i) EXPECT_EQ(r.messages[i].content, other.messages[i].content);
  EXPECT_FALSE(r.logprobs);
  sc::simulation_prompt_options o;
  o.logprobs = true;
  auto const lp = sc::build_simulation_request("x", tokens, o);
  EXPECT_TRUE(lp.logprobs);
  EXPECT_EQ(lp.top_logprobs, 10u);
}

TEST(simulation, answer_is_the_last_array_of_n_levels_and_never_zeros_when_it_does_not_parse) {
  auto a = sc::parse_simulation_answer("Sure.\n```json\n[0, 3, 10, 0]\n```", 4);
  ASSERT_TRUE(a.parsed);
  EXPECT_EQ(a.levels, (std::vector<double>{0, 3, 10, 0}));
  EXPECT_EQ(sc::parse_simulation_answer("[1,2,3] then [4,5,6]", 3).levels, (std::vector<double>{4, 5, 6}));
  EXPECT_EQ(sc::parse_simulation_answer("[1,2,3] then [4,5]", 3).levels, (std::vector<double>{1, 2, 3}));
  for (char const* bad : {"[0, 11, 0]", "[0, 1.5, 0]", "[0, -1, 0]", "[\"0\", \"1\", \"2\"]", "[0, 1]", "no array", "[0,1,2,]",
                          "[0, 1, 2", "[0, 7a, 1]"}) {
    auto const b = sc::parse_simulation_answer(bad, 3);
    EXPECT_FALSE(b.parsed) << bad;
    EXPECT_TRUE(b.levels.empty()) << bad;
  }
  EXPECT_TRUE(sc::parse_simulation_answer("[]", 0).parsed);
  std::string huge(200000, '[');
  EXPECT_FALSE(sc::parse_simulation_answer(huge, 3).parsed);
}

TEST(simulation, logprobs_give_the_expected_level_over_numeric_alternatives) {
  std::string const text = "[0,10,3]";
  auto lp = tokens_of({"[", "0", ",", "10", ",", "3", "]"});
  lp[1].top = {{"0", std::log(0.5)}, {"1", std::log(0.25)}, {"the", std::log(0.25)}};  // renormalised over 0 and 1
  lp[3].top = {{"10", std::log(0.6)}, {"9", std::log(0.3)}, {" 8", std::log(0.1)}};
  lp[5].top = {{"yes", std::log(0.9)}, {"maybe", std::log(0.1)}};  // the chosen "3" is not listed: it counts
  lp[5].logprob = std::log(0.05);
  auto a = sc::parse_simulation_answer(text, 3, lp);
  ASSERT_TRUE(a.parsed);
  EXPECT_NEAR(a.levels[0], (0 * 0.5 + 1 * 0.25) / 0.75, 1e-12);
  EXPECT_NEAR(a.levels[1], 10 * 0.6 + 9 * 0.3 + 8 * 0.1, 1e-12);
  EXPECT_NEAR(a.levels[2], 3.0, 1e-12);
  EXPECT_EQ(a.expected, 3u);
  // No numeric alternative at all: the written value stays.
  auto none = tokens_of({"[", "4", "]"});
  none[1].token = "4";
  none[1].top = {{"four", -0.1}};
  none[1].logprob = std::nan("");
  auto b = sc::parse_simulation_answer("[4]", 1, none);
  EXPECT_EQ(b.levels, (std::vector<double>{4}));
  EXPECT_EQ(b.expected, 0u);
  // A number split over two tokens keeps its written value (the first token's alternatives are not levels).
  auto split = tokens_of({"[", "1", "0", "]"});
  split[1].top = {{"1", -0.01}, {"2", -5}};
  auto c = sc::parse_simulation_answer("[10]", 1, split);
  EXPECT_EQ(c.levels, (std::vector<double>{10}));
  EXPECT_EQ(c.expected, 0u);
}

TEST(simulation, pearson_r2_and_abs_dev_equal_independent_computations) {
  std::vector<double> const t = {0, 0, 10, 3, 0, 7, 0, 1}, p = {1, 0, 8, 2, 0, 9, 0.5, 0};
  auto const r = sc::pearson(t, p);
  ASSERT_TRUE(r);
  EXPECT_NEAR(*r, *textbook_r(t, p), 1e-12);
  // Constant series: null, never NaN and never 0.
  std::vector<double> const zeros(8, 0.0), fives(8, 5.0);
  EXPECT_FALSE(sc::pearson(t, zeros));
  EXPECT_FALSE(sc::pearson(fives, p));
  EXPECT_FALSE(sc::pearson(std::vector<double>{1}, std::vector<double>{2}));
  EXPECT_FALSE(sc::pearson(t, std::vector<double>{1, 2}));
  // Large offsets do not cancel (the one-pass formula would lose every digit here).
  std::vector<double> big_t, big_p;
  for (int i = 0; i < 8; ++i) big_t.push_back(1e9 + t[static_cast<std::size_t>(i)]), big_p.push_back(p[static_cast<std::size_t>(i)]);
  EXPECT_NEAR(*sc::pearson(big_t, big_p), *r, 1e-9);

  sc::level_series s;
  s.truth = t;
  s.simulated = p;
  auto const f = sc::figures_of(s);
  double sq = 0, t2 = 0, ad = 0, at = 0;
  for (std::size_t i = 0; i < t.size(); ++i) sq += (t[i] - p[i]) * (t[i] - p[i]), t2 += t[i] * t[i], ad += std::fabs(t[i] - p[i]), at += t[i];
  double const n = static_cast<double>(t.size());
  EXPECT_NEAR(*f.rsquared, 1 - (sq / n) / (t2 / n), 1e-12);
  EXPECT_NEAR(*f.absolute_dev_explained, 1 - (ad / n) / (at / n), 1e-12);
  sc::level_series all_zero;
  all_zero.truth = zeros;
  all_zero.simulated = p;
  auto const z = sc::figures_of(all_zero);
  EXPECT_FALSE(z.ev_correlation);
  EXPECT_FALSE(z.rsquared);
  EXPECT_FALSE(z.absolute_dev_explained);
}

TEST(simulation, latent_and_pooled_correlations_join_the_examples) {
  // Latent A: two activating samples and a silent one; latent B: one sample never parsed.
  auto a = scores_of(1, {});
  a.samples.push_back(simulated({0, 10, 0}, std::vector<double>{0, 8, 1}, true, 0));
  a.samples.push_back(simulated({0, 5, 2}, std::vector<double>{1, 4, 2}, true, 1));
  a.samples.push_back(simulated({0, 0, 0}, std::vector<double>{0, 1, 0}, false, -1));
  auto b = scores_of(2, {});
  b.samples.push_back(simulated({3, 0}, std::vector<double>{2, 0}, true, 0));
  b.samples.push_back(simulated({0, 0}, std::nullopt, false, -1));
  std::vector<sc::latent_scores> const both = {a, b};

  EXPECT_FALSE(sc::sample_correlation(a.samples[2]));  // a silent window's truth is constant
  EXPECT_NEAR(*sc::sample_correlation(a.samples[0]), *textbook_r({0, 10, 0}, {0, 8, 1}), 1e-12);
  auto const la = sc::latent_simulation_figures(a.samples);
  EXPECT_NEAR(*la.ev_correlation, *textbook_r({0, 10, 0, 0, 5, 2, 0, 0, 0}, {0, 8, 1, 1, 4, 2, 0, 1, 0}), 1e-12);

  auto const s = sc::summarize_simulation(both);
  EXPECT_EQ(s.latents, 2u);
  EXPECT_EQ(s.samples, 4u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_NEAR(*s.pooled.ev_correlation,
              *textbook_r({0, 10, 0, 0, 5, 2, 0, 0, 0, 3, 0}, {0, 8, 1, 1, 4, 2, 0, 1, 0, 2, 0}), 1e-12);
  ASSERT_EQ(s.per_quantile.size(), 2u);
  EXPECT_EQ(s.per_quantile[0].quantile, 0);
  EXPECT_EQ(s.per_quantile[0].samples, 2u);
  EXPECT_NEAR(*s.per_quantile[0].ev_correlation, *textbook_r({0, 10, 0, 3, 0}, {0, 8, 1, 2, 0}), 1e-12);
  EXPECT_EQ(s.per_latent.latents, 2u);
  auto const j = boost::json::parse(sc::to_json_text(sc::to_json(s)));
  for (auto key : {"latents", "ev_correlation", "rsquared", "absolute_dev_explained", "per_latent", "per_quantile", "failed"})
    EXPECT_TRUE(j.as_object().contains(key)) << key;
  for (auto key : {"median", "q1", "q3", "mean", "ci95"}) EXPECT_TRUE(j.at("per_latent").as_object().contains(key)) << key;
  EXPECT_EQ(j.at("per_quantile").as_array()[1].at("samples"), boost::json::value(1));
  // Nothing simulated: nulls, not NaN.
  auto const empty = sc::to_json_text(sc::to_json(sc::summarize_simulation({})));
  EXPECT_EQ(empty.find("NaN"), std::string::npos);
  EXPECT_TRUE(boost::json::parse(empty).at("ev_correlation").is_null());
}

TEST(simulation, keyword_baseline_predicts_ten_on_quoted_tokens) {
  std::vector<std::string> const tokens = {"The", " cat", " sat", "cat", " dog"};
  std::vector<std::string> const keys = {"cat"};
  EXPECT_EQ(sc::keyword_levels(tokens, keys), (std::vector<double>{0, 10, 0, 10, 0}));
  EXPECT_EQ(sc::keyword_levels(tokens, {}), std::vector<double>(5, 0));
}

TEST(simulation, score_file_round_trips_and_carries_token_strings) {
  std::vector<sc::score_sample> v = {simulated({0, 10}, std::vector<double>{0.5, 9}, true, 2),
                                     simulated({0, 0}, std::nullopt, false, -1)};
  v[0].str_tokens = {"The", " caf\xc3\xa9"};
  v[0].activations = {0.f, 1.5f};
  v[0].batch = 0;
  v[1].batch = 1;
  auto const text = sc::score_file_text("simulation", v, {});
  auto const doc = boost::json::parse(text);
  auto const& first = doc.as_array()[0].as_object();
  for (auto key : {"str_tokens", "activations", "distance", "activating", "true_levels", "predicted", "correlation"})
    EXPECT_TRUE(first.contains(key)) << key;
  EXPECT_TRUE(doc.as_array()[1].at("predicted").is_null());
  EXPECT_TRUE(doc.as_array()[1].at("correlation").is_null());
  EXPECT_DOUBLE_EQ(first.at("correlation").as_double(), 1.0);
  auto back = sc::parse_scored_file("simulation", text, "sim.txt");
  ASSERT_TRUE(back) << back.error().what();
  ASSERT_EQ(back->samples.size(), 2u);
  EXPECT_EQ(back->samples[0].str_tokens, v[0].str_tokens);
  EXPECT_EQ(back->samples[0].true_levels, v[0].true_levels);
  EXPECT_EQ(*back->samples[0].simulated, *v[0].simulated);
  EXPECT_EQ(back->samples[0].quantile, 2u);
  EXPECT_FALSE(back->samples[1].simulated);
  for (char const* bad : {R"([{"activating":true,"true_levels":[11]}])", R"([{"activating":true,"predicted":"x"}])",
                          R"([{"activating":true,"predicted":[0e400]}])"}) {
    auto e = sc::parse_scored_file("simulation", bad, "sim.txt");
    ASSERT_FALSE(e) << bad;
    EXPECT_TRUE(e.error() == ai::errc::bad_score_file);
    EXPECT_NE(e.error().message.find("sim.txt: sample 0"), std::string::npos) << e.error().what();
  }
}

TEST(fake_brain, simulates_a_prompt_built_by_the_builder) {
  std::vector<std::string> const tokens = {"The", " cat", " sat", " cat"};
  auto const r = sc::build_simulation_request("the token \" cat\"", tokens);
  auto const prompt = r.messages.back().content;
  ASSERT_TRUE(ai::testing::is_simulation_prompt(prompt));
  EXPECT_FALSE(ai::testing::is_scoring_prompt(prompt));
  EXPECT_EQ(ai::testing::simulation_levels(prompt), (std::vector<int>{0, 10, 0, 10}));
}

// --- intruder -------------------------------------------------------------------------------------

TEST(intruder, prompts_take_quantiles_in_turn_with_one_intruder_each) {
  auto const r = cat_record(3, 4, 7);
  sc::scoring_options o;  // 5 shown: 4 activating + 1 intruder
  auto trials = sc::build_intruder_trials(r, o);
  ASSERT_TRUE(trials) << trials.error().what();
  ASSERT_EQ(trials->size(), 7u);  // one per non-activating window
  std::set<std::size_t> positions;
  for (std::size_t j = 0; j < trials->size(); ++j) {
    auto const& t = (*trials)[j];
    EXPECT_EQ(t.quantile, j % 3);
    ASSERT_EQ(t.examples.size(), 5u);
    ASSERT_LT(t.intruder, 5u);
    positions.insert(t.intruder);
    for (std::size_t k = 0; k < t.examples.size(); ++k) {
      auto const& x = t.examples[k];
      EXPECT_EQ(x.batch, j);
      if (k == t.intruder) {
        EXPECT_FALSE(x.activating);
        EXPECT_EQ(x.str_tokens[1], " dog");
        EXPECT_EQ(x.highlighted.size(), 1u);  // ceil(mean active tokens) = 1
      } else {
        EXPECT_TRUE(x.activating);
        EXPECT_EQ(x.quantile, t.quantile);
        EXPECT_EQ(x.highlighted, (std::vector<std::uint32_t>{1}));
      }
    }
  }
  EXPECT_GT(positions.size(), 1u);  // the position is drawn, not fixed
  // Seeded: the same record gives the same prompts; another seed moves intruders.
  auto again = sc::build_intruder_trials(r, o);
  for (std::size_t j = 0; j < trials->size(); ++j) EXPECT_EQ((*again)[j].intruder, (*trials)[j].intruder);
}

TEST(intruder, internal_intruders_come_from_another_quantile) {
  auto r = cat_record(3, 4, 6);
  sc::scoring_options o;
  o.intruder = sc::intruder_type::internal;
  auto trials = sc::build_intruder_trials(r, o);
  ASSERT_TRUE(trials) << trials.error().what();
  for (auto const& t : *trials) {
    auto const& x = t.examples[t.intruder];
    EXPECT_TRUE(x.activating);
    EXPECT_NE(x.quantile, t.quantile);
    EXPECT_EQ(x.highlighted, (std::vector<std::uint32_t>{1}));
  }
  auto one_quantile = cat_record(1, 4, 3);
  auto e = sc::build_intruder_trials(one_quantile, o);
  ASSERT_FALSE(e);
  EXPECT_TRUE(e.error() == ai::errc::too_few_examples);
  auto no_silent = cat_record(2, 4, 0);
  EXPECT_TRUE(sc::build_intruder_trials(no_silent, {}).error() == ai::errc::too_few_examples);
  sc::scoring_options one;
  one.n_examples_shown = 1;
  EXPECT_TRUE(sc::build_intruder_trials(r, one).error() == ai::errc::bad_option);
}

TEST(intruder, prompt_numbers_examples_without_the_explanation_and_the_fake_finds_the_intruder) {
  auto const r = cat_record(2, 4, 4);
  auto trials = sc::build_intruder_trials(r);
  ASSERT_TRUE(trials);
  for (auto const& t : *trials) {
    auto const req = sc::build_intruder_request(t);
    auto const& prompt = req.messages.back().content;
    EXPECT_EQ(prompt.rfind("Examples to compare (5):", 0), 0u);
    for (int k = 1; k <= 5; ++k) EXPECT_NE(prompt.find("Example " + std::to_string(k) + ": "), std::string::npos);
    EXPECT_EQ(prompt.find("Example 6: "), std::string::npos);
    EXPECT_NE(prompt.find("The<< cat>> sat down"), std::string::npos);
    EXPECT_EQ(ai::testing::intruder_choice(prompt), t.intruder + 1);
  }
}

TEST(intruder, answer_is_the_number_after_the_last_response_marker) {
  EXPECT_EQ(sc::parse_intruder_answer("Reasoning...\n[RESPONSE]: 3", 5), 2u);
  EXPECT_EQ(sc::parse_intruder_answer("**[RESPONSE]:** 1", 5), 0u);
  EXPECT_EQ(sc::parse_intruder_answer("[RESPONSE]: Example 4.", 5), 3u);
  EXPECT_EQ(sc::parse_intruder_answer("format is [RESPONSE]: k\n[RESPONSE]: 5", 5), 4u);
  for (char const* bad : {"3", "[RESPONSE]: 0", "[RESPONSE]: 6", "[RESPONSE]: none", "[RESPONSE]:", "[RESPONSE]: 12345678"})
    EXPECT_FALSE(sc::parse_intruder_answer(bad, 5)) << bad;
}

TEST(intruder, accuracy_per_latent_and_per_quantile_and_the_file_round_trips) {
  auto r = cat_record(2, 4, 4);
  auto trials = sc::build_intruder_trials(r);
  ASSERT_TRUE(trials);
  (*trials)[0].prediction = (*trials)[0].intruder;            // right, quantile 0
  (*trials)[1].prediction = ((*trials)[1].intruder + 1) % 5;  // wrong, quantile 1
  (*trials)[2].prediction = (*trials)[2].intruder;            // right, quantile 0
  // trial 3: never answered
  auto const text = sc::score_file_text("intruder", {}, *trials);
  auto const doc = boost::json::parse(text);
  ASSERT_EQ(doc.as_array().size(), 4u);
  auto const& first = doc.as_array()[0].as_object();
  for (auto key : {"examples", "intruder", "prediction", "correct"}) EXPECT_TRUE(first.contains(key)) << key;
  for (auto key : {"str_tokens", "activations", "distance", "activating"})
    EXPECT_TRUE(first.at("examples").as_array()[0].as_object().contains(key)) << key;
  EXPECT_EQ(first.at("correct"), boost::json::value(true));
  EXPECT_TRUE(doc.as_array()[3].at("prediction").is_null());
  EXPECT_TRUE(doc.as_array()[3].at("correct").is_null());

  auto back = sc::parse_scored_file("intruder", text, "intruder.txt");
  ASSERT_TRUE(back) << back.error().what();
  ASSERT_EQ(back->trials.size(), 4u);
  EXPECT_EQ(back->trials[1].intruder, (*trials)[1].intruder);
  EXPECT_EQ(back->trials[1].prediction, (*trials)[1].prediction);
  EXPECT_EQ(back->trials[1].quantile, 1u);
  EXPECT_EQ(back->trials[0].examples[0].str_tokens, (*trials)[0].examples[0].str_tokens);

  auto const l = scores_of(7, {}, back->trials);
  auto const c = sc::count_intruder(l.trials);
  EXPECT_EQ(c.answered, 3u);
  EXPECT_EQ(c.failed, 1u);
  EXPECT_DOUBLE_EQ(*c.accuracy(), 2.0 / 3);
  std::vector<sc::latent_scores> const one = {l};
  auto const s = sc::summarize_intruder(one);
  ASSERT_EQ(s.per_quantile.size(), 2u);
  EXPECT_DOUBLE_EQ(*s.per_quantile[0].counts.accuracy(), 1.0);
  EXPECT_DOUBLE_EQ(*s.per_quantile[1].counts.accuracy(), 0.0);
  auto const j = boost::json::parse(sc::to_json_text(sc::summary_entry("intruder", one)));
  for (auto key : {"latents", "accuracy", "per_quantile", "failed"}) EXPECT_TRUE(j.as_object().contains(key)) << key;
  EXPECT_EQ(j.at("failed"), boost::json::value(1));

  for (char const* bad : {R"([{"examples":[],"intruder":0}])", R"([{"examples":[{"activating":true}],"intruder":1}])",
                          R"([{"examples":[{"activating":true}],"intruder":0,"prediction":3}])", R"([{"intruder":0}])"}) {
    auto e = sc::parse_scored_file("intruder", bad, "intruder.txt");
    ASSERT_FALSE(e) << bad;
    EXPECT_NE(e.error().message.find("intruder.txt: prompt 0"), std::string::npos) << e.error().what();
  }
}

// --- embedding ------------------------------------------------------------------------------------

TEST(embedding, cosine_and_auc_equal_independent_computations) {
  std::vector<float> const a = {1, 2, 0, -1}, b = {2, 1, 1, 0};
  double const dot = 1 * 2 + 2 * 1 + 0 + 0, na = std::sqrt(1 + 4 + 0 + 1.0), nb = std::sqrt(4 + 1 + 1.0);
  EXPECT_NEAR(*sc::cosine_similarity(a, b), dot / (na * nb), 1e-12);
  EXPECT_FALSE(sc::cosine_similarity(a, std::vector<float>(4, 0.f)));
  EXPECT_FALSE(sc::cosine_similarity(a, std::vector<float>{1, 2}));
  EXPECT_FALSE(sc::cosine_similarity({}, {}));

  // AUC: the share of (positive, negative) pairs ordered right, ties counting one half.
  std::vector<sc::score_sample> s;
  std::vector<std::pair<double, bool>> const v = {{0.9, true}, {0.4, true}, {0.4, false}, {0.1, false}, {0.7, false}, {0.8, true}};
  for (auto [sim, positive] : v) {
    sc::score_sample x;
    x.similarity = sim;
    x.activating = positive;
    s.push_back(x);
  }
  s.push_back(sc::score_sample{});  // no similarity: left out
  double pairs = 0, right = 0;
  for (auto [p, pp] : v)
    for (auto [n, nn] : v)
      if (pp && !nn) {
        ++pairs;
        right += p > n ? 1 : p == n ? 0.5 : 0;
      }
  EXPECT_NEAR(*sc::similarity_auc(s), right / pairs, 1e-12);
  std::vector<sc::score_sample> one_class(2);
  one_class[0].similarity = 0.1;
  one_class[1].similarity = 0.2;
  EXPECT_FALSE(sc::similarity_auc(one_class));

  auto const l1 = scores_of(1, s), l2 = scores_of(2, one_class);
  std::vector<sc::latent_scores> const both = {l1, l2};
  auto const sum = sc::summarize_embedding(both);
  EXPECT_EQ(sum.per_latent.latents, 1u);
  EXPECT_EQ(sum.per_latent.excluded, 1u);
  EXPECT_EQ(sum.failed, 1u);
  auto const j = boost::json::parse(sc::to_json_text(sc::summary_entry("embedding", both)));
  EXPECT_NEAR(j.at("auc").as_double(), right / pairs, 1e-12);
  for (auto key : {"latents", "auc", "per_latent"}) EXPECT_TRUE(j.as_object().contains(key)) << key;
}

TEST(embedding, score_file_round_trips) {
  std::vector<sc::score_sample> v(2);
  v[0].str_tokens = {"a", " b"};
  v[0].activations = {0.f, 1.f};
  v[0].activating = true;
  v[0].similarity = 0.25;
  v[1].str_tokens = {"c"};
  v[1].activations = {0.f};
  v[1].distance = -1;
  auto const text = sc::score_file_text("embedding", v, {});
  auto const doc = boost::json::parse(text);
  for (auto key : {"str_tokens", "activations", "distance", "activating", "similarity"})
    EXPECT_TRUE(doc.as_array()[0].as_object().contains(key)) << key;
  EXPECT_TRUE(doc.as_array()[1].at("similarity").is_null());
  auto back = sc::parse_scored_file("embedding", text);
  ASSERT_TRUE(back) << back.error().what();
  EXPECT_EQ(back->samples[0].similarity, 0.25);
  EXPECT_FALSE(back->samples[1].similarity);
  EXPECT_EQ(back->samples[1].distance, -1);
  EXPECT_FALSE(sc::parse_scored_file("embedding", R"([{"activating":true,"similarity":"high"}])"));
}

TEST(embedding, the_fake_embeddings_rank_planted_examples_above_the_rest) {
  // The query is the default prefix plus the explanation; documents are example texts.
  auto const query = ai::testing::fake_embedding(std::string(sc::default_embedding_prefix) + "the token \" cat\"");
  auto const with = ai::testing::fake_embedding("The cat sat down");
  auto const without = ai::testing::fake_embedding("A dog ran off");
  EXPECT_GT(*sc::cosine_similarity(query, with), *sc::cosine_similarity(query, without));
}
