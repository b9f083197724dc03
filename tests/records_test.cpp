// Records: the CPython-compatible generator, float16 rounding, windows, samplers, non-activating
// sources, record building, JSON Lines output, and delphi's own records (the fixtures).
#include <autointerp/cache/dataset.hpp>
#include <autointerp/records/build_record.hpp>
#include <autointerp/records/example_windows.hpp>
#include <autointerp/records/float16.hpp>
#include <autointerp/records/non_activating.hpp>
#include <autointerp/records/python_random.hpp>
#include <autointerp/records/record_json.hpp>
#include <autointerp/records/samplers.hpp>

#include "test_paths.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>
#include <zstd.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <sstream>

namespace {

using namespace autointerp;
using namespace autointerp::records;
namespace json = boost::json;

// ---------------------------------------------------------------------------------------------
// python_random: numbers printed by CPython 3.11's `random` module.

TEST(PythonRandom, MatchesCPythonWords) {
  python_random r(22);
  std::vector<std::uint64_t> got;
  for (int i = 0; i < 5; ++i) got.push_back(r.getrandbits(32));
  EXPECT_EQ(got, (std::vector<std::uint64_t>{4115477951u, 3897096200u, 602878526u, 1042032339u, 101430565u}));
  python_random z(0);
  EXPECT_EQ(z.getrandbits(32), 3626764237u);
  EXPECT_EQ(z.getrandbits(32), 1654615998u);
  EXPECT_EQ(z.getrandbits(32), 3255389356u);
  // A seed wider than 32 bits is fed as two words.
  python_random big((std::uint64_t{1} << 40) + 5);
  EXPECT_EQ(big.getrandbits(32), 2166296868u);
  EXPECT_EQ(big.getrandbits(32), 2220160828u);
  EXPECT_EQ(big.getrandbits(32), 1153647273u);
  std::uint32_t words[] = {5, 256, 0, 0};
  python_random viaWords;
  viaWords.seed_words(words);
  EXPECT_EQ(viaWords.getrandbits(32), 2166296868u);
}

TEST(PythonRandom, MatchesCPythonRandomAndBits) {
  python_random r(42);
  EXPECT_DOUBLE_EQ(r.random(), 0.6394267984578837);
  EXPECT_DOUBLE_EQ(r.random(), 0.025010755222666936);
  EXPECT_DOUBLE_EQ(r.random(), 0.27502931836911926);
  python_random b(22);
  EXPECT_EQ(b.getrandbits(1), 1u);
  EXPECT_EQ(b.getrandbits(7), 116u);
  EXPECT_EQ(b.getrandbits(31), 301439263u);
  EXPECT_EQ(b.getrandbits(33), 1042032339u);
  EXPECT_EQ(b.getrandbits(64), 18421484141019349706ull);
  EXPECT_EQ(b.getrandbits(0), 0u);
  python_random rb(22);
  std::vector<std::uint64_t> got;
  for (std::uint64_t n : {std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{3}, std::uint64_t{10},
                          std::uint64_t{1000}, (std::uint64_t{1} << 31) + 1, (std::uint64_t{1} << 40) + 3})
    got.push_back(rb.randbelow(n));
  EXPECT_EQ(got, (std::vector<std::uint64_t>{0, 0, 0, 9, 457, 791363372, 265007874156ull}));
}

TEST(PythonRandom, SampleUsesBothStrategiesLikeCPython) {
  using v = std::vector<std::size_t>;
  EXPECT_EQ(python_random(22).sample_indices(20, 5), (v{4, 7, 0, 14, 5}));                        // pool
  EXPECT_EQ(python_random(22).sample_indices(50, 10), (v{8, 15, 1, 39, 28, 11, 7, 41, 22, 5}));  // pool
  EXPECT_EQ(python_random(22).sample_indices(100, 4), (v{17, 31, 3, 78}));                        // set
  EXPECT_EQ(python_random(22).sample_indices(1000, 40),
            (v{981, 929, 143, 248, 24, 627, 457, 188, 718, 123, 757, 667, 899, 353, 811, 910, 81, 237, 275, 982,
               50, 327, 999, 615, 183, 954, 565, 701, 750, 946, 440, 725, 904, 49, 590, 902, 21, 603, 270, 318}));
  EXPECT_EQ(python_random::sample_set_threshold(1), 21u);
  EXPECT_EQ(python_random::sample_set_threshold(5), 21u);
  EXPECT_EQ(python_random::sample_set_threshold(6), 85u);
  EXPECT_EQ(python_random::sample_set_threshold(21), 85u);
  EXPECT_EQ(python_random::sample_set_threshold(22), 277u);
  EXPECT_EQ(python_random::sample_set_threshold(100), 1045u);
  EXPECT_EQ(python_random::sample_set_threshold(1000), 4117u);
  EXPECT_TRUE(python_random(1).sample_indices(0, 0).empty());
  EXPECT_EQ(python_random(1).sample_indices(3, 9).size(), 3u);  // clamped, never reads past
  std::vector<int> x{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  python_random(7).shuffle(std::span<int>(x));
  EXPECT_EQ(x, (std::vector<int>{8, 3, 1, 4, 7, 0, 9, 6, 2, 5}));
}

// ---------------------------------------------------------------------------------------------
// float16

TEST(Float16, RoundsToNearestEvenLikeNumpy) {
  struct c {
    float in;
    std::uint16_t bits;
  };
  // Bits from Python's struct.pack('<e', x).
  for (auto [in, bits] : {c{0.0f, 0x0}, c{-0.0f, 0x8000}, c{1.0f, 0x3c00}, c{1.0009765625f, 0x3c01},
                          c{1.00048828125f, 0x3c00}, c{1.00146484375f, 0x3c02}, c{65504.0f, 0x7bff},
                          c{65519.99f, 0x7bff}, c{65520.0f, 0x7c00}, c{1e9f, 0x7c00}, c{6.103515625e-05f, 0x400},
                          c{5.960464477539063e-08f, 0x1}, c{2.9802322387695312e-08f, 0x0},
                          c{8.940696716308594e-08f, 0x2}, c{3.0e-05f, 0x1f7}, c{-2.5f, 0xc100}, c{0.1f, 0x2e66},
                          c{7.582f, 0x4795}})
    EXPECT_EQ(float_to_half_bits(in), bits) << in;
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -25) * (1.0f + std::ldexp(1.0f, -20))), 0x1);
  EXPECT_TRUE(std::isnan(round_to_half(std::nanf(""))));
  EXPECT_TRUE(std::isinf(round_to_half(INFINITY)));
  // Every finite half survives the round trip.
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    auto h = static_cast<std::uint16_t>(b);
    if ((h & 0x7c00) == 0x7c00) continue;
    ASSERT_EQ(float_to_half_bits(half_bits_to_float(h)), h) << b;
  }
  EXPECT_EQ(float_to_bfloat16_bits(1.0f), 0x3f80);
  EXPECT_EQ(round_to_bfloat16(1.00390625f), 1.0f);     // tie, to even
  EXPECT_EQ(round_to_bfloat16(1.01171875f), 1.015625f);  // tie, to even (up)
}

// ---------------------------------------------------------------------------------------------
// samplers

TEST(Samplers, SplitQuantilesMatchesDelphi) {
  // Expected from delphi's split_quantiles over range(n), run with CPython.
  auto flat = [](std::vector<sampled_example> const& v) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
    for (auto s : v) out.push_back({s.index, s.quantile});
    return out;
  };
  using p = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
  EXPECT_EQ(flat(split_quantiles(0, 100, 10, 40, 22)),
            (p{{2, 0}, {3, 0}, {0, 0}, {4, 0}, {17, 1}, {12, 1}, {11, 1}, {15, 1}, {25, 2}, {21, 2},
               {23, 2}, {22, 2}, {30, 3}, {35, 3}, {32, 3}, {34, 3}, {46, 4}, {40, 4}, {48, 4}, {44, 4},
               {54, 5}, {59, 5}, {56, 5}, {51, 5}, {62, 6}, {61, 6}, {60, 6}, {65, 6}, {75, 7}, {79, 7},
               {74, 7}, {71, 7}, {86, 8}, {84, 8}, {82, 8}, {87, 8}, {94, 9}, {92, 9}, {96, 9}, {90, 9}}));
  auto big = flat(split_quantiles(0, 1000, 10, 50, 22));  // delphi's default test sampler
  ASSERT_EQ(big.size(), 50u);
  EXPECT_EQ(big[0], (std::pair<std::uint32_t, std::uint32_t>{17, 0}));
  EXPECT_EQ(big[5], (std::pair<std::uint32_t, std::uint32_t>{123, 1}));
  EXPECT_EQ(big[49], (std::pair<std::uint32_t, std::uint32_t>{965, 9}));
  EXPECT_EQ(flat(split_quantiles(0, 7, 3, 9, 22)), (p{{0, 0}, {1, 0}, {2, 1}, {3, 1}, {4, 2}, {5, 2}}));
  EXPECT_TRUE(split_quantiles(0, 5, 10, 40, 22).empty());  // fewer examples than quantiles
  EXPECT_TRUE(split_quantiles(0, 50, 0, 40, 22).empty());
  // Offsets shift indices only.
  auto off = flat(split_quantiles(4, 100, 10, 40, 22));
  EXPECT_EQ(off[0].first, 6u);
}

TEST(Samplers, TrainTypes) {
  record_options o;
  o.n_examples_train = 20;
  o.train_type = train_sampler::top;
  auto top = sample_train(100, o);
  ASSERT_EQ(top.size(), 20u);
  for (std::uint32_t i = 0; i < 20; ++i) EXPECT_EQ(top[i], (sampled_example{i, 0}));
  EXPECT_EQ(sample_train(3, o).size(), 3u);
  o.train_type = train_sampler::random;
  auto rnd = sample_train(20, o);  // n == n_train: still a random permutation
  ASSERT_EQ(rnd.size(), 20u);
  EXPECT_EQ(rnd[0].index, 4u);
  EXPECT_EQ(rnd[1].index, 7u);
  auto few = sample_train(19, o);  // fewer than n_train: all, in rank order
  for (std::uint32_t i = 0; i < 19; ++i) EXPECT_EQ(few[i].index, i);
  o.train_type = train_sampler::mix;
  o.n_quantiles = 5;
  auto mix = sample_train(100, o);
  ASSERT_EQ(mix.size(), 19u);  // 4 from the top, then 16 // 5 = 3 from each of 5 quantiles
  for (std::uint32_t i = 0; i < 4; ++i) EXPECT_EQ(mix[i], (sampled_example{i, 0}));
  auto rest = split_quantiles(4, 96, 5, 16, 22);
  EXPECT_TRUE(std::equal(rest.begin(), rest.end(), mix.begin() + 4));
  o.n_examples_train = 0;
  for (auto t : {train_sampler::top, train_sampler::random, train_sampler::quantiles, train_sampler::mix}) {
    o.train_type = t;
    EXPECT_TRUE(sample_train(50, o).empty());
  }
  o.n_examples_test = 0;
  EXPECT_TRUE(sample_test(50, o).empty());
}

TEST(Samplers, LevelsInFloat16AsTorch) {
  using cache::activation_dtype;
  EXPECT_EQ(activation_level(7.58203125f, 7.58203125f, activation_dtype::f16), 10);
  EXPECT_EQ(activation_level(0.0f, 7.58203125f, activation_dtype::f16), 0);
  EXPECT_EQ(activation_level(-1.0f, 2.0f, activation_dtype::f32), 0);
  EXPECT_EQ(activation_level(std::nanf(""), 2.0f, activation_dtype::f32), 0);
  EXPECT_EQ(activation_level(3.0f, 0.0f, activation_dtype::f32), 10);  // max raised to 1e-6
  EXPECT_EQ(activation_level(0.0f, 0.0f, activation_dtype::f16), 0);
  // 10 * a / max lands just above an integer in float but on it once rounded to float16:
  // a = 0.30004882 (half), max = 1.0: 3.0004882 in float -> ceil 4; in float16 3.0 -> 3.
  float a = half_bits_to_float(0x34cd);  // 0.300048828125
  EXPECT_EQ(activation_level(a, 1.0f, activation_dtype::f32), 4);
  EXPECT_EQ(activation_level(a, 1.0f, activation_dtype::f16), 3);
  EXPECT_EQ(activation_level(a, 1.0f, activation_dtype::bf16), 3);
}

}  // namespace

namespace {

// ---------------------------------------------------------------------------------------------
// delphi's own records (tests/fixtures/delphi)

std::string read_zstd_file(std::filesystem::path const& p) {
  std::ifstream in(p, std::ios::binary);
  std::string packed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string out;
  std::unique_ptr<ZSTD_DStream, decltype(&ZSTD_freeDStream)> ds(ZSTD_createDStream(), ZSTD_freeDStream);
  ZSTD_initDStream(ds.get());
  ZSTD_inBuffer inb{packed.data(), packed.size(), 0};
  std::vector<char> buf(ZSTD_DStreamOutSize());
  while (inb.pos < inb.size) {
    ZSTD_outBuffer outb{buf.data(), buf.size(), 0};
    std::size_t rc = ZSTD_decompressStream(ds.get(), &outb, &inb);
    if (ZSTD_isError(rc)) throw std::runtime_error(p.string() + ": " + ZSTD_getErrorName(rc));
    out.append(buf.data(), outb.pos);
  }
  return out;
}

json::value parse_precise(std::string_view text) { return json::parse(text); }

// Boost.JSON (1.81) does not parse doubles correctly rounded; the frequencies must match exactly,
// so read the number's text with std::from_chars.
double raw_number(std::string const& line, std::string const& key) {
  auto at = line.find("\"" + key + "\": ");
  if (at == std::string::npos) return std::nan("");
  at += key.size() + 4;
  double v = std::nan("");
  std::from_chars(line.data() + at, line.data() + line.size(), v);
  return v;
}

std::vector<std::string> split_lines(std::string const& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// One line of expected/README.txt: which file, with which delphi settings.
struct fixture_case {
  std::filesystem::path file;
  record_options options;
  std::optional<std::pair<std::uint32_t, std::uint32_t>> latents;
};

std::vector<fixture_case> fixture_cases() {
  std::vector<fixture_case> out;
  std::filesystem::path root = std::filesystem::path(AUTOINTERP_TEST_FIXTURES) / "delphi";
  for (char const* cache : {"cache_a", "cache_b"}) {
    std::ifstream readme(root / cache / "expected" / "README.txt");
    for (std::string line; std::getline(readme, line);) {
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      fixture_case c;
      c.file = root / line.substr(0, colon);
      // The fixtures' defaults: delphi's, except no test set and no non-activating windows.
      c.options.n_examples_test = 0;
      c.options.n_non_activating = 0;
      std::istringstream args(line.substr(colon + 1));
      for (std::string flag; args >> flag;) {
        std::string v;
        if (flag == "--centered") {
          c.options.windows = window_kind::centered;
          continue;
        }
        args >> v;
        if (flag == "--ctx") c.options.example_ctx_len = static_cast<std::uint32_t>(std::stoul(v));
        else if (flag == "--min-examples") c.options.min_examples = static_cast<std::uint32_t>(std::stoul(v));
        else if (flag == "--n-train") c.options.n_examples_train = static_cast<std::uint32_t>(std::stoul(v));
        else if (flag == "--n-test") c.options.n_examples_test = static_cast<std::uint32_t>(std::stoul(v));
        else if (flag == "--n-quantiles") c.options.n_quantiles = static_cast<std::uint32_t>(std::stoul(v));
        else if (flag == "--ratio-top") c.options.ratio_top = std::stod(v);
        else if (flag == "--n-non-activating") c.options.n_non_activating = static_cast<std::uint32_t>(std::stoul(v));
        else if (flag == "--train") c.options.train_type = *parse_train_sampler(v);
        else if (flag == "--latents") {
          auto dash = v.find('-');
          c.latents = {static_cast<std::uint32_t>(std::stoul(v.substr(0, dash))),
                       static_cast<std::uint32_t>(std::stoul(v.substr(dash + 1)))};
        } else {
          ADD_FAILURE() << "unknown fixture setting " << flag << " in " << line;
        }
      }
      out.push_back(c);
    }
  }
  return out;
}

// The window of `tokens` whose ids equal `ids`, among windows where `active` is clear.
bool is_silent_window(cache::token_matrix const& tokens, window_mask const& active, std::uint32_t len,
                      std::vector<std::uint32_t> const& ids) {
  for (std::uint64_t w = 0; w < active.size(); ++w) {
    if (active.test(w)) continue;
    if (std::equal(ids.begin(), ids.end(), tokens.ids.begin() + static_cast<std::ptrdiff_t>(w * len))) return true;
  }
  return false;
}

TEST(DelphiFixtures, EveryExpectedFileMatches) {
  auto cases = fixture_cases();
  ASSERT_EQ(cases.size(), 8u) << "expected/README.txt files list 8 fixtures";
  for (auto const& c : cases) {
    SCOPED_TRACE(c.file.string());
    auto ds = cache::dataset::open(c.file.parent_path().parent_path());
    ASSERT_TRUE(ds) << ds.error().what();
    ASSERT_EQ(ds->modules().size(), 1u);
    auto const& mod = ds->modules()[0];
    auto tokens = ds->tokens(mod.name);
    ASSERT_TRUE(tokens) << tokens.error().what();
    auto lines = split_lines(read_zstd_file(c.file));
    ASSERT_FALSE(lines.empty());
    std::map<std::uint32_t, std::string> expected;
    for (auto const& l : lines) expected[static_cast<std::uint32_t>(parse_precise(l).at("latent").to_number<std::uint64_t>())] = l;

    std::uint32_t lo = c.latents ? c.latents->first : 0, hi = c.latents ? c.latents->second : mod.width - 1;
    std::size_t compared = 0;
    for (std::uint32_t latent = lo; latent <= hi; ++latent) {
      auto acts = ds->load_latent(mod.name, latent);
      ASSERT_TRUE(acts) << acts.error().what();
      auto rec = build_record(**tokens, *acts, c.options);
      auto it = expected.find(latent);
      if (it == expected.end()) {
        // delphi dropped it: we must skip it too, for the same reason.
        ASSERT_FALSE(rec) << "latent " << latent << " built but delphi skipped it";
        EXPECT_EQ(rec.error(), errc::too_few_examples);
        continue;
      }
      ASSERT_TRUE(rec) << "latent " << latent << ": " << rec.error().what();
      ++compared;
      json::value want = parse_precise(it->second);
      EXPECT_EQ(rec->latent.module, mod.name);
      EXPECT_EQ(rec->n_examples, want.at("n_examples").to_number<std::uint32_t>()) << latent;
      EXPECT_EQ(rec->per_token_frequency, raw_number(it->second, "per_token_frequency")) << latent;
      EXPECT_EQ(rec->per_context_frequency, raw_number(it->second, "per_context_frequency")) << latent;
      auto const& maxima = want.at("examples_max_activation").as_array();
      ASSERT_EQ(rec->examples_max_activation.size(), maxima.size()) << latent;
      for (std::size_t i = 0; i < maxima.size(); ++i)  // fixture values are rounded to 4 decimals
        EXPECT_NEAR(rec->examples_max_activation[i], maxima[i].to_number<double>(), 0.5e-4 + 1e-9) << latent;
      for (char const* set : {"train", "test"}) {
        auto const& got = std::string(set) == "train" ? rec->train : rec->test;
        auto const& exp = want.at(set).as_array();
        ASSERT_EQ(got.size(), exp.size()) << set << " of latent " << latent;
        for (std::size_t i = 0; i < exp.size(); ++i) {
          auto const& e = exp[i].as_object();
          auto const& toks = e.at("tokens").as_array();
          auto const& acts_e = e.at("activations").as_array();
          auto const& lv = e.at("normalized").as_array();
          ASSERT_EQ(got[i].tokens.size(), toks.size());
          for (std::size_t k = 0; k < toks.size(); ++k) {
            EXPECT_EQ(got[i].tokens[k], toks[k].to_number<std::uint32_t>()) << set << " " << latent << "/" << i;
            EXPECT_NEAR(got[i].activations[k], acts_e[k].to_number<double>(), 0.5e-4 + 1e-9) << latent << "/" << i;
            EXPECT_EQ(got[i].levels[k], lv[k].to_number<int>()) << set << " " << latent << "/" << i << " @" << k;
          }
          EXPECT_EQ(got[i].quantile, e.at("quantile").to_number<std::uint32_t>()) << set << " " << latent << "/" << i;
        }
      }
      // Non-activating windows come from torch's generator in delphi: compare properties.
      auto const& nonact = want.at("non_activating").as_array();
      ASSERT_EQ(rec->non_activating.size(), nonact.size()) << latent;
      if (!nonact.empty()) {
        auto w = make_example_windows(**tokens, *acts, window_kind::max, c.options.example_ctx_len, 0);
        ASSERT_TRUE(w);
        for (auto const& na : rec->non_activating) {
          EXPECT_EQ(na.tokens.size(), c.options.example_ctx_len);
          EXPECT_TRUE(is_silent_window(**tokens, w->active_windows(), c.options.example_ctx_len, na.tokens)) << latent;
          EXPECT_EQ(na.distance, -1.0f);
        }
        for (auto const& na : nonact) {  // and delphi's satisfy the same property
          std::vector<std::uint32_t> ids;
          for (auto const& t : na.as_array()) ids.push_back(t.to_number<std::uint32_t>());
          EXPECT_TRUE(is_silent_window(**tokens, w->active_windows(), c.options.example_ctx_len, ids)) << latent;
        }
      } else {
        // Without non-activating windows our line is byte-identical to delphi's.
        EXPECT_EQ(to_json_line(*rec), it->second + "\n") << latent;
      }
    }
    EXPECT_EQ(compared, expected.size());
  }
}

}  // namespace
