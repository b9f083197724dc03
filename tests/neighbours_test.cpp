// Neighbours: torch's topk replayed, co-occurrence against a brute force on the bundled sample,
// weight similarity on weight files written here (sparsify and SAELens, F32 and BF16), delphi's
// file format, bad inputs, the async operation, and the `autointerp neighbours` command with a
// round trip through `records --non-activating-source neighbours`.
#include <autointerp/cache/dataset.hpp>
#include <autointerp/neighbours/compute_neighbours.hpp>
#include <autointerp/neighbours/cooccurrence.hpp>
#include <autointerp/neighbours/neighbour_file.hpp>
#include <autointerp/neighbours/sae_weights.hpp>
#include <autointerp/neighbours/torch_topk.hpp>
#include <autointerp/neighbours/weight_similarity.hpp>
#include <autointerp/records/non_activating.hpp>
#include <autointerp/records/float16.hpp>

#include "run_cli.hpp"
#include "test_paths.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace ai = autointerp;
namespace nb = autointerp::neighbours;
namespace fs = std::filesystem;

fs::path const sample_cache = fs::path(AUTOINTERP_SOURCE_DIR) / "examples" / "data" / "cache";

struct temp_dir {
  fs::path path;
  explicit temp_dir(std::string const& name) {
    path = fs::temp_directory_path() / ("autointerp_neighbours_test_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// ---- torch's topk ----------------------------------------------------------------------------

// Rows full of ties: scores drawn from a few values, most of them zero.
std::vector<float> tied_row(std::mt19937& rng, std::size_t n, double nonzero) {
  std::uniform_real_distribution<double> u(0, 1);
  float const values[] = {0.125f, 0.25f, 0.5f, 1.0f};
  std::vector<float> row(n, 0.0f);
  for (auto& v : row)
    if (u(rng) < nonzero) v = values[rng() % 4];
  return row;
}

TEST(torch_topk, returns_the_k_largest_values_with_their_indices) {
  std::mt19937 rng(1);
  for (std::size_t n : {1u, 5u, 40u, 700u, 2048u}) {
    for (std::size_t k : {1u, 3u, 11u, 33u}) {
      auto row = tied_row(rng, n, 0.3);
      auto top = nb::torch_topk(row, k);
      ASSERT_EQ(top.size(), std::min(k, n));
      auto sorted = row;
      std::sort(sorted.begin(), sorted.end(), std::greater<>());
      std::set<std::int64_t> seen;
      for (std::size_t i = 0; i < top.size(); ++i) {
        EXPECT_EQ(top[i].first, sorted[i]) << "n " << n << " k " << k << " at " << i;
        EXPECT_EQ(row[static_cast<std::size_t>(top[i].second)], top[i].first);
        EXPECT_TRUE(seen.insert(top[i].second).second);
      }
    }
  }
}

TEST(torch_topk, ties_follow_torchs_partial_sort_not_the_index_order) {
  // 64 * k <= n: torch's partial sort over (value, index) pairs comparing values only. With all
  // values equal, libstdc++'s heap leaves the first k indices in heap-sorted order, not 0..k-1.
  std::vector<float> row(64 * 4, 0.5f);
  auto top = nb::torch_topk(row, 4);
  std::vector<std::int64_t> idx;
  for (auto& t : top) idx.push_back(t.second);
  std::vector<std::pair<float, std::int64_t>> q;
  for (std::size_t j = 0; j < row.size(); ++j) q.emplace_back(row[j], std::int64_t(j));
  std::partial_sort(q.begin(), q.begin() + 4, q.end(), [](auto const& x, auto const& y) { return x.first > y.first; });
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(idx[i], q[i].second);
  EXPECT_EQ(std::set<std::int64_t>(idx.begin(), idx.end()), (std::set<std::int64_t>{0, 1, 2, 3}));
  EXPECT_NE(idx, (std::vector<std::int64_t>{0, 1, 2, 3}));  // the heap's order, not the index order
}

// torch's TopKImpl.h loop as written there: (value, int64 index) pairs, NaN-aware comparator.
std::vector<nb::scored_index> torch_reference(std::vector<float> const& row, std::size_t k) {
  using elem = std::pair<float, std::int64_t>;
  auto greater = [](elem const& x, elem const& y) {
    return (std::isnan(x.first) && !std::isnan(y.first)) || x.first > y.first;
  };
  std::vector<elem> q(row.size());
  for (std::size_t j = 0; j < row.size(); ++j) q[j] = {row[j], std::int64_t(j)};
  auto const kk = static_cast<std::ptrdiff_t>(k);
  if (k * 64 <= row.size()) {
    std::partial_sort(q.begin(), q.begin() + kk, q.end(), greater);
  } else {
    std::nth_element(q.begin(), q.begin() + kk - 1, q.end(), greater);
    std::sort(q.begin(), q.begin() + kk - 1, greater);
  }
  q.resize(k);
  return q;
}

TEST(torch_topk, the_sparse_replay_equals_the_whole_row_for_both_of_torchs_paths) {
  std::mt19937 rng(2);
  for (int trial = 0; trial < 400; ++trial) {
    std::size_t const n = 1 + rng() % 3000;
    std::size_t const k = 1 + rng() % 40;
    auto row = tied_row(rng, n, trial % 3 == 0 ? 0.9 : 0.02);
    std::vector<std::uint32_t> idx;
    std::vector<float> sc;
    for (std::size_t j = 0; j < n; ++j)
      if (row[j] != 0) {
        idx.push_back(static_cast<std::uint32_t>(j));
        sc.push_back(row[j]);
      }
    auto const want = torch_reference(row, std::min(k, n));
    EXPECT_EQ(nb::torch_topk(row, k), want) << "n " << n << " k " << k;
    EXPECT_EQ(nb::torch_topk_sparse(n, idx, sc, k), want) << "n " << n << " k " << k;
    if (trial % 5 == 0) {  // with a NaN, torch's NaN-aware order
      row[rng() % n] = std::nanf("");
      auto got = nb::torch_topk(row, k), ref = torch_reference(row, std::min(k, n));
      ASSERT_EQ(got.size(), ref.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].second, ref[i].second);
        EXPECT_EQ(std::isnan(got[i].first), std::isnan(ref[i].first));
      }
    }
  }
  // Negative scores make zeros competitive: the replay expands the row then.
  std::vector<float> row(1000, 0.0f);
  row[900] = -1.0f;
  std::vector<std::uint32_t> idx{900};
  std::vector<float> sc{-1.0f};
  EXPECT_EQ(nb::torch_topk_sparse(1000, idx, sc, 3), nb::torch_topk(row, 3));
}

TEST(torch_topk, nan_ranks_first_as_in_torch) {
  std::vector<float> row(10, 0.1f);
  row[7] = std::nanf("");
  auto top = nb::torch_topk(row, 2);
  EXPECT_TRUE(std::isnan(top[0].first));
  EXPECT_EQ(top[0].second, 7);
}

// ---- co-occurrence -----------------------------------------------------------------------------

// Each latent's distinct token ids, read independently of the SDK's reader.
std::vector<std::vector<std::uint32_t>> sample_sets(ai::cache::dataset const& d) {
  auto const* m = d.module("layers.6").value();
  std::vector<std::vector<std::uint32_t>> sets(m->width);
  for (std::uint32_t l = 0; l < m->width; ++l) {
    auto a = d.load_latent("layers.6", l).value();
    std::set<std::uint32_t> s;
    for (std::size_t i = 0; i < a.size(); ++i) s.insert(a.rows[i] * m->ctx_len + a.positions[i]);
    sets[l].assign(s.begin(), s.end());
  }
  return sets;
}

// delphi's computation, literally: the dense Jaccard matrix (rows as long as the largest active
// latent + 1), torch's topk of k + 1 of each row, the first dropped.
std::vector<std::vector<nb::neighbour_entry>> brute_force_cooccurrence(std::vector<std::vector<std::uint32_t>> const& sets,
                                                                       std::uint32_t k) {
  std::size_t n = 0;
  for (std::size_t l = 0; l < sets.size(); ++l)
    if (!sets[l].empty()) n = l + 1;
  std::vector<std::vector<nb::neighbour_entry>> out(sets.size());
  std::vector<float> row(n);
  for (std::size_t a = 0; a < n; ++a) {
    if (sets[a].empty()) continue;
    for (std::size_t b = 0; b < n; ++b) {
      std::vector<std::uint32_t> both;
      std::set_intersection(sets[a].begin(), sets[a].end(), sets[b].begin(), sets[b].end(), std::back_inserter(both));
      std::int64_t const c = static_cast<std::int64_t>(both.size());
      std::int64_t const denom = std::int64_t(sets[a].size()) + std::int64_t(sets[b].size()) - c;
      row[b] = static_cast<float>(c) / static_cast<float>(denom);
    }
    auto top = nb::torch_topk(row, k + 1);
    for (std::size_t i = 1; i < top.size(); ++i)
      out[a].push_back({top[i].first, static_cast<std::uint32_t>(top[i].second)});
  }
  return out;
}

struct sample_fixture : ::testing::Test {
  static ai::cache::dataset& data() {
    static auto d = ai::cache::dataset::open(sample_cache).value();
    return d;
  }
  static std::vector<std::vector<std::uint32_t>> const& sets() {
    static auto s = sample_sets(data());
    return s;
  }
  static nb::neighbour_lists const& computed() {
    static auto lists = [] {
      nb::cooccurrence_options o;
      o.k = 10;
      o.threads = 2;
      auto s = nb::read_token_sets(data(), "layers.6", o).value();
      return nb::cooccurrence_neighbours(s, o).value();
    }();
    return lists;
  }
};

TEST_F(sample_fixture, reader_gives_each_latents_distinct_tokens) {
  nb::cooccurrence_options o;
  auto s = nb::read_token_sets(data(), "layers.6", o).value();
  EXPECT_EQ(s.n_tokens, 256u * 64u);
  EXPECT_EQ(s.tokens, sets());
}

TEST_F(sample_fixture, cooccurrence_equals_a_brute_force_for_every_latent) {
  auto const expected = brute_force_cooccurrence(sets(), 10);
  auto const& got = computed();
  ASSERT_EQ(got.lists.size(), 2048u);
  std::size_t live = 0;
  for (std::size_t l = 0; l < expected.size(); ++l) {
    EXPECT_EQ(got.lists[l], expected[l]) << "latent " << l;
    live += !sets()[l].empty();
  }
  EXPECT_EQ(got.skipped, 2048u - live);
  // Pairs: per token, every unordered pair of its active latents.
  std::map<std::uint32_t, std::uint64_t> per_token;
  for (auto const& s : sets())
    for (auto t : s) ++per_token[t];
  std::uint64_t pairs = 0;
  for (auto const& [t, c] : per_token) pairs += c * (c - 1) / 2;
  EXPECT_EQ(got.pairs, pairs);
}

TEST_F(sample_fixture, dead_latents_get_empty_lists) {
  for (std::uint32_t dead : {416u, 463u, 559u}) EXPECT_TRUE(computed().lists[dead].empty()) << dead;
}

TEST_F(sample_fixture, planted_latents_sharing_contexts_are_each_others_neighbours) {
  auto has = [&](std::uint32_t a, std::uint32_t b) {
    for (auto const& e : computed().lists[a])
      if (e.latent == b) return true;
    return false;
  };
  // "of the" (958) fires on " the" after " of"; " the" (1672) on every " the".
  EXPECT_TRUE(has(958, 1672));
  EXPECT_TRUE(has(1672, 958));
  // " >>>" (119) opens interactive lines, so it is among the line starts' (966) best.
  EXPECT_TRUE(has(966, 119));
  // Text inside parentheses (494) and inside square brackets (504) overlap where they nest.
  EXPECT_TRUE(has(494, 504));
  EXPECT_TRUE(has(504, 494));
  // " the" is among its two best, scored by the Jaccard index of the two token sets.
  auto const& list = computed().lists[958];
  ASSERT_GE(list.size(), 2u);
  auto const& the = list[0].latent == 1672 ? list[0] : list[1];
  EXPECT_EQ(the.latent, 1672u);
  std::vector<std::uint32_t> both;
  std::set_intersection(sets()[958].begin(), sets()[958].end(), sets()[1672].begin(), sets()[1672].end(),
                        std::back_inserter(both));
  EXPECT_EQ(the.score, nb::jaccard_score(both.size(), sets()[958].size(), sets()[1672].size()));
  EXPECT_GE(both.size() * 2, sets()[958].size());  // its " the" half
}

TEST_F(sample_fixture, one_thread_and_two_agree) {
  nb::cooccurrence_options o;
  o.k = 10;
  o.threads = 1;
  auto s = nb::read_token_sets(data(), "layers.6", o).value();
  auto one = nb::cooccurrence_neighbours(s, o).value();
  EXPECT_EQ(one.lists, computed().lists);
}

TEST_F(sample_fixture, a_small_memory_budget_is_a_clear_error) {
  nb::cooccurrence_options o;
  o.memory_budget = 64 << 10;
  auto s = nb::read_token_sets(data(), "layers.6", o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), ai::errc::memory_budget);
  EXPECT_NE(s.error().message.find("memory budget of 65536 bytes"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("layers.6"), std::string::npos) << s.error().message;
}

TEST(cooccurrence, jaccard_is_computed_in_float32_from_the_counts) {
  EXPECT_EQ(nb::jaccard_score(1, 3, 3), 1.0f / 5.0f);
  EXPECT_EQ(nb::jaccard_score(7, 7, 7), 1.0f);
  EXPECT_EQ(nb::jaccard_score(16777217, 16777217, 16777218), 16777216.0f / 16777218.0f);
}

TEST(cooccurrence, latents_with_identical_sets_tie_with_the_latent_itself) {
  // 0, 1 and 2 fire on exactly the same tokens: each row has three scores of 1.0, and torch's
  // order among them decides which one is dropped as "self".
  nb::latent_token_sets s;
  s.n_tokens = 10;
  s.tokens = {{1, 2, 3}, {1, 2, 3}, {1, 2, 3}, {3, 4}, {}, {9}};
  nb::cooccurrence_options o;
  o.k = 3;
  auto got = nb::cooccurrence_neighbours(s, o).value();
  auto expected = brute_force_cooccurrence(s.tokens, 3);
  EXPECT_EQ(got.lists, expected);
  EXPECT_TRUE(got.lists[4].empty());
  EXPECT_EQ(got.skipped, 1u);
  ASSERT_EQ(got.lists[0].size(), 3u);
  EXPECT_EQ(got.lists[0][0].score, 1.0f);
  EXPECT_EQ(got.lists[3][0].score, 0.25f);  // {3,4} with {1,2,3}: 1 / (2 + 3 - 1)
}

// ---- weights -----------------------------------------------------------------------------------

struct tensor_spec {
  std::string name, dtype;
  std::vector<std::uint64_t> shape;
  std::string bytes;
};

void write_safetensors(fs::path const& p, std::vector<tensor_spec> const& tensors) {
  boost::json::object header;
  std::uint64_t at = 0;
  for (auto const& t : tensors) {
    boost::json::array shape(t.shape.begin(), t.shape.end());
    header[t.name] = {{"dtype", t.dtype}, {"shape", shape}, {"data_offsets", {at, at + t.bytes.size()}}};
    at += t.bytes.size();
  }
  std::string json = boost::json::serialize(header);
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  std::uint64_t n = json.size();
  out.write(reinterpret_cast<char const*>(&n), 8);
  out << json;
  for (auto const& t : tensors) out << t.bytes;
}

std::uint16_t bf16_bits(float f) { return static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(f) >> 16); }

// `rows` [n][d] stored as `dtype`, transposed to [d][n] when `transpose`.
std::string tensor_bytes(std::vector<float> const& rows, std::size_t n, std::size_t d, std::string const& dtype,
                         bool transpose) {
  std::string out;
  for (std::size_t a = 0; a < (transpose ? d : n); ++a)
    for (std::size_t b = 0; b < (transpose ? n : d); ++b) {
      float v = transpose ? rows[b * d + a] : rows[a * d + b];
      if (dtype == "F32") {
        out.append(reinterpret_cast<char const*>(&v), 4);
      } else {
        std::uint16_t h = dtype == "BF16" ? bf16_bits(v) : ai::records::float_to_half_bits(v);
        out.append(reinterpret_cast<char const*>(&h), 2);
      }
    }
  return out;
}

// Gaussian vectors rounded to bfloat16, so every dtype holds them exactly.
std::vector<float> random_rows(std::size_t n, std::size_t d, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> v(n * d);
  for (auto& x : v) x = std::bit_cast<float>(std::uint32_t(bf16_bits(g(rng))) << 16);
  return v;
}

// Cosines in double, each latent's k + 1 best by torch's topk of the float row, the first dropped.
std::vector<std::vector<nb::neighbour_entry>> brute_force_cosine(std::vector<float> const& rows, std::size_t n,
                                                                 std::size_t d, std::uint32_t k) {
  std::vector<double> norm(n);
  for (std::size_t i = 0; i < n; ++i) {
    double s = 0;
    for (std::size_t j = 0; j < d; ++j) s += double(rows[i * d + j]) * rows[i * d + j];
    norm[i] = std::sqrt(s);
  }
  std::vector<std::vector<nb::neighbour_entry>> out(n);
  std::vector<float> row(n);
  for (std::size_t a = 0; a < n; ++a) {
    if (!(norm[a] > 0) || !std::isfinite(norm[a])) continue;
    for (std::size_t b = 0; b < n; ++b) {
      double s = 0;
      for (std::size_t j = 0; j < d; ++j) s += double(rows[a * d + j]) * rows[b * d + j];
      row[b] = (norm[b] > 0 && std::isfinite(norm[b])) ? static_cast<float>(s / (norm[a] * norm[b])) : 0.0f;
    }
    auto top = nb::torch_topk(row, k + 1);
    for (std::size_t i = 1; i < top.size(); ++i) out[a].push_back({top[i].first, static_cast<std::uint32_t>(top[i].second)});
  }
  return out;
}

// Same neighbours, scores within float rounding (neighbours may swap only where scores are that close).
void expect_close(std::vector<std::vector<nb::neighbour_entry>> const& got,
                  std::vector<std::vector<nb::neighbour_entry>> const& want, std::string const& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t a = 0; a < want.size(); ++a) {
    ASSERT_EQ(got[a].size(), want[a].size()) << what << " latent " << a;
    for (std::size_t i = 0; i < want[a].size(); ++i) {
      EXPECT_NEAR(got[a][i].score, want[a][i].score, 2e-6) << what << " latent " << a << " at " << i;
      if (got[a][i].latent != want[a][i].latent) {
        EXPECT_NEAR(got[a][i].score, want[a][i].score, 2e-6) << what << " latent " << a << " swapped at " << i;
      }
    }
  }
}

// The layouts the tests write: sparsify's folder per hookpoint and SAELens's single file.
fs::path write_sae(fs::path const& root, std::string const& layout, std::vector<float> const& enc,
                   std::vector<float> const& dec, std::size_t n, std::size_t d, std::string const& dtype) {
  if (layout == "sparsify") {
    auto file = root / "layers.6" / "sae.safetensors";
    write_safetensors(file, {{"encoder.weight", dtype, {n, d}, tensor_bytes(enc, n, d, dtype, false)},
                             {"encoder.bias", "F32", {n}, std::string(n * 4, '\0')},
                             {"W_dec", dtype, {n, d}, tensor_bytes(dec, n, d, dtype, false)},
                             {"b_dec", "F32", {d}, std::string(d * 4, '\0')}});
    std::ofstream(root / "layers.6" / "cfg.json") << R"({"expansion_factor": 32, "num_latents": )" << n
                                                  << R"(, "k": 32, "d_in": )" << d << "}";
    return root;
  }
  auto file = root / "sae_weights.safetensors";
  write_safetensors(file, {{"W_enc", dtype, {d, n}, tensor_bytes(enc, n, d, dtype, true)},
                           {"W_dec", dtype, {n, d}, tensor_bytes(dec, n, d, dtype, false)},
                           {"b_enc", "F32", {n}, std::string(n * 4, '\0')}});
  std::ofstream(root / "cfg.json") << R"({"d_in": )" << d << R"(, "d_sae": )" << n << "}";
  return root;
}

TEST(weights, both_layouts_and_dtypes_give_a_brute_force_cosines_neighbours) {
  std::size_t const n = 300, d = 24;
  auto const enc = random_rows(n, d, 5), dec = random_rows(n, d, 6);
  auto const want_enc = brute_force_cosine(enc, n, d, 10), want_dec = brute_force_cosine(dec, n, d, 10);
  for (std::string layout : {"sparsify", "saelens"})
    for (std::string dtype : {"F32", "BF16", "F16"}) {
      temp_dir tmp("w_" + layout + dtype);
      auto root = write_sae(tmp.path, layout, enc, dec, n, d, dtype);
      for (auto kind : {nb::weight_kind::encoder, nb::weight_kind::decoder}) {
        auto w = nb::load_sae_weights(root, "layers.6", kind);
        ASSERT_TRUE(w) << w.error().message;
        EXPECT_EQ(w->layout, layout == "sparsify" ? nb::sae_layout::sparsify : nb::sae_layout::saelens);
        EXPECT_EQ(w->latents, n);
        EXPECT_EQ(w->dim, d);
        EXPECT_EQ(w->values, kind == nb::weight_kind::encoder ? enc : dec) << layout << " " << dtype;
        EXPECT_NE(w->describe().find(layout == "sparsify" ? "sparsify layout" : "SAELens layout"), std::string::npos);
        nb::similarity_options o;
        o.k = 10;
        o.threads = 2;
        o.block_bytes = 37 * n * 4;  // blocks that do not divide the rows
        auto lists = nb::similarity_neighbours(*w, o).value();
        expect_close(lists.lists, kind == nb::weight_kind::encoder ? want_enc : want_dec, layout + " " + dtype);
        EXPECT_EQ(lists.skipped, 0u);
      }
    }
}

// Vectors of +-1 at four places: norms are 2, cosines are exact multiples of 1/4, so rows are full
// of exact ties (identical vectors tie with the latent itself at 1.0).
std::vector<float> tied_rows(std::size_t n, std::size_t d, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<float> v(n * d, 0.0f);
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 7 == 3) {  // a copy of the row before
      std::copy(v.begin() + long((i - 1) * d), v.begin() + long(i * d), v.begin() + long(i * d));
      continue;
    }
    std::set<std::size_t> at;
    while (at.size() < 4) at.insert(rng() % d);
    for (auto j : at) v[i * d + j] = rng() % 2 ? 1.0f : -1.0f;
  }
  return v;
}

TEST(weights, ties_are_ranked_as_torchs_cpu_topk_ranks_them) {
  std::size_t const n = 1500, d = 6;  // 64 * 11 <= 1500: torch's partial sort
  auto const v = tied_rows(n, d, 9);
  auto const want = brute_force_cosine(v, n, d, 10);
  nb::weight_rows w;
  w.latents = n;
  w.dim = d;
  for (bool gemm : {false, true}) {
    w.values = v;
    nb::similarity_options o;
    o.k = 10;
    o.threads = 2;
    if (gemm)  // any product that is exact on these values gives the same lists
      o.gemm = [](std::size_t m, std::size_t cols, std::size_t depth, float const* a, float const* b, float* c) {
        for (std::size_t i = 0; i < m; ++i)
          for (std::size_t j = 0; j < cols; ++j) {
            float s = 0;
            for (std::size_t t = 0; t < depth; ++t) s += a[i * depth + t] * b[j * depth + t];
            c[i * cols + j] = s;
          }
      };
    auto lists = nb::similarity_neighbours(w, o).value();
    for (std::size_t a = 0; a < n; ++a) ASSERT_EQ(lists.lists[a], want[a]) << "latent " << a << " gemm " << gemm;
  }
}

TEST(weights, nan_and_zero_rows_are_skipped_and_counted) {
  std::size_t const n = 50, d = 8;
  auto v = random_rows(n, d, 3);
  v[7 * d + 2] = std::nanf("");
  std::fill(v.begin() + 9 * d, v.begin() + 10 * d, 0.0f);
  nb::weight_rows w;
  w.latents = n;
  w.dim = d;
  w.values = v;
  nb::similarity_options o;
  o.k = 5;
  auto lists = nb::similarity_neighbours(w, o).value();
  EXPECT_EQ(lists.skipped, 2u);
  EXPECT_TRUE(lists.lists[7].empty());
  EXPECT_TRUE(lists.lists[9].empty());
  for (std::size_t a = 0; a < n; ++a)
    for (auto const& e : lists.lists[a]) {
      if (e.latent == 7 || e.latent == 9) {
        EXPECT_EQ(e.score, 0.0f);
      }
    }
  expect_close(lists.lists, brute_force_cosine(v, n, d, 5), "nan rows");
}

TEST(weights, bad_files_get_one_clear_line) {
  temp_dir tmp("bad");
  auto one_line = [](ai::error const& e) { return e.message.find('\n') == std::string::npos; };
  // Neither layout.
  write_safetensors(tmp.path / "other.safetensors", {{"foo", "F32", {2, 2}, std::string(16, '\0')}});
  auto r = nb::load_sae_weights(tmp.path / "other.safetensors", "m", nb::weight_kind::decoder);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ai::errc::bad_header);
  EXPECT_NE(r.error().message.find("neither sparsify's encoder.weight nor SAELens's W_enc"), std::string::npos);
  EXPECT_NE(r.error().message.find("tensors: foo"), std::string::npos) << r.error().message;
  EXPECT_TRUE(one_line(r.error()));
  // A sparsify file without W_dec, asked for the decoder.
  write_safetensors(tmp.path / "nodec.safetensors", {{"encoder.weight", "F32", {3, 2}, std::string(24, '\0')}});
  r = nb::load_sae_weights(tmp.path / "nodec.safetensors", "m", nb::weight_kind::decoder);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no W_dec tensor"), std::string::npos) << r.error().message;
  // Shapes that disagree (SAELens: W_enc [d, n] but W_dec [n + 1, d]).
  write_safetensors(tmp.path / "shape.safetensors", {{"W_enc", "F32", {2, 3}, std::string(24, '\0')},
                                                     {"W_dec", "F32", {4, 2}, std::string(32, '\0')}});
  r = nb::load_sae_weights(tmp.path / "shape.safetensors", "m", nb::weight_kind::decoder);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ai::errc::bad_shape);
  EXPECT_NE(r.error().message.find("SAELens layout: the decoder should be [3, 2]"), std::string::npos) << r.error().message;
  // A dtype that is not a float.
  write_safetensors(tmp.path / "int.safetensors", {{"encoder.weight", "I32", {3, 2}, std::string(24, '\0')}});
  r = nb::load_sae_weights(tmp.path / "int.safetensors", "m", nb::weight_kind::encoder);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ai::errc::bad_dtype);
  // No weights at all in a folder.
  r = nb::load_sae_weights(tmp.path / "nothing", "m", nb::weight_kind::encoder);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ai::errc::file_not_found);
  fs::create_directories(tmp.path / "empty");
  r = nb::load_sae_weights(tmp.path / "empty", "layers.6", nb::weight_kind::encoder);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("sae.safetensors"), std::string::npos);
}

TEST_F(sample_fixture, weights_of_another_width_than_the_module_are_refused) {
  temp_dir tmp("width");
  auto v = random_rows(300, 8, 1);
  write_sae(tmp.path, "saelens", v, v, 300, 8, "F32");
  nb::compute_options o;
  o.method = nb::method::decoder;
  o.sae = tmp.path;
  auto r = nb::compute_neighbours(data(), "layers.6", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ai::errc::bad_shape);
  EXPECT_NE(r.error().message.find("W_dec has 300 latents but module layers.6 of the cache has 2048"), std::string::npos)
      << r.error().message;
  o.sae.clear();
  r = nb::compute_neighbours(data(), "layers.6", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ai::errc::bad_option);
}

// ---- the file ----------------------------------------------------------------------------------

TEST(neighbour_file, scores_are_written_as_python_writes_the_float32_values) {
  EXPECT_EQ(nb::python_float_repr(1.0), "1.0");
  EXPECT_EQ(nb::python_float_repr(0.0), "0.0");
  EXPECT_EQ(nb::python_float_repr(-0.0), "-0.0");
  EXPECT_EQ(nb::python_float_repr(0.5), "0.5");
  EXPECT_EQ(nb::python_float_repr(-0.25), "-0.25");
  EXPECT_EQ(nb::python_float_repr(double(1.0f / 3.0f)), "0.3333333432674408");
  EXPECT_EQ(nb::python_float_repr(0.0001), "0.0001");
  EXPECT_EQ(nb::python_float_repr(1e-05), "1e-05");
  EXPECT_EQ(nb::python_float_repr(1.5e-07), "1.5e-07");
  EXPECT_EQ(nb::python_float_repr(123.0), "123.0");
  EXPECT_EQ(nb::python_float_repr(1e16), "1e+16");
  EXPECT_EQ(nb::python_float_repr(1234567890123456.0), "1234567890123456.0");
  EXPECT_EQ(nb::python_float_repr(double(0.1f)), "0.10000000149011612");
}

TEST(neighbour_file, round_trips_through_delphis_reader) {
  nb::neighbour_lists lists;
  lists.lists = {{{1.0f / 3.0f, 2}, {1e-6f, 1}}, {}, {{0.75f, 0}}};
  auto text = nb::format_neighbour_json(lists);
  EXPECT_EQ(text, R"({"0": [[0.3333333432674408, 2], [9.999999974752427e-07, 1]], "1": [], "2": [[0.75, 0]]})");
  auto table = ai::records::parse_neighbours(text, "test").value();
  ASSERT_EQ(table.size(), 3u);
  ASSERT_EQ(table.at(0).size(), 2u);
  EXPECT_EQ(static_cast<float>(table.at(0)[0].distance), 1.0f / 3.0f);
  EXPECT_EQ(table.at(0)[0].latent, 2u);
  EXPECT_EQ(static_cast<float>(table.at(0)[1].distance), 1e-6f);
  EXPECT_TRUE(table.at(1).empty());
  temp_dir tmp("file");
  auto path = nb::write_neighbour_file(tmp.path / "out", "layers.6", nb::method::decoder, lists).value();
  EXPECT_EQ(path, tmp.path / "out" / "layers.6-decoder_similarity.json");
  EXPECT_EQ(nb::neighbour_file_path(tmp.path, ".model.layers.10", nb::method::cooccurrence).filename(),
            ".model.layers.10-co-occurrence.json");
  EXPECT_EQ(nb::neighbour_file_path(tmp.path, "m", nb::method::encoder).filename(), "m-encoder_similarity.json");
  EXPECT_EQ(ai::records::load_neighbours(path).value().size(), 3u);
  std::size_t files = 0;
  for ([[maybe_unused]] auto const& e : fs::directory_iterator(tmp.path / "out")) ++files;
  EXPECT_EQ(files, 1u);  // no temporary left behind
}

// ---- the async operation -----------------------------------------------------------------------

TEST_F(sample_fixture, async_compute_neighbours_completes_on_the_callers_side) {
  boost::asio::thread_pool cpu(1);
  nb::compute_options o;
  o.k = 10;
  o.threads = 2;
  std::uint64_t reports = 0;
  o.progress = [&](std::string_view, std::uint64_t, std::uint64_t) { ++reports; };
  auto fut = nb::async_compute_neighbours(data(), "layers.6", o, cpu.get_executor(), boost::asio::use_future);
  auto r = fut.get();
  EXPECT_EQ(r.lists.lists, computed().lists);
  EXPECT_GT(reports, 0u);
  ai::diagnostics diag;
  std::string missing = "layers.99";
  auto bad = nb::async_compute_neighbours(data(), missing, o, cpu.get_executor(), diag, boost::asio::use_future);
  EXPECT_THROW(bad.get(), boost::system::system_error);
  EXPECT_NE(diag.message.find("layers.99"), std::string::npos) << diag.message;
  cpu.join();
}

// ---- the command -------------------------------------------------------------------------------

#if defined(AUTOINTERP_CLI_EXE)
std::string quoted(fs::path const& p) { return test_support::shell_quoted(p); }

test_support::cli_result run_cli(std::string const& args) {
  temp_dir tmp("cli_err");
  return test_support::run_cli(AUTOINTERP_CLI_EXE, args, tmp.path / "err");
}

TEST_F(sample_fixture, cli_writes_delphis_file_and_records_take_their_negatives_from_it) {
  temp_dir tmp("cli");
  auto r = run_cli("neighbours " + quoted(sample_cache) + " --method cooccurrence --k 10 --out " + quoted(tmp.path));
  ASSERT_EQ(r.code, 0) << r.err;
  auto file = tmp.path / "layers.6-co-occurrence.json";
  ASSERT_TRUE(fs::exists(file)) << r.out;
  EXPECT_NE(r.out.find("2048 latents"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("counting"), std::string::npos) << r.err;
  auto table = ai::records::load_neighbours(file).value();
  ASSERT_EQ(table.size(), 2048u);
  for (std::uint32_t l = 0; l < 2048; ++l) {
    auto const& want = computed().lists[l];
    auto const& got = table.at(l);
    ASSERT_EQ(got.size(), want.size()) << l;
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(static_cast<float>(got[i].distance), want[i].score);
      EXPECT_EQ(got[i].latent, want[i].latent);
    }
  }

  // Round trip: the records' non-activating windows are windows where a neighbour fires and the
  // latent does not.
  std::uint32_t const latent = 958, ctx = 64, window = 32;
  auto rec = run_cli("records " + quoted(sample_cache) + " --latents 958 --min-examples 3 --n-non-activating 20 "
                     "--non-activating-source neighbours --neighbours " + quoted(file));
  ASSERT_EQ(rec.code, 0) << rec.err;
  auto doc = boost::json::parse(rec.out).as_object();
  auto const& negatives = doc.at("non_activating").as_array();
  ASSERT_FALSE(negatives.empty());
  auto tokens = data().tokens("layers.6").value();
  auto active_in = [&](std::uint32_t l, std::size_t w) {
    for (auto t : sets()[l])
      if (t / window == w) return true;
    return false;
  };
  std::size_t const windows = tokens->rows * ctx / window;
  for (auto const& neg : negatives) {
    std::vector<std::uint32_t> toks;
    for (auto const& t : neg.as_array()) toks.push_back(static_cast<std::uint32_t>(t.to_number<std::uint64_t>()));
    ASSERT_EQ(toks.size(), window);
    bool found = false;
    for (std::size_t w = 0; w < windows && !found; ++w) {
      if (!std::equal(toks.begin(), toks.end(), tokens->ids.begin() + long(w * window))) continue;
      if (active_in(latent, w)) continue;
      for (auto const& e : computed().lists[latent])
        if (active_in(e.latent, w)) found = true;
    }
    EXPECT_TRUE(found) << "a non-activating window where no neighbour of 958 fires, or 958 does";
  }
  // explain takes the same file.
  auto ex = run_cli("explain " + quoted(sample_cache) + " --latents 958 --min-examples 3 --provider dry-run "
                    "--explainer contrastive --non-activating-source neighbours --neighbours " + quoted(tmp.path) +
                    " --out " + quoted(tmp.path / "run"));
  EXPECT_EQ(ex.code, 0) << ex.err;
}

TEST_F(sample_fixture, cli_bad_input_is_one_line_and_exit_code_2) {
  temp_dir tmp("cli_bad");
  auto r = run_cli("neighbours " + quoted(sample_cache) + " --method cosine --out " + quoted(tmp.path));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--method cosine is not cooccurrence, decoder or encoder"), std::string::npos) << r.err;
  r = run_cli("neighbours " + quoted(sample_cache) + " --method decoder --out " + quoted(tmp.path));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("needs --sae PATH"), std::string::npos) << r.err;
  auto v = random_rows(300, 8, 1);
  write_sae(tmp.path / "sae", "sparsify", v, v, 300, 8, "BF16");
  r = run_cli("neighbours " + quoted(sample_cache) + " --method encoder --sae " + quoted(tmp.path / "sae") + " --out " +
              quoted(tmp.path));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("encoder.weight has 300 latents but module layers.6 of the cache has 2048"), std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(sample_fixture, cli_decoder_similarity_of_a_matching_sae) {
  temp_dir tmp("cli_dec");
  std::size_t const n = 2048, d = 16;
  auto enc = random_rows(n, d, 11), dec = random_rows(n, d, 12);
  write_sae(tmp.path / "sae", "saelens", enc, dec, n, d, "BF16");
  auto r = run_cli("neighbours " + quoted(sample_cache) + " --method decoder --sae " +
                   quoted(tmp.path / "sae" / "sae_weights.safetensors") + " --k 5 --out " + quoted(tmp.path));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("SAELens layout, W_dec [2048, 16] BF16"), std::string::npos) << r.out;
  auto table = ai::records::load_neighbours(tmp.path / "layers.6-decoder_similarity.json").value();
  auto want = brute_force_cosine(dec, n, d, 5);
  for (std::uint32_t l : {0u, 1u, 700u, 2047u}) {
    ASSERT_EQ(table.at(l).size(), 5u);
    EXPECT_EQ(table.at(l)[0].latent, want[l][0].latent) << l;
    EXPECT_NEAR(table.at(l)[0].distance, want[l][0].score, 2e-6);
  }
}
#endif

}  // namespace
