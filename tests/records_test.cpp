// Records: the CPython-compatible generator, float16 rounding, windows, samplers, non-activating
// sources, record building, JSON Lines output, and delphi's own records (the fixtures).
#include <autointerp/cache/dataset.hpp>
#include <autointerp/records/build_record.hpp>
#include <autointerp/records/example_windows.hpp>
#include <autointerp/records/float16.hpp>
#include <autointerp/records/load_record.hpp>
#include <autointerp/records/non_activating.hpp>
#include <autointerp/records/python_random.hpp>
#include <autointerp/records/record_json.hpp>
#include <autointerp/records/samplers.hpp>

#include "test_paths.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
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
#include <thread>
#include <tuple>

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

namespace {

// ---------------------------------------------------------------------------------------------
// Properties over many random small caches (the properties delphi's own constructor tests check).

struct small_cache {
  std::shared_ptr<cache::token_matrix> tokens;
  cache::latent_activations latent;
};

small_cache random_cache(std::mt19937& g, std::size_t rows, std::size_t ctx, double density, bool ties) {
  small_cache c;
  c.tokens = std::make_shared<cache::token_matrix>();
  c.tokens->rows = rows;
  c.tokens->ctx = ctx;
  c.tokens->ids.resize(rows * ctx);
  for (auto& id : c.tokens->ids) id = g() % 50000;
  c.latent.latent = {"layers.0", 7};
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t p = 0; p < ctx; ++p)
      if (u(g) < density) {
        c.latent.rows.push_back(static_cast<std::uint32_t>(r));
        c.latent.positions.push_back(static_cast<std::uint32_t>(p));
        float v = ties ? static_cast<float>(1 + g() % 4) : round_to_half(0.01f + 8.0f * u(g));
        c.latent.values.push_back(v);
      }
  return c;
}

float true_activation(cache::latent_activations const& a, std::size_t ctx, std::uint64_t flat) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a.rows[i] * ctx + a.positions[i] == flat) return a.values[i];
  return 0.0f;
}

TEST(RecordProperties, RandomCachesAllSamplers) {
  std::mt19937 g(1234);
  int built = 0;
  for (int iter = 0; iter < 300; ++iter) {
    std::size_t ctx = std::size_t{8} << (iter % 3);  // 8, 16, 32
    std::size_t rows = 1 + g() % 12;
    auto c = random_cache(g, rows, ctx, 0.02 + 0.3 * (g() % 100) / 100.0, iter % 4 == 0);
    record_options o;
    o.example_ctx_len = static_cast<std::uint32_t>(ctx >> (g() % 3));
    o.min_examples = 0;
    o.n_examples_train = static_cast<std::uint32_t>(g() % 25);
    o.n_examples_test = static_cast<std::uint32_t>(g() % 25);
    o.n_quantiles = 1 + static_cast<std::uint32_t>(g() % 6);
    o.ratio_top = (g() % 11) / 10.0;
    o.n_non_activating = static_cast<std::uint32_t>(g() % 8);
    o.train_type = static_cast<train_sampler>(iter % 4);
    o.windows = (iter / 4) % 2 ? window_kind::centered : window_kind::max;
    SCOPED_TRACE("iteration " + std::to_string(iter));
    auto rec = build_record(*c.tokens, c.latent, o);
    ASSERT_TRUE(rec) << rec.error().what();
    ++built;
    auto w = make_example_windows(*c.tokens, c.latent, o.windows, o.example_ctx_len, 0);
    ASSERT_TRUE(w);
    std::uint32_t const len = o.example_ctx_len;
    EXPECT_EQ(rec->n_examples, w->size());
    std::set<std::uint64_t> windows_with_activity;
    for (std::size_t i = 0; i < c.latent.size(); ++i)
      windows_with_activity.insert((c.latent.rows[i] * ctx + c.latent.positions[i]) / len);
    if (o.windows == window_kind::max) {
      EXPECT_EQ(rec->n_examples, windows_with_activity.size());
    }
    EXPECT_DOUBLE_EQ(rec->per_context_frequency,
                     static_cast<double>(windows_with_activity.size()) / static_cast<double>(rows * ctx / len));
    EXPECT_DOUBLE_EQ(rec->per_token_frequency, static_cast<double>(c.latent.size()) / static_cast<double>(rows * ctx));
    // Windows sorted by maximum (max windows; centered ones rank by their middle window).
    if (o.windows == window_kind::max) {
      for (std::size_t i = 1; i < w->size(); ++i) EXPECT_GE(w->max_activation(i - 1), w->max_activation(i));
    }
    // Each window is a real slice of the token matrix, within one row; max windows are aligned and
    // carry the latent's true activations, centered ones in their middle part.
    for (std::size_t i = 0; i < w->size(); ++i) {
      std::uint64_t off = w->token_offset(i);
      ASSERT_LE(off + len, rows * ctx);
      EXPECT_EQ(off / ctx, (off + len - 1) / ctx);
      std::vector<float> acts(len);
      w->activations(i, acts);
      if (o.windows == window_kind::max) {
        EXPECT_EQ(off % len, 0u);
        for (std::uint32_t k = 0; k < len; ++k) EXPECT_EQ(acts[k], true_activation(c.latent, ctx, off + k));
        EXPECT_GT(*std::max_element(acts.begin(), acts.end()), 0.0f);
      } else {
        std::uint64_t mid = w->window(i) * len;  // first token of the middle window
        EXPECT_GE(off + len, mid + len / 4);  // 3/4 before the middle window's maximum, 1/4 after
        EXPECT_LE(off + len / 4, mid + len);
        for (std::uint32_t k = 0; k < len; ++k) {
          if (off + k >= mid && off + k < mid + len) {
            EXPECT_EQ(acts[k], true_activation(c.latent, ctx, off + k));
          }
        }
        std::uint64_t r = w->window(i) % (ctx / len);
        EXPECT_TRUE(r != 0 && r != ctx / len - 1);
      }
    }
    // Sizes within bounds; quantile indices within their slice and in order.
    std::size_t n = w->size();
    EXPECT_LE(rec->train.size(), o.n_examples_train);
    EXPECT_LE(rec->test.size(), o.n_examples_test);
    EXPECT_EQ(rec->examples_max_activation.size(), std::min<std::size_t>(n, 50));
    auto check_quantiles = [&](std::vector<sampled_example> const& s, std::size_t first, std::size_t count) {
      std::size_t slice = count / o.n_quantiles;
      for (std::size_t i = 0; i < s.size(); ++i) {
        if (i) {
          EXPECT_LE(s[i - 1].quantile, s[i].quantile);
        }
        EXPECT_GE(s[i].index, first + s[i].quantile * slice);
        EXPECT_LT(s[i].index, first + (s[i].quantile + 1) * slice);
      }
      std::set<std::uint32_t> distinct;
      for (auto x : s) distinct.insert(x.index);
      EXPECT_EQ(distinct.size(), s.size());
    };
    auto train = sample_train(n, o);
    ASSERT_EQ(train.size(), rec->train.size());
    if (o.train_type == train_sampler::quantiles) {
      check_quantiles(train, 0, n);
      std::size_t slice = n / o.n_quantiles, per = o.n_examples_train / o.n_quantiles;
      EXPECT_EQ(train.size(), o.n_quantiles * std::min(slice, per));
    }
    if (o.train_type == train_sampler::top) {
      EXPECT_EQ(train.size(), std::min<std::size_t>(n, o.n_examples_train));
    }
    if (o.train_type == train_sampler::random) {
      EXPECT_EQ(train.size(), std::min<std::size_t>(n, o.n_examples_train));
    }
    check_quantiles(sample_test(n, o), 0, n);
    for (auto const* set : {&rec->train, &rec->test})
      for (auto const& ex : *set) {
        ASSERT_EQ(ex.tokens.size(), len);
        ASSERT_EQ(ex.levels.size(), len);
        for (std::uint32_t k = 0; k < len; ++k) {
          EXPECT_LE(ex.levels[k], 10);
          EXPECT_EQ(ex.levels[k] == 0, !(ex.activations[k] > 0)) << "level 0 exactly where silent";
        }
        EXPECT_LT(ex.quantile, std::max<std::uint32_t>(o.n_quantiles, 1));
      }
    // (Centered windows hold their maximum only when len / 4 >= 1: delphi cuts len - len / 4
    // tokens before it and len / 4 after, so a 2-token window ends just before its maximum.)
    if (o.train_type == train_sampler::top && !rec->train.empty() && (o.windows == window_kind::max || len >= 4)) {
      EXPECT_EQ(*std::max_element(rec->train[0].levels.begin(), rec->train[0].levels.end()), 10) << to_json_line(*rec);
    }
    // Non-activating: as many as asked when enough silent windows exist, each silent.
    std::uint64_t silent = rows * ctx / len - windows_with_activity.size();
    EXPECT_EQ(rec->non_activating.size(), silent >= o.n_non_activating ? o.n_non_activating : 0u);
    for (auto const& na : rec->non_activating)
      EXPECT_TRUE(is_silent_window(*c.tokens, w->active_windows(), len, na.tokens));
    // Deterministic: the same input gives the same record.
    auto again = build_record(*c.tokens, c.latent, o);
    ASSERT_TRUE(again);
    EXPECT_EQ(to_json_line(*again), to_json_line(*rec));
  }
  EXPECT_EQ(built, 300);
}

// ---------------------------------------------------------------------------------------------
// Degenerate inputs: no crash, documented behaviour.

cache::token_matrix matrix(std::size_t rows, std::size_t ctx) {
  cache::token_matrix m;
  m.rows = rows;
  m.ctx = ctx;
  m.ids.resize(rows * ctx);
  for (std::size_t i = 0; i < m.ids.size(); ++i) m.ids[i] = static_cast<std::uint32_t>(i);
  return m;
}

cache::latent_activations activity(std::vector<std::tuple<std::uint32_t, std::uint32_t, float>> const& v,
                                   cache::activation_dtype dt = cache::activation_dtype::f16) {
  cache::latent_activations a;
  a.latent = {"m", 3};
  a.dtype = dt;
  for (auto [r, p, x] : v) {
    a.rows.push_back(r);
    a.positions.push_back(p);
    a.values.push_back(x);
  }
  return a;
}

TEST(RecordDegenerate, OneWindowFewExamplesAndZeroTrain) {
  auto m = matrix(4, 16);
  auto a = activity({{1, 5, 2.0f}, {1, 6, 1.0f}});
  record_options o;
  o.example_ctx_len = 8;
  auto skipped = build_record(m, a, o);  // min_examples 200
  ASSERT_FALSE(skipped);
  EXPECT_EQ(skipped.error(), errc::too_few_examples);
  EXPECT_NE(skipped.error().message.find("has 1 activating windows, fewer than min_examples 200"), std::string::npos)
      << skipped.error().message;
  o.min_examples = 1;
  auto rec = build_record(m, a, o);  // quantiles of one example with 10 quantiles: nothing
  ASSERT_TRUE(rec) << rec.error().what();
  EXPECT_EQ(rec->n_examples, 1u);
  EXPECT_TRUE(rec->train.empty());
  EXPECT_TRUE(rec->test.empty());
  EXPECT_EQ(rec->non_activating.size(), 0u);  // 7 silent windows < 50 asked
  o.train_type = train_sampler::top;
  o.n_non_activating = 7;
  rec = build_record(m, a, o);
  ASSERT_TRUE(rec);
  ASSERT_EQ(rec->train.size(), 1u);
  EXPECT_EQ(rec->train[0].levels[5], 10);
  EXPECT_EQ(rec->train[0].levels[6], 5);
  EXPECT_EQ(rec->train[0].tokens[0], 16u);
  EXPECT_EQ(rec->non_activating.size(), 7u);
  o.n_examples_train = 0;
  rec = build_record(m, a, o);
  ASSERT_TRUE(rec);
  EXPECT_TRUE(rec->train.empty());
}

TEST(RecordDegenerate, EqualZeroAndEverywhereActivations) {
  auto m = matrix(2, 8);
  record_options o;
  o.example_ctx_len = 4;
  o.min_examples = 0;
  o.train_type = train_sampler::top;
  o.n_non_activating = 1;
  // Active in every window: no non-activating window is available.
  auto all = activity({{0, 0, 1.0f}, {0, 4, 1.0f}, {1, 1, 1.0f}, {1, 7, 1.0f}});
  auto rec = build_record(m, all, o);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->n_examples, 4u);
  EXPECT_TRUE(rec->non_activating.empty());
  EXPECT_DOUBLE_EQ(rec->per_context_frequency, 1.0);
  for (auto const& ex : rec->train) EXPECT_EQ(*std::max_element(ex.levels.begin(), ex.levels.end()), 10);
  // Zero activations (stored zeros): maximum raised to 1e-6, levels 0.
  auto zeros = activity({{0, 1, 0.0f}, {1, 2, 0.0f}});
  rec = build_record(m, zeros, o);
  ASSERT_TRUE(rec);
  for (auto const& ex : rec->train)
    for (auto l : ex.levels) EXPECT_EQ(l, 0);
  // No activations at all.
  rec = build_record(m, activity({}), o);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->n_examples, 0u);
  EXPECT_TRUE(rec->train.empty());
  EXPECT_TRUE(rec->examples_max_activation.empty());
  EXPECT_EQ(rec->non_activating.size(), 1u);
  // NaN and infinities from a damaged file: no crash, levels stay in range.
  auto odd = activity({{0, 1, std::nanf("")}, {0, 5, INFINITY}, {1, 2, -3.0f}}, cache::activation_dtype::f32);
  for (auto wk : {window_kind::max, window_kind::centered}) {
    o.windows = wk;
    rec = build_record(m, odd, o);
    ASSERT_TRUE(rec);
    for (auto const& ex : rec->train)
      for (auto l : ex.levels) EXPECT_LE(l, 10);
    EXPECT_FALSE(to_json_line(*rec).empty());
  }
}

TEST(RecordDegenerate, CenteredNeedsThreeWindowsPerRow) {
  auto m = matrix(3, 8);
  auto a = activity({{0, 1, 1.0f}, {1, 5, 2.0f}, {2, 7, 3.0f}});
  record_options o;
  o.min_examples = 0;
  o.windows = window_kind::centered;
  for (std::uint32_t len : {8u, 4u}) {  // one or two windows per row: every window is a row end
    o.example_ctx_len = len;
    auto rec = build_record(m, a, o);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->n_examples, 0u);
    EXPECT_GT(rec->per_context_frequency, 0.0);
  }
  o.example_ctx_len = 2;  // 4 windows per row; positions 5 (row 1) is in window 2 of 4: kept
  auto rec = build_record(m, a, o);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->n_examples, 1u);
}

TEST(RecordDegenerate, BadOptionsAndShapes) {
  auto m = matrix(2, 64);
  auto a = activity({{0, 1, 1.0f}});
  record_options o;
  o.example_ctx_len = 24;
  auto r = build_record(m, a, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::bad_option);
  EXPECT_NE(r.error().message.find("example_ctx_len 24 does not divide the cache context length 64"),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("32"), std::string::npos);
  o.example_ctx_len = 0;
  EXPECT_EQ(build_record(m, a, o).error(), errc::bad_option);
  o.example_ctx_len = 32;
  o.n_quantiles = 0;
  EXPECT_EQ(build_record(m, a, o).error(), errc::bad_option);
  o.n_quantiles = 10;
  o.ratio_top = 1.5;
  EXPECT_EQ(build_record(m, a, o).error(), errc::bad_option);
  o.ratio_top = 0.2;
  auto outside = activity({{2, 1, 1.0f}});
  EXPECT_EQ(build_record(m, outside, o).error(), errc::bad_shape);
  auto past = activity({{0, 64, 1.0f}});
  EXPECT_EQ(build_record(m, past, o).error(), errc::bad_shape);
  auto ragged = a;
  ragged.rows.push_back(0);
  EXPECT_EQ(build_record(m, ragged, o).error(), errc::bad_shape);
  // Unsorted activations are sorted first (delphi's caches always are).
  o.min_examples = 0;
  o.train_type = train_sampler::top;
  auto sorted = build_record(m, activity({{0, 1, 1.0f}, {1, 3, 2.0f}}), o);
  auto unsorted = build_record(m, activity({{1, 3, 2.0f}, {0, 1, 1.0f}}), o);
  ASSERT_TRUE(sorted && unsorted);
  EXPECT_EQ(to_json_line(*sorted), to_json_line(*unsorted));
}

TEST(RecordDegenerate, TiesKeepTorchOrder) {
  // 20 windows with equal maxima: the order is std::sort's (torch's), not the input order.
  auto m = matrix(20, 4);
  std::vector<std::tuple<std::uint32_t, std::uint32_t, float>> v;
  for (std::uint32_t r = 0; r < 20; ++r) v.push_back({r, 1, r % 3 ? 1.0f : 2.0f});
  auto w = make_example_windows(m, activity(v), window_kind::max, 4, 0);
  ASSERT_TRUE(w);
  std::vector<std::pair<float, std::uint32_t>> keyed;
  for (std::uint32_t r = 0; r < 20; ++r) keyed.push_back({r % 3 ? 1.0f : 2.0f, r});
  std::sort(keyed.begin(), keyed.end(), [](auto const& a, auto const& b) { return a.first > b.first; });
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(w->token_offset(i), keyed[i].second * 4u) << i;
}

// ---------------------------------------------------------------------------------------------
// Neighbours

TEST(Neighbours, ParseAndErrors) {
  auto t = parse_neighbours(R"({"3": [[0.9, 5], [0.5, 7.0]], "4": []})", "n.json");
  ASSERT_TRUE(t) << t.error().what();
  ASSERT_EQ(t->at(3).size(), 2u);
  EXPECT_EQ(t->at(3)[0].latent, 5u);
  EXPECT_DOUBLE_EQ(t->at(3)[0].distance, 0.9);
  EXPECT_EQ(t->at(3)[1].latent, 7u);
  EXPECT_TRUE(t->at(4).empty());
  for (std::string bad : {"[1]", "{\"x\": []}", "{\"1\": 3}", "{\"1\": [[1]]}", "{\"1\": [[\"a\", 1]]}",
                          "{\"1\": [[1, -2]]}", "{", "{\"1\": [[1, 1.5]]}"}) {
    auto r = parse_neighbours(bad, "n.json");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), errc::bad_config);
    EXPECT_EQ(r.error().message.rfind("n.json: ", 0), 0u) << r.error().message;
  }
  EXPECT_EQ(load_neighbours("/nonexistent/layers.3-co-occurrence.json").error(), errc::file_not_found);
  EXPECT_EQ(neighbour_file("/n", "layers.3", "co-occurrence"), std::filesystem::path("/n/layers.3-co-occurrence.json"));
}

TEST(Neighbours, WindowsWhereNeighbourFiresAndLatentDoesNot) {
  auto m = matrix(8, 16);  // windows of 4: 32 windows
  auto me = activity({{0, 0, 1.0f}, {3, 9, 1.0f}});
  record_options o;
  o.example_ctx_len = 4;
  o.min_examples = 0;
  o.n_non_activating = 12;
  o.non_activating_source = non_activating_kind::neighbours;
  // Neighbour A fires in 13 windows, one shared with us; neighbour B in 2.
  std::vector<std::tuple<std::uint32_t, std::uint32_t, float>> va;
  va.push_back({0, 1, 9.0f});  // window 0: ours too, excluded
  for (std::uint32_t r = 1; r < 8; ++r) {
    va.push_back({r, 0, static_cast<float>(r)});
    va.push_back({r, 13, static_cast<float>(r) + 0.5f});
  }
  auto a = std::make_shared<cache::latent_activations>(activity(va));
  auto b = std::make_shared<cache::latent_activations>(activity({{2, 4, 1.0f}, {5, 8, 2.0f}}));
  std::vector<neighbour_activity> nbs{{0.75, a}, {0.5, nullptr}, {0.25, b}};
  auto rec = build_record(m, me, o, nbs);
  ASSERT_TRUE(rec);
  ASSERT_EQ(rec->non_activating.size(), 12u);  // 10 from A, then 2 from B (checked before each)
  for (std::size_t i = 0; i < 10; ++i) EXPECT_FLOAT_EQ(rec->non_activating[i].distance, -0.75f);
  EXPECT_FLOAT_EQ(rec->non_activating[10].distance, -0.25f);
  // A's windows ranked by A's maximum: row 7 position 13 (7.5) first.
  EXPECT_EQ(rec->non_activating[0].tokens[0], 7u * 16 + 12);
  EXPECT_EQ(rec->non_activating[1].tokens[0], 7u * 16 + 0);
  auto w = make_example_windows(m, me, window_kind::max, 4, 0);
  for (auto const& na : rec->non_activating) EXPECT_TRUE(is_silent_window(m, w->active_windows(), 4, na.tokens));
  // No neighbour gives a window: random fallback.
  std::vector<neighbour_activity> useless{{0.5, std::make_shared<cache::latent_activations>(activity({{0, 2, 1.0f}}))}};
  rec = build_record(m, me, o, useless);
  ASSERT_TRUE(rec);
  ASSERT_EQ(rec->non_activating.size(), 12u);
  EXPECT_FLOAT_EQ(rec->non_activating[0].distance, -1.0f);
}

// ---------------------------------------------------------------------------------------------
// JSON Lines

TEST(RecordJson, FormatsNumbersAndStringsLikePython) {
  auto f = [](double v) {
    std::string s;
    records::detail::append_python_float(s, v);
    return s;
  };
  EXPECT_EQ(f(0.01611328125), "0.01611328125");
  EXPECT_EQ(f(0.0001), "0.0001");
  EXPECT_EQ(f(1e-05), "1e-05");
  EXPECT_EQ(f(1.5e-07), "1.5e-07");
  EXPECT_EQ(f(1e16), "1e+16");
  EXPECT_EQ(f(1e15), "1000000000000000.0");
  EXPECT_EQ(f(123.0), "123.0");
  EXPECT_EQ(f(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(f(-2.5), "-2.5");
  EXPECT_EQ(f(1.0 / 3), "0.3333333333333333");
  auto r4 = [](double v) {
    std::string s;
    records::detail::append_rounded4(s, v);
    return s;
  };
  EXPECT_EQ(r4(7.58203125), "7.582");
  EXPECT_EQ(r4(0.03125), "0.0312");  // exact tie: to even, as Python's round
  EXPECT_EQ(r4(0.00015), "0.0001");
  EXPECT_EQ(r4(2.5e-05), "0.0");
  EXPECT_EQ(r4(-1e-05), "-0.0");
  EXPECT_EQ(r4(0.0), "0.0");
  EXPECT_EQ(r4(1234.56785), "1234.5678");
  EXPECT_EQ(r4(3.0), "3.0");
  EXPECT_EQ(r4(1e20), "1e+20");
  EXPECT_EQ(r4(1e15 + 0.25), "1000000000000000.2");
  EXPECT_EQ(r4(std::nan("")), "null");
  auto js = [](std::string_view v) {
    std::string s;
    records::detail::append_json_string(s, v);
    return s;
  };
  EXPECT_EQ(js("a\"b\\c\n\t\x01"), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
  EXPECT_EQ(js("\xc3\xa9"), "\"\\u00e9\"");
  EXPECT_EQ(js("\xf0\x9f\x98\x80"), "\"\\ud83d\\ude00\"");
  EXPECT_EQ(js("x\xff"), "\"x\\ufffd\"");
  EXPECT_EQ(js("\xe2\x82"), "\"\\ufffd\\ufffd\"");  // truncated sequence
}

TEST(RecordJson, StrTokensGoAfterTokens) {
  latent_record r;
  r.latent = {".model.layers.10", 2};
  activating_example ex;
  ex.tokens = {1, 2};
  ex.str_tokens = {"a", " b"};
  ex.activations = {0.0f, 1.5f};
  ex.levels = {0, 10};
  r.train.push_back(ex);
  r.non_activating.push_back({{4, 5}, -1.0f, {}});
  EXPECT_EQ(to_json_line(r),
            "{\"module\": \".model.layers.10\", \"latent\": 2, \"n_examples\": 0, \"per_token_frequency\": 0.0, "
            "\"per_context_frequency\": 0.0, \"examples_max_activation\": [], \"train\": [{\"tokens\": [1, 2], "
            "\"str_tokens\": [\"a\", \" b\"], \"activations\": [0.0, 1.5], \"normalized\": [0, 10], \"quantile\": 0}], "
            "\"test\": [], \"non_activating\": [[4, 5]]}\n");
}

// ---------------------------------------------------------------------------------------------
// Async

TEST(AsyncLoadRecord, IsTheSyncRecordBuiltOnThePoolAndResumesOnTheCaller) {
  boost::asio::io_context io;
  boost::asio::thread_pool pool(2);
  auto const root = std::filesystem::path(AUTOINTERP_TEST_FIXTURES) / "delphi" / "cache_a";
  auto data = cache::dataset::open(root).value();
  load_options o;
  o.records.min_examples = 1;
  cache::latent_id const id{"layers.3", 270};
  auto expected = load_record(data, id, o, nullptr).value();
  latent_record got;
  boost::system::error_code skipped;
  std::string skipped_text;
  auto const io_thread = std::this_thread::get_id();
  bool resumed_on_io = false;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        got = co_await async_load_record(data, id, o, nullptr, pool.get_executor());
        resumed_on_io = std::this_thread::get_id() == io_thread;
        auto strict = o;
        strict.records.min_examples = 100000;
        autointerp::diagnostics diag;
        auto [ec, r] = co_await async_load_record(data, id, strict, nullptr, pool.get_executor(), diag,
                                                  boost::asio::as_tuple(boost::asio::use_awaitable));
        skipped = ec;
        skipped_text = diag.message;
      },
      boost::asio::detached);
  io.run();
  EXPECT_TRUE(resumed_on_io);
  EXPECT_EQ(to_json_line(got), to_json_line(expected));
  EXPECT_GT(got.train.size(), 0u);
  EXPECT_TRUE(skipped == errc::too_few_examples);
  EXPECT_NE(skipped_text.find("layers.3"), std::string::npos) << skipped_text;
  // Callback form, completing on the io_context through the handler's executor.
  boost::system::error_code cb_ec;
  bool called = false;
  async_load_record(data, cache::latent_id{"layers.3", 999999}, o, nullptr, pool.get_executor(),
                    boost::asio::bind_executor(io, [&](boost::system::error_code ec, latent_record) {
                      cb_ec = ec;
                      called = true;
                    }));
  io.restart();
  io.run();
  pool.join();
  EXPECT_TRUE(called);
  EXPECT_TRUE(cb_ec == errc::latent_out_of_range);
}

}  // namespace
