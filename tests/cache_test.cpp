// Reading latent caches: delphi shards (plain and .zst), tokens, the shared shard cache, the
// native indexed format, convert, and every kind of bad input. Activations are compared with an
// independent reader written here (raw bytes + Boost.JSON) and with facts of delphi's own records.
#include <autointerp/cache/convert.hpp>
#include <autointerp/cache/dataset.hpp>
#include <autointerp/cache/detail/xxhash64.hpp>
#include <autointerp/cache/latent_spec.hpp>
#include <autointerp/cache/native_format.hpp>
#include <autointerp/cache/safetensors.hpp>
#include <autointerp/cache/tokens_file.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>
#include <zstd.h>

#include "run_cli.hpp"
#include "test_paths.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>
#include <sys/wait.h>
#include <unistd.h>

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace cache = autointerp::cache;
using autointerp::errc;
using autointerp::result;

namespace {

fs::path const fixtures = fs::path(AUTOINTERP_TEST_FIXTURES) / "delphi";
fs::path const cache_a = fixtures / "cache_a";
fs::path const cache_b = fixtures / "cache_b";

std::string slurp(fs::path const& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
void spit(fs::path const& p, std::string_view data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// A fresh folder under the system temp dir, removed when the test ends.
struct temp_dir {
  fs::path path;
  explicit temp_dir(std::string const& name) {
    path = fs::temp_directory_path() / ("autointerp_cache_test_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void copy_tree(fs::path const& from, fs::path const& to) {
  fs::create_directories(to);
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

// ---- an independent reference reader of safetensors files --------------------------------------

struct raw_tensor {
  std::string dtype;
  std::vector<std::uint64_t> shape;
  std::string bytes;
};
using raw_file = std::map<std::string, raw_tensor>;

raw_file read_raw(std::string const& data) {
  std::uint64_t n = 0;
  std::memcpy(&n, data.data(), 8);
  auto header = boost::json::parse(data.substr(8, n)).as_object();
  raw_file out;
  for (auto const& [k, v] : header) {
    if (k == "__metadata__") continue;
    raw_tensor t;
    t.dtype = std::string(v.at("dtype").as_string());
    for (auto const& d : v.at("shape").as_array()) t.shape.push_back(d.to_number<std::uint64_t>());
    auto b = v.at("data_offsets").as_array()[0].to_number<std::uint64_t>();
    auto e = v.at("data_offsets").as_array()[1].to_number<std::uint64_t>();
    t.bytes = data.substr(8 + n + b, e - b);
    out[std::string(k)] = std::move(t);
  }
  return out;
}

std::string write_raw(raw_file const& f) {
  boost::json::object header;
  std::string body;
  for (auto const& [name, t] : f) {
    boost::json::array shape;
    for (auto d : t.shape) shape.push_back(d);
    header[name] = {{"dtype", t.dtype}, {"shape", shape}, {"data_offsets", {body.size(), body.size() + t.bytes.size()}}};
    body += t.bytes;
  }
  std::string json = boost::json::serialize(header);
  while (json.size() % 8) json += ' ';
  std::uint64_t n = json.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + json + body;
}

std::int64_t raw_int(raw_tensor const& t, std::size_t i) {
  auto const* p = t.bytes.data();
  if (t.dtype == "U16") { std::uint16_t v; std::memcpy(&v, p + 2 * i, 2); return v; }
  if (t.dtype == "U32") { std::uint32_t v; std::memcpy(&v, p + 4 * i, 4); return v; }
  if (t.dtype == "I32") { std::int32_t v; std::memcpy(&v, p + 4 * i, 4); return v; }
  if (t.dtype == "I64") { std::int64_t v; std::memcpy(&v, p + 8 * i, 8); return v; }
  ADD_FAILURE() << "unexpected dtype " << t.dtype;
  return 0;
}

float raw_float(raw_tensor const& t, std::size_t i) {
  if (t.dtype == "F32") { float v; std::memcpy(&v, t.bytes.data() + 4 * i, 4); return v; }
  std::uint16_t h;
  std::memcpy(&h, t.bytes.data() + 2 * i, 2);
  if (t.dtype == "BF16") { std::uint32_t b = std::uint32_t(h) << 16; float v; std::memcpy(&v, &b, 4); return v; }
  // F16 by arithmetic rather than bit manipulation, to stay independent of the library.
  int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
  float v = exp == 0 ? std::ldexp(float(mant), -24) : exp == 31 ? INFINITY : std::ldexp(float(mant + 1024), exp - 25);
  return sign ? -v : v;
}

struct ref_activation {
  std::uint32_t row, pos;
  float value;
};
struct ref_module {
  std::uint32_t width = 0;
  std::map<std::uint32_t, std::vector<ref_activation>> latents;
  std::vector<std::int64_t> tokens;
  std::uint64_t total = 0;
};

ref_module reference_read(fs::path const& module_dir) {
  ref_module m;
  for (auto const& e : fs::directory_iterator(module_dir)) {
    auto name = e.path().filename().string();
    if (e.path().extension() != ".safetensors") continue;
    auto us = name.find('_');
    std::uint32_t start = std::stoul(name.substr(0, us)), end = std::stoul(name.substr(us + 1));
    m.width = std::max(m.width, end + 1);
    auto f = read_raw(slurp(e.path()));
    auto const& loc = f.at("locations");
    auto const& act = f.at("activations");
    for (std::size_t i = 0; i < act.shape[0]; ++i) {
      auto latent = static_cast<std::uint32_t>(start + raw_int(loc, i * 3 + 2));
      m.latents[latent].push_back({static_cast<std::uint32_t>(raw_int(loc, i * 3)),
                                   static_cast<std::uint32_t>(raw_int(loc, i * 3 + 1)), raw_float(act, i)});
      ++m.total;
    }
    if (m.tokens.empty() && f.count("tokens")) {
      auto const& t = f.at("tokens");
      for (std::size_t i = 0; i < t.shape[0] * t.shape[1]; ++i) m.tokens.push_back(raw_int(t, i));
    }
  }
  for (auto& [l, v] : m.latents)
    std::stable_sort(v.begin(), v.end(), [](auto const& a, auto const& b) {
      return std::tie(a.row, a.pos) < std::tie(b.row, b.pos);
    });
  return m;
}

// Compares every latent of `module` with the reference; returns the number of activations seen.
std::uint64_t expect_matches_reference(cache::dataset const& d, std::string const& module, ref_module const& ref) {
  auto info = d.module(module);
  EXPECT_TRUE(info.has_value());
  if (!info) return 0;
  EXPECT_EQ((*info)->width, ref.width);
  std::uint64_t seen = 0;
  for (std::uint32_t l = 0; l < ref.width; ++l) {
    auto a = d.load_latent(module, l);
    if (!a) {
      ADD_FAILURE() << "latent " << l << ": " << a.error().message;
      return seen;
    }
    EXPECT_EQ(a->latent.index, l);
    EXPECT_EQ(a->latent.module, module);
    auto it = ref.latents.find(l);
    std::size_t n = it == ref.latents.end() ? 0 : it->second.size();
    EXPECT_EQ(a->size(), n) << "latent " << l;
    if (a->size() != n || a->rows.size() != n || a->positions.size() != n) return seen;
    for (std::size_t i = 0; i < n; ++i) {
      auto const& r = it->second[i];
      if (a->rows[i] != r.row || a->positions[i] != r.pos || a->values[i] != r.value) {
        ADD_FAILURE() << "latent " << l << " activation " << i << ": got (" << a->rows[i] << ", " << a->positions[i]
                      << ", " << a->values[i] << "), file holds (" << r.row << ", " << r.pos << ", " << r.value << ")";
        return seen;
      }
    }
    seen += n;
  }
  return seen;
}

std::string zstd_compress(std::string_view data, int frames = 1) {
  std::string out;
  std::size_t per = (data.size() + frames - 1) / frames;
  for (std::size_t at = 0; at < data.size(); at += per) {
    auto part = data.substr(at, per);
    std::string buf(ZSTD_compressBound(part.size()), '\0');
    auto* cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    auto n = ZSTD_compress2(cctx, buf.data(), buf.size(), part.data(), part.size());
    ZSTD_freeCCtx(cctx);
    EXPECT_FALSE(ZSTD_isError(n));
    out += buf.substr(0, n);
  }
  return out;
}

std::string zstd_decompress(std::string_view data) {
  auto* ds = ZSTD_createDStream();
  std::string out;
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  std::string buf(1 << 16, '\0');
  while (in.pos < in.size) {
    ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
    auto r = ZSTD_decompressStream(ds, &ob, &in);
    if (ZSTD_isError(r)) break;
    out.append(buf.data(), ob.pos);
  }
  ZSTD_freeDStream(ds);
  return out;
}

// Replaces every plain shard of `dir` with a .zst copy (`frames` zstd frames each).
void compress_shards(fs::path const& dir, int frames) {
  for (auto const& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".safetensors") continue;
    spit(e.path().string() + ".zst", zstd_compress(slurp(e.path()), frames));
    fs::remove(e.path());
  }
}

// Opens `root` and loads every latent and the tokens of every module; returns the first error.
std::optional<autointerp::error> first_error(fs::path const& root, cache::open_options opts = {}) {
  auto d = cache::dataset::open(root, opts);
  if (!d) return d.error();
  for (auto const& m : d->modules()) {
    for (std::uint32_t l = 0; l < m.width; ++l)
      if (auto a = d->load_latent(m.name, l); !a) return a.error();
    if (auto t = d->tokens(m.name); !t) return t.error();
  }
  return std::nullopt;
}

cache::open_options budget(std::size_t bytes) {
  cache::open_options o;
  o.memory_budget = bytes;
  return o;
}
cache::open_options tokens_from(fs::path p) {
  cache::open_options o;
  o.tokens_file = std::move(p);
  return o;
}
cache::convert_options two_threads() {
  cache::convert_options o;
  o.threads = 2;
  return o;
}

void expect_error(std::optional<autointerp::error> const& e, errc code, std::string const& names) {
  ASSERT_TRUE(e.has_value()) << "expected " << autointerp::make_error_code(code).message();
  EXPECT_TRUE(*e == code) << "got " << e->code.message() << ": " << e->message;
  EXPECT_NE(e->message.find(names), std::string::npos) << "message does not name " << names << ": " << e->message;
  EXPECT_EQ(e->message.find('\n'), std::string::npos) << "message is not one line: " << e->message;
}

}  // namespace

// ---- latent selection ----------------------------------------------------------------------------

TEST(latent_spec, parses_sorts_and_deduplicates) {
  auto r = cache::parse_latent_spec("17, 0-3,2-4,100-101", 512);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 17, 100, 101}));
  EXPECT_EQ(cache::parse_latent_spec("511", 512).value(), std::vector<std::uint32_t>{511});
}

TEST(latent_spec, rejects_bad_syntax_and_out_of_range) {
  for (auto bad : {"", "x", "1-", "-3", "5-2", "1,,2", "1-2-3", "1.5", " , "}) {
    auto r = cache::parse_latent_spec(bad, 512);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error() == errc::bad_latent_spec) << bad << ": " << r.error().message;
  }
  auto r = cache::parse_latent_spec("0-9,512", 512);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::latent_out_of_range);
  EXPECT_NE(r.error().message.find("512"), std::string::npos);
  EXPECT_FALSE(cache::parse_latent_spec("99999999999999999999999", 512));
}

// ---- building blocks -----------------------------------------------------------------------------

TEST(xxhash64, matches_published_values_and_zstd_frame_checksums) {
  using cache::detail::xxhash64;
  EXPECT_EQ(xxhash64::hash("", 0), 0xEF46DB3751D8E999ULL);
  EXPECT_EQ(xxhash64::hash("a", 1), 0xD24EC4F1A98C6E5BULL);
  EXPECT_EQ(xxhash64::hash("abc", 3), 0x44BC2CF5AD770999ULL);
  // A zstd frame with a content checksum ends with the low 32 bits of XXH64 of its content.
  for (std::size_t size : {0u, 5u, 31u, 32u, 33u, 100u, 4099u}) {
    std::string data(size, '\0');
    for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i * 31 + 7);
    auto frame = zstd_compress(data.empty() ? std::string_view("") : std::string_view(data));
    if (frame.size() < 4) continue;
    std::uint32_t tail;
    std::memcpy(&tail, frame.data() + frame.size() - 4, 4);
    EXPECT_EQ(tail, static_cast<std::uint32_t>(xxhash64::hash(data.data(), data.size()))) << size;
  }
}

TEST(safetensors, decodes_every_half_value_exactly) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    raw_tensor t{"F16", {1}, std::string(2, '\0')};
    std::uint16_t v = static_cast<std::uint16_t>(h);
    std::memcpy(t.bytes.data(), &v, 2);
    float ref = raw_float(t, 0), got = cache::detail::half_to_float(v);
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0) {  // NaN payloads (the reference says infinity)
      ASSERT_TRUE(std::isnan(got)) << std::hex << h;
      continue;
    }
    ASSERT_EQ(ref, got) << std::hex << h;
    ASSERT_EQ(cache::detail::float_to_half_exact(got), v) << std::hex << h;
  }
}

TEST(safetensors, parses_a_fixture_header_and_names_tensors) {
  auto h = cache::safetensors_file::read_header(cache_a / "layers.3" / "0_127.safetensors");
  ASSERT_TRUE(h) << h.error().message;
  ASSERT_NE(h->find("locations"), nullptr);
  EXPECT_EQ(h->find("locations")->dtype, cache::tensor_dtype::u16);
  EXPECT_EQ(h->find("activations")->dtype, cache::tensor_dtype::f16);
  EXPECT_EQ(h->find("tokens")->shape, (std::vector<std::uint64_t>{64, 64}));
  EXPECT_EQ(h->file_size(), fs::file_size(cache_a / "layers.3" / "0_127.safetensors"));
}

// ---- reading delphi caches -----------------------------------------------------------------------

TEST(dataset, cache_a_modules_and_every_latent_match_the_files) {
  auto d = cache::dataset::open(cache_a);
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->modules().size(), 1u);
  auto const& m = d->modules()[0];
  EXPECT_EQ(m.name, "layers.3");
  EXPECT_EQ(m.width, 512u);
  EXPECT_EQ(m.ctx_len, 64u);
  EXPECT_EQ(m.rows, 64u);
  EXPECT_EQ(m.model_name, "openai-community/gpt2");
  EXPECT_EQ(m.dtype, cache::activation_dtype::f16);
  EXPECT_TRUE(m.has_tokens);
  ASSERT_EQ(m.shards.size(), 4u);
  EXPECT_EQ(m.shards[1].first_latent, 128u);
  EXPECT_EQ(m.shards[1].last_latent, 255u);
  auto ref = reference_read(cache_a / "layers.3");
  EXPECT_EQ(expect_matches_reference(*d, "layers.3", ref), ref.total);
  auto t = d->tokens("layers.3");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ((*t)->rows, 64u);
  ASSERT_EQ((*t)->ctx, 64u);
  ASSERT_EQ((*t)->ids.size(), ref.tokens.size());
  for (std::size_t i = 0; i < ref.tokens.size(); ++i) ASSERT_EQ((*t)->ids[i], ref.tokens[i]);
  EXPECT_EQ(d->tokens("layers.3").value().get(), t->get()) << "tokens are read once and shared";
}

TEST(dataset, cache_b_old_keys_u32_locations_f32_and_dotted_module) {
  auto d = cache::dataset::open(cache_b);
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->modules().size(), 1u);
  auto const& m = d->modules()[0];
  EXPECT_EQ(m.name, ".model.layers.10");
  EXPECT_EQ(m.width, 131072u);
  EXPECT_EQ(m.ctx_len, 64u);
  EXPECT_EQ(m.rows, 48u);
  EXPECT_EQ(m.dtype, cache::activation_dtype::f32);
  auto ref = reference_read(cache_b / ".model.layers.10");
  EXPECT_EQ(expect_matches_reference(*d, ".model.layers.10", ref), ref.total);
  auto t = d->tokens(".model.layers.10");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ((*t)->ids.size(), ref.tokens.size());
  for (std::size_t i = 0; i < ref.tokens.size(); ++i) ASSERT_EQ((*t)->ids[i], ref.tokens[i]);
}

// Facts from delphi's own records: per_token_frequency = activations / tokens, and the first
// window's maximum is the latent's largest activation (rounded to 4 decimals).
TEST(dataset, counts_and_maxima_agree_with_delphi_records) {
  struct cse {
    fs::path root, records;
    std::string module;
    double tokens;
  };
  for (auto const& c : {cse{cache_a, cache_a / "expected/top.jsonl.zst", "layers.3", 4096},
                        cse{cache_b, cache_b / "expected/quantiles.jsonl.zst", ".model.layers.10", 3072}}) {
    auto d = cache::dataset::open(c.root);
    ASSERT_TRUE(d) << d.error().message;
    auto summaries = d->summaries(c.module);
    ASSERT_TRUE(summaries) << summaries.error().message;
    std::istringstream lines(zstd_decompress(slurp(c.records)));
    std::size_t checked = 0;
    for (std::string line; std::getline(lines, line);) {
      auto rec = boost::json::parse(line).as_object();
      auto latent = rec.at("latent").to_number<std::uint32_t>();
      auto a = d->load_latent(c.module, latent);
      ASSERT_TRUE(a) << a.error().message;
      double ptf = rec.at("per_token_frequency").to_number<double>();
      EXPECT_EQ(static_cast<double>(a->size()), std::round(ptf * c.tokens)) << "latent " << latent;
      float max = *std::max_element(a->values.begin(), a->values.end());
      double first = rec.at("examples_max_activation").as_array()[0].to_number<double>();
      EXPECT_NEAR(max, first, 1e-4 + 1e-3 * std::abs(first)) << "latent " << latent;
      EXPECT_EQ((*summaries)[latent].count, a->size());
      EXPECT_EQ((*summaries)[latent].max, max);
      ++checked;
    }
    EXPECT_GT(checked, 10u) << c.records;
  }
}

TEST(dataset, zstd_copies_give_identical_results) {
  for (int frames : {1, 3}) {
    temp_dir tmp("zst" + std::to_string(frames));
    copy_tree(cache_a, tmp.path / "a");
    compress_shards(tmp.path / "a" / "layers.3", frames);
    copy_tree(cache_b, tmp.path / "b");
    compress_shards(tmp.path / "b" / ".model.layers.10", frames);
    auto da = cache::dataset::open(tmp.path / "a");
    ASSERT_TRUE(da) << da.error().message;
    EXPECT_TRUE(da->modules()[0].shards[0].zstd);
    EXPECT_EQ(expect_matches_reference(*da, "layers.3", reference_read(cache_a / "layers.3")),
              reference_read(cache_a / "layers.3").total);
    auto db = cache::dataset::open(tmp.path / "b");
    ASSERT_TRUE(db) << db.error().message;
    auto ref_b = reference_read(cache_b / ".model.layers.10");
    EXPECT_EQ(expect_matches_reference(*db, ".model.layers.10", ref_b), ref_b.total);
    auto plain = cache::dataset::open(cache_a).value();
    EXPECT_EQ(da->tokens("layers.3").value()->ids, plain.tokens("layers.3").value()->ids);
  }
}

TEST(dataset, a_single_module_folder_opens_as_a_cache) {
  auto d = cache::dataset::open(cache_a / "layers.3");
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->modules().size(), 1u);
  EXPECT_EQ(d->modules()[0].name, "layers.3");
  EXPECT_EQ(d->load_latent("layers.3", 270).value().size(),
            cache::dataset::open(cache_a).value().load_latent("layers.3", 270).value().size());
}

// Older caches: I64 locations, BF16 or F32 activations, I32 tokens. Rewrite cache_a's shards that
// way and check every latent against the reference reader, directly and after a convert.
TEST(dataset, older_dtypes_i64_locations_bf16_f32_activations_i32_tokens) {
  for (std::string act_dtype : {"BF16", "F32"}) {
    temp_dir tmp("dtypes" + act_dtype);
    copy_tree(cache_a, tmp.path / "c");
    for (auto const& e : fs::directory_iterator(tmp.path / "c" / "layers.3")) {
      if (e.path().extension() != ".safetensors") continue;
      auto f = read_raw(slurp(e.path()));
      raw_tensor loc{"I64", f["locations"].shape, {}}, act{act_dtype, f["activations"].shape, {}}, tok{"I32", f["tokens"].shape, {}};
      for (std::size_t i = 0; i < f["locations"].shape[0] * 3; ++i) {
        std::int64_t v = raw_int(f["locations"], i);
        loc.bytes.append(reinterpret_cast<char const*>(&v), 8);
      }
      for (std::size_t i = 0; i < f["activations"].shape[0]; ++i) {
        float v = raw_float(f["activations"], i) * 1.37f;  // not always exact in bfloat16: truncation decides
        std::uint32_t bits;
        std::memcpy(&bits, &v, 4);
        if (act_dtype == "BF16") {
          auto b = static_cast<std::uint16_t>(bits >> 16);
          act.bytes.append(reinterpret_cast<char const*>(&b), 2);
        } else {
          act.bytes.append(reinterpret_cast<char const*>(&v), 4);
        }
      }
      for (std::size_t i = 0; i < f["tokens"].shape[0] * f["tokens"].shape[1]; ++i) {
        auto v = static_cast<std::int32_t>(raw_int(f["tokens"], i));
        tok.bytes.append(reinterpret_cast<char const*>(&v), 4);
      }
      spit(e.path(), write_raw({{"locations", loc}, {"activations", act}, {"tokens", tok}}));
    }
    auto ref = reference_read(tmp.path / "c" / "layers.3");
    auto d = cache::dataset::open(tmp.path / "c");
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->modules()[0].dtype, act_dtype == "BF16" ? cache::activation_dtype::bf16 : cache::activation_dtype::f32);
    EXPECT_EQ(expect_matches_reference(*d, "layers.3", ref), ref.total);
    EXPECT_EQ(d->tokens("layers.3").value()->ids, cache::dataset::open(cache_a).value().tokens("layers.3").value()->ids);
    ASSERT_TRUE(cache::convert_cache(*d, tmp.path / "n"));
    auto n = cache::dataset::open(tmp.path / "n");
    ASSERT_TRUE(n) << n.error().message;
    EXPECT_EQ(n->modules()[0].dtype, d->modules()[0].dtype);
    EXPECT_EQ(expect_matches_reference(*n, "layers.3", ref), ref.total);
  }
}

// ---- the shared shard cache and the async API ----------------------------------------------------

TEST(shard_cache, many_concurrent_latent_tasks_decode_each_shard_once) {
  auto d = cache::dataset::open(cache_a).value();
  asio::thread_pool pool(4);
  // Starts loads of `latents` at once; returns how many succeeded.
  auto load_all = [&](std::uint32_t first, std::uint32_t count) {
    std::vector<std::promise<bool>> done(count);
    for (std::uint32_t i = 0; i < count; ++i)
      d.async_load_latent(pool.get_executor(), "layers.3", first + i,
                          [p = &done[i]](boost::system::error_code ec, cache::latent_activations) { p->set_value(!ec); });
    std::uint32_t ok = 0;
    for (auto& p : done) ok += p.get_future().get();
    return ok;
  };
  EXPECT_EQ(load_all(0, 128), 128u);
  EXPECT_EQ(d.cache_stats().decodes, 1u);
  EXPECT_EQ(d.cache_stats().hits, 127u);
  EXPECT_EQ(load_all(0, 512), 512u);
  EXPECT_EQ(d.cache_stats().decodes, 4u);
  EXPECT_EQ(d.cache_stats().evictions, 0u);
  auto copy = d;  // copies share the cache
  ASSERT_TRUE(copy.load_latent("layers.3", 300));
  EXPECT_EQ(d.cache_stats().decodes, 4u);
  pool.join();
}

TEST(shard_cache, stays_within_the_budget_and_refuses_shards_over_it) {
  auto ref = reference_read(cache_a / "layers.3");
  // Each decoded shard of cache_a takes 145-250 kB: a 300 kB budget holds one at a time.
  auto d = cache::dataset::open(cache_a, budget(300'000)).value();
  EXPECT_EQ(expect_matches_reference(d, "layers.3", ref), ref.total);
  auto s = d.cache_stats();
  EXPECT_EQ(s.decodes, 4u);
  EXPECT_EQ(s.evictions, 3u);
  EXPECT_LE(s.bytes, 300'000u);
  ASSERT_TRUE(d.load_latent("layers.3", 0));  // evicted: decoded again
  EXPECT_EQ(d.cache_stats().decodes, 5u);

  auto tiny = cache::dataset::open(cache_a, budget(10'000)).value();
  auto r = tiny.load_latent("layers.3", 5);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::memory_budget) << r.error().message;
  EXPECT_NE(r.error().message.find("0_127.safetensors"), std::string::npos);
}

TEST(dataset, async_open_and_load_complete_on_the_callers_thread) {
  asio::io_context io;
  asio::thread_pool pool(2);
  auto const io_thread = std::this_thread::get_id();
  std::size_t count = 0;
  bool resumed_on_io = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        cache::dataset d = co_await cache::dataset::async_open(pool.get_executor(), cache_a);
        cache::latent_activations a = co_await d.async_load_latent(pool.get_executor(), "layers.3", 270);
        resumed_on_io = std::this_thread::get_id() == io_thread;
        count = a.size();
        autointerp::diagnostics diag;
        auto [ec, bad] = co_await d.async_load_latent(pool.get_executor(), "layers.3", 100000, diag,
                                                      asio::as_tuple(asio::deferred));
        EXPECT_TRUE(ec == errc::latent_out_of_range);
        EXPECT_TRUE(bad.empty());
        EXPECT_NE(diag.message.find("100000"), std::string::npos) << diag.message;
      },
      asio::detached);
  io.run();
  pool.join();
  EXPECT_TRUE(resumed_on_io);
  EXPECT_EQ(count, reference_read(cache_a / "layers.3").latents[270].size());
}

// ---- tokens from a file the user names -----------------------------------------------------------

TEST(dataset, tokens_from_npy_or_safetensors_for_caches_without_them) {
  temp_dir tmp("notokens");
  copy_tree(cache_a, tmp.path / "c");
  std::string token_bytes;
  for (auto const& e : fs::directory_iterator(tmp.path / "c" / "layers.3")) {
    if (e.path().extension() != ".safetensors") continue;
    auto f = read_raw(slurp(e.path()));
    token_bytes = f.at("tokens").bytes;
    f.erase("tokens");
    spit(e.path(), write_raw(f));
  }
  auto d = cache::dataset::open(tmp.path / "c").value();
  EXPECT_FALSE(d.modules()[0].has_tokens);
  EXPECT_EQ(d.modules()[0].rows, 64u) << "rows from n_tokens / cache_ctx_len";
  auto t = d.tokens("layers.3");
  ASSERT_FALSE(t);
  EXPECT_TRUE(t.error() == errc::tokens_missing);
  EXPECT_NE(t.error().message.find("layers.3"), std::string::npos);

  // .npy (version 1, int64, C order) as numpy.save writes it.
  std::string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (64, 64), }";
  while ((10 + dict.size() + 1) % 64) dict += ' ';
  dict += '\n';
  std::string npy("\x93NUMPY\x01\x00", 8);
  npy += static_cast<char>(dict.size() & 0xff);
  npy += static_cast<char>(dict.size() >> 8);
  spit(tmp.path / "tokens.npy", npy + dict + token_bytes);
  spit(tmp.path / "tokens.safetensors", write_raw({{"ids", raw_tensor{"I64", {64, 64}, token_bytes}}}));
  auto expected = cache::dataset::open(cache_a).value().tokens("layers.3").value()->ids;
  for (auto const* name : {"tokens.npy", "tokens.safetensors"}) {
    auto dt = cache::dataset::open(tmp.path / "c", tokens_from(tmp.path / name));
    ASSERT_TRUE(dt) << dt.error().message;
    auto tt = dt->tokens("layers.3");
    ASSERT_TRUE(tt) << tt.error().message;
    EXPECT_EQ((*tt)->ids, expected) << name;
    EXPECT_TRUE(dt->load_latent("layers.3", 3));
  }
  // A token matrix whose context length disagrees with config.json is refused at open.
  spit(tmp.path / "wrong.safetensors", write_raw({{"tokens", raw_tensor{"I64", {128, 32}, token_bytes}}}));
  auto wrong = cache::dataset::open(tmp.path / "c", tokens_from(tmp.path / "wrong.safetensors"));
  expect_error(wrong ? std::nullopt : std::optional(wrong.error()), errc::bad_shape, "wrong.safetensors");
}

// ---- native format and convert -------------------------------------------------------------------

TEST(native, convert_round_trips_exactly_and_reads_only_the_index_for_summaries) {
  for (auto const& [root, module] : {std::pair{cache_a, std::string("layers.3")},
                                     std::pair{cache_b, std::string(".model.layers.10")}}) {
    temp_dir tmp("convert");
    auto d = cache::dataset::open(root).value();
    auto report = cache::convert_cache(d, tmp.path / "out", two_threads());
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_EQ(report->modules, 1u);
    auto n = cache::dataset::open(tmp.path / "out");
    ASSERT_TRUE(n) << n.error().message;
    EXPECT_EQ(n->format(), cache::cache_format::native);
    auto const& m = n->modules()[0];
    EXPECT_EQ(m.name, module);
    EXPECT_EQ(m.width, d.modules()[0].width);
    EXPECT_EQ(m.ctx_len, d.modules()[0].ctx_len);
    EXPECT_EQ(m.rows, d.modules()[0].rows);
    EXPECT_EQ(m.dtype, d.modules()[0].dtype);
    EXPECT_EQ(m.model_name, "openai-community/gpt2");
    EXPECT_TRUE(fs::exists(tmp.path / "out" / module / "config.json"));

    auto before = n->native_bytes_read();
    auto sn = n->summaries(module).value();
    EXPECT_EQ(n->native_bytes_read(), before) << "summaries come from the index loaded at open";
    auto sd = d.summaries(module).value();
    ASSERT_EQ(sn.size(), sd.size());
    for (std::size_t l = 0; l < sn.size(); ++l) {
      ASSERT_EQ(sn[l].count, sd[l].count) << l;
      ASSERT_EQ(sn[l].max, sd[l].max) << l;
    }
    auto ref = reference_read(root / module);
    EXPECT_EQ(report->activations, ref.total);
    // One latent costs one block read.
    auto latent = ref.latents.begin()->first;
    before = n->native_bytes_read();
    ASSERT_TRUE(n->load_latent(module, latent));
    auto const& shard = cache::native_shard::open(m.shards[0].path).value();
    EXPECT_EQ(n->native_bytes_read() - before, shard.index()[latent].size);
    EXPECT_EQ(expect_matches_reference(*n, module, ref), ref.total);
    EXPECT_EQ(n->tokens(module).value()->ids, d.tokens(module).value()->ids);

    // Converting the native cache again, or a .zst copy of the source, gives the same bytes.
    auto again = cache::convert_cache(*n, tmp.path / "again");
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(slurp(tmp.path / "again" / module / "latents.ain"), slurp(tmp.path / "out" / module / "latents.ain"));
    copy_tree(root, tmp.path / "zst");
    compress_shards(tmp.path / "zst" / module, 1);
    ASSERT_TRUE(cache::convert_cache(cache::dataset::open(tmp.path / "zst").value(), tmp.path / "from_zst"));
    EXPECT_EQ(slurp(tmp.path / "from_zst" / module / "latents.ain"), slurp(tmp.path / "out" / module / "latents.ain"));
  }
}

TEST(native, convert_refuses_a_non_empty_output_folder) {
  temp_dir tmp("nonempty");
  spit(tmp.path / "keep.txt", "x");
  auto r = cache::convert_cache(cache::dataset::open(cache_a).value(), tmp.path);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::bad_option);
  EXPECT_EQ(slurp(tmp.path / "keep.txt"), "x");
}

TEST(native, convert_replaces_only_an_earlier_conversion) {
  temp_dir tmp("replace");
  auto src = cache::dataset::open(cache_a).value();
  auto const out = tmp.path / "out";
  ASSERT_TRUE(cache::convert_cache(src, out));
  auto const first = slurp(out / "layers.3" / "latents.ain");
  EXPECT_FALSE(cache::convert_cache(src, out));  // not without asking
  cache::convert_options replace;
  replace.replace = true;
  ASSERT_TRUE(cache::convert_cache(src, out, replace));
  EXPECT_EQ(slurp(out / "layers.3" / "latents.ain"), first);

  // An unfinished conversion (no marker, a temporary left behind) is replaced too.
  fs::remove(out / "autointerp-cache.json");
  spit(out / "layers.3" / "latents.ain.tmp-99999", "half");
  ASSERT_TRUE(cache::convert_cache(src, out, replace));
  EXPECT_TRUE(fs::exists(out / "autointerp-cache.json"));
  EXPECT_FALSE(fs::exists(out / "layers.3" / "latents.ain.tmp-99999"));

  // A file convert did not write: refused, named, and kept.
  spit(out / "layers.3" / "notes.txt", "mine");
  auto r = cache::convert_cache(src, out, replace);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::bad_option);
  EXPECT_NE(r.error().what().find("notes.txt"), std::string::npos) << r.error().what();
  EXPECT_EQ(slurp(out / "layers.3" / "notes.txt"), "mine");
  fs::remove(out / "layers.3" / "notes.txt");

  // Never the source itself: converting a native cache onto itself is refused, the cache kept.
  auto native = cache::dataset::open(out).value();
  auto self = cache::convert_cache(native, out / "", replace);
  ASSERT_FALSE(self);
  EXPECT_NE(self.error().what().find("source"), std::string::npos) << self.error().what();
  EXPECT_EQ(slurp(out / "layers.3" / "latents.ain"), first);
}

TEST(native, blocks_round_trip_every_dtype) {
  cache::native_header h;
  h.rows = 10;
  h.ctx_len = 8;
  for (auto dt : {cache::activation_dtype::f16, cache::activation_dtype::bf16, cache::activation_dtype::f32}) {
    h.dtype = dt;
    cache::latent_activations a;
    a.dtype = dt;
    a.rows = {0, 0, 3, 9};
    a.positions = {1, 7, 0, 5};
    a.values = {0.5f, 2.0f, -1.25f, 0.0078125f};
    auto b = cache::encode_native_block(a);
    ASSERT_TRUE(b) << b.error().message;
    cache::native_index_entry e{128, static_cast<std::uint32_t>(b->bytes.size()), b->count, b->max,
                                cache::detail::xxhash64::hash(b->bytes.data(), b->bytes.size())};
    cache::latent_activations out;
    auto r = cache::decode_native_block(b->bytes, e, h, 0, out, "mem");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(out.rows, a.rows);
    EXPECT_EQ(out.positions, a.positions);
    EXPECT_EQ(out.values, a.values);
    EXPECT_EQ(b->max, 2.0f);
  }
  cache::latent_activations not_half;
  not_half.dtype = cache::activation_dtype::f16;
  not_half.rows = {0};
  not_half.positions = {0};
  not_half.values = {0.1f};
  auto r = cache::encode_native_block(not_half);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::bad_option);
}

// ---- bad input: a typed error and one line naming the file, never a crash ------------------------

TEST(bad_input, missing_cache_folder_and_folders_without_shards) {
  expect_error(first_error(fixtures / "no_such_cache"), errc::file_not_found, "no_such_cache");
  expect_error(first_error(cache_a / "layers.3" / "config.json"), errc::file_not_found, "config.json");
  temp_dir tmp("noshards");
  fs::create_directories(tmp.path / "c" / "expected");
  fs::create_directories(tmp.path / "c" / "layers.7");
  auto e = first_error(tmp.path / "c");
  expect_error(e, errc::no_shards, "layers.7");
  EXPECT_NE(e->message.find("{start}_{end}.safetensors"), std::string::npos);
}

TEST(bad_input, missing_config_names_what_was_looked_for_and_the_module_folders) {
  temp_dir tmp("noconfig");
  copy_tree(cache_a, tmp.path / "c");
  copy_tree(cache_b / ".model.layers.10", tmp.path / "c" / ".model.layers.10");
  fs::remove(tmp.path / "c" / "layers.3" / "config.json");
  auto e = first_error(tmp.path / "c");
  expect_error(e, errc::config_missing, (tmp.path / "c" / "layers.3" / "config.json").string());
  EXPECT_NE(e->message.find(".model.layers.10, layers.3"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("cache_ctx_len"), std::string::npos) << e->message;
}

TEST(bad_input, bad_or_unreadable_config) {
  temp_dir tmp("badconfig");
  copy_tree(cache_a, tmp.path / "c");
  auto cfg = tmp.path / "c" / "layers.3" / "config.json";
  spit(cfg, "{\"model_name\": \"x\"}");
  expect_error(first_error(tmp.path / "c"), errc::bad_config, "config.json");
  spit(cfg, "not json");
  expect_error(first_error(tmp.path / "c"), errc::bad_config, "config.json");
  fs::remove(cfg);
  fs::create_directory(cfg);  // exists but cannot be read as a file
  expect_error(first_error(tmp.path / "c"), errc::unreadable_file, "config.json");
}

// The parser `open` uses, on its own (fuzz_cache_config drives it): the same rules as before it
// was factored out of the file reader.
TEST(bad_input, module_config_parser) {
  auto c = cache::parse_module_config(R"({"cache_ctx_len":64,"ctx_len":8,"n_tokens":4096,"model_name":"gpt2","x":[1]})",
                                      "m/config.json");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->ctx_len, 64u) << "cache_ctx_len wins over ctx_len";
  EXPECT_EQ(c->n_tokens, 4096u);
  EXPECT_EQ(c->model_name, "gpt2");
  c = cache::parse_module_config(R"({"ctx_len":4294967295,"n_tokens":-5})", "m/config.json");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->ctx_len, 4294967295u);
  EXPECT_EQ(c->n_tokens, 0u) << "a non-positive n_tokens is ignored";
  EXPECT_TRUE(c->model_name.empty());
  for (char const* bad : {"", "[64]", "{\"cache_ctx_len\":0}", "{\"cache_ctx_len\":-1}", "{\"cache_ctx_len\":32.0}",
                          "{\"cache_ctx_len\":4294967296}", "{\"cache_ctx_len\":null,\"ctx_len\":64}",
                          "{\"ctx_len\":\"64\"}", "{\"ctx_len\":64,\"model_name\":null}", "{\"ctx_len\":64} x"}) {
    auto r = cache::parse_module_config(bad, "m/config.json");
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error() == errc::bad_config) << bad;
    EXPECT_EQ(r.error().message.rfind("m/config.json: ", 0), 0u) << r.error().message;
  }
}

TEST(bad_input, unknown_module_and_latent_out_of_range) {
  auto d = cache::dataset::open(cache_a).value();
  auto r = d.load_latent("layers.4", 0);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::unknown_module);
  EXPECT_NE(r.error().message.find("layers.4"), std::string::npos);
  EXPECT_NE(r.error().message.find("modules: layers.3"), std::string::npos);
  EXPECT_TRUE(d.tokens("nope").error() == errc::unknown_module);
  r = d.load_latent("layers.3", 512);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::latent_out_of_range);
  EXPECT_NE(r.error().message.find("0-511"), std::string::npos);
}

namespace {
// A copy of cache_a whose first shard is replaced by `bytes`; returns the first error reading it.
std::optional<autointerp::error> with_first_shard(temp_dir const& tmp, std::string const& bytes) {
  fs::remove_all(tmp.path / "c");
  copy_tree(cache_a, tmp.path / "c");
  spit(tmp.path / "c" / "layers.3" / "0_127.safetensors", bytes);
  return first_error(tmp.path / "c");
}
std::string shard0() { return slurp(cache_a / "layers.3" / "0_127.safetensors"); }
}  // namespace

TEST(bad_input, truncated_and_oversized_headers) {
  temp_dir tmp("headers");
  auto const s = shard0();
  expect_error(with_first_shard(tmp, s.substr(0, 5)), errc::bad_header, "0_127.safetensors");
  expect_error(with_first_shard(tmp, s.substr(0, 100)), errc::bad_header, "0_127.safetensors");
  auto huge = s;
  std::uint64_t n = 1ull << 40;
  std::memcpy(huge.data(), &n, 8);
  expect_error(with_first_shard(tmp, huge), errc::bad_header, "0_127.safetensors");
  auto not_json = s;
  not_json[20] = '#';
  expect_error(with_first_shard(tmp, not_json), errc::bad_header, "0_127.safetensors");
  expect_error(with_first_shard(tmp, ""), errc::bad_header, "0_127.safetensors");
}

TEST(bad_input, offsets_past_the_end_and_overlapping) {
  temp_dir tmp("offsets");
  auto const s = shard0();
  expect_error(with_first_shard(tmp, s.substr(0, s.size() - 1000)), errc::bad_offsets, "0_127.safetensors");
  expect_error(with_first_shard(tmp, s + "extra"), errc::bad_offsets, "0_127.safetensors");
  // Edit the header in place: "tokens" claims the bytes of "activations".
  auto f = read_raw(s);
  std::uint64_t hn;
  std::memcpy(&hn, s.data(), 8);
  auto header = boost::json::parse(s.substr(8, hn)).as_object();
  auto act = header["activations"].as_object()["data_offsets"].as_array();
  auto tok_end = header["tokens"].as_object()["data_offsets"].as_array()[1].to_number<std::uint64_t>();
  auto tok_begin = header["tokens"].as_object()["data_offsets"].as_array()[0].to_number<std::uint64_t>();
  header["tokens"].as_object()["data_offsets"] = {tok_begin - 16, tok_end - 16};
  std::string json = boost::json::serialize(header);
  json.resize(hn, ' ');
  expect_error(with_first_shard(tmp, s.substr(0, 8) + json + s.substr(8 + hn)), errc::bad_offsets, "0_127.safetensors");
}

TEST(bad_input, wrong_dtype_or_shape) {
  temp_dir tmp("dtype");
  auto const f = read_raw(shard0());
  auto g = f;
  g["activations"].dtype = "I16";
  expect_error(with_first_shard(tmp, write_raw(g)), errc::bad_dtype, "0_127.safetensors");
  g = f;
  g["locations"].dtype = "F16";
  expect_error(with_first_shard(tmp, write_raw(g)), errc::bad_dtype, "0_127.safetensors");
  g = f;
  g["tokens"].dtype = "F32";
  g["tokens"].shape = {128, 64};
  expect_error(with_first_shard(tmp, write_raw(g)), errc::bad_dtype, "0_127.safetensors");
  g = f;
  g["activations"].dtype = "X9";
  expect_error(with_first_shard(tmp, write_raw(g)), errc::bad_dtype, "0_127.safetensors");
  g = f;
  g["locations"].shape = {g["locations"].shape[0] * 3 / 2, 2};
  expect_error(with_first_shard(tmp, write_raw(g)), errc::bad_shape, "0_127.safetensors");
  g = f;
  g["activations"].shape = {g["activations"].shape[0] + 1};  // disagrees with its byte range
  expect_error(with_first_shard(tmp, write_raw(g)), errc::bad_shape, "0_127.safetensors");
  g = f;
  g["activations"].shape = {g["activations"].shape[0] - 1};
  g["activations"].bytes.resize(g["activations"].bytes.size() - 2);
  expect_error(with_first_shard(tmp, write_raw(g)), errc::bad_shape, "0_127.safetensors");
  g = f;
  g["tokens"].shape = {32, 128};
  expect_error(with_first_shard(tmp, write_raw(g)), errc::bad_shape, "0_127.safetensors");
  // A location naming a latent outside the shard's range 0-127.
  g = f;
  std::uint16_t far = 200;
  std::memcpy(g["locations"].bytes.data() + 4, &far, 2);
  expect_error(with_first_shard(tmp, write_raw(g)), errc::bad_shape, "0_127.safetensors");
}

TEST(bad_input, corrupt_or_truncated_zstd) {
  temp_dir tmp("zstd");
  copy_tree(cache_a, tmp.path / "c");
  compress_shards(tmp.path / "c" / "layers.3", 1);
  auto path = tmp.path / "c" / "layers.3" / "128_255.safetensors.zst";
  auto const z = slurp(path);
  auto corrupt = z;
  for (std::size_t i = z.size() / 2; i < z.size() / 2 + 64; ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
  spit(path, corrupt);
  expect_error(first_error(tmp.path / "c"), errc::corrupt_zstd, "128_255.safetensors.zst");
  spit(path, z.substr(0, z.size() - 100));
  expect_error(first_error(tmp.path / "c"), errc::corrupt_zstd, "128_255.safetensors.zst");
  spit(path, "not zstd at all");
  expect_error(first_error(tmp.path / "c"), errc::corrupt_zstd, "128_255.safetensors.zst");
}

namespace {
struct native_copy {
  temp_dir tmp{"native"};
  fs::path file;
  native_copy() {
    auto r = cache::convert_cache(cache::dataset::open(cache_a).value(), tmp.path / "n");
    EXPECT_TRUE(r);
    file = tmp.path / "n" / "layers.3" / "latents.ain";
  }
  std::optional<autointerp::error> with(std::string const& bytes) {
    spit(file, bytes);
    return first_error(tmp.path / "n");
  }
};
}  // namespace

TEST(bad_input, native_checksums_versions_and_truncation) {
  native_copy n;
  auto const good = slurp(n.file);
  auto shard = cache::native_shard::from_memory(std::as_bytes(std::span(good.data(), good.size())), "mem").value();
  auto const& e = shard.index()[270];
  ASSERT_GT(e.count, 0u);

  auto block = good;
  block[e.offset + e.size / 2] ^= 1;
  auto err = n.with(block);
  expect_error(err, errc::checksum_mismatch, "latents.ain");
  EXPECT_NE(err->message.find("latent 270"), std::string::npos);

  auto index = good;
  index[shard.header().index_offset + 32 * 5 + 12] ^= 1;
  expect_error(n.with(index), errc::checksum_mismatch, "latents.ain");

  auto header = good;
  header[40] ^= 1;
  expect_error(n.with(header), errc::checksum_mismatch, "latents.ain");

  auto tokens = good;
  tokens[shard.header().tokens_offset + 3] ^= 1;
  expect_error(n.with(tokens), errc::checksum_mismatch, "latents.ain");

  auto newer = shard.header();
  newer.version = 2;
  auto hb = cache::encode_native_header(newer);
  auto v2 = good;
  std::memcpy(v2.data(), hb.data(), hb.size());
  expect_error(n.with(v2), errc::unsupported_version, "latents.ain");

  expect_error(n.with(good.substr(0, good.size() - 7)), errc::bad_offsets, "latents.ain");
  expect_error(n.with(good.substr(0, 60)), errc::bad_offsets, "latents.ain");
  expect_error(n.with("AINATIV"), errc::bad_header, "latents.ain");
  expect_error(n.with(std::string(200, 'x')), errc::bad_header, "latents.ain");

  n.with(good);
  auto marker = slurp(n.tmp.path / "n" / "autointerp-cache.json");
  auto pos = marker.find("\"version\":1");
  ASSERT_NE(pos, std::string::npos) << marker;
  marker.replace(pos, 11, "\"version\":9");
  spit(n.tmp.path / "n" / "autointerp-cache.json", marker);
  expect_error(first_error(n.tmp.path / "n"), errc::unsupported_version, "autointerp-cache.json");
}

TEST(bad_input, unreadable_tokens_file) {
  temp_dir tmp("tokfile");
  fs::create_directories(tmp.path / "dir.npy");
  auto d = cache::dataset::open(cache_a, tokens_from(tmp.path / "dir.npy"));
  expect_error(d ? std::nullopt : std::optional(d.error()), errc::unreadable_file, "dir.npy");
  d = cache::dataset::open(cache_a, tokens_from(tmp.path / "missing.npy"));
  expect_error(d ? std::nullopt : std::optional(d.error()), errc::file_not_found, "missing.npy");
  spit(tmp.path / "t.txt", "1 2 3");
  d = cache::dataset::open(cache_a, tokens_from(tmp.path / "t.txt"));
  expect_error(d ? std::nullopt : std::optional(d.error()), errc::bad_option, "t.txt");
  std::string npy("\x93NUMPY\x01\x00\x10\x00", 10);
  spit(tmp.path / "t.npy", npy + "{'descr': '>i8'}");
  d = cache::dataset::open(cache_a, tokens_from(tmp.path / "t.npy"));
  expect_error(d ? std::nullopt : std::optional(d.error()), errc::bad_dtype, "t.npy");
}

// ---- the CLI: inspect and convert ----------------------------------------------------------------
#if defined(AUTOINTERP_CLI_EXE)
namespace {
std::string quoted(fs::path const& p) { return test_support::shell_quoted(p); }

test_support::cli_result run_cli(std::string const& args) {
  temp_dir tmp("cli_err");
  return test_support::run_cli(AUTOINTERP_CLI_EXE, args, tmp.path / "err");
}
}  // namespace

TEST(cli, inspect_json_figures_match_the_files_and_survive_convert) {
  auto ref = reference_read(cache_a / "layers.3");
  temp_dir tmp("cli");
  auto converted = run_cli("convert --quiet " + quoted(cache_a) + " " + quoted(tmp.path / "native"));
  ASSERT_EQ(converted.code, 0) << converted.err;
  for (auto const& root : {cache_a, tmp.path / "native"}) {
    auto r = run_cli("inspect --json " + quoted(root));
    ASSERT_EQ(r.code, 0) << r.err;
    auto j = boost::json::parse(r.out).as_object();
    EXPECT_EQ(j.at("format").as_string(), root == cache_a ? "delphi" : "native");
    auto const& m = j.at("modules").as_array().at(0).as_object();
    EXPECT_EQ(m.at("name").as_string(), "layers.3");
    EXPECT_EQ(m.at("width").to_number<std::uint64_t>(), 512u);
    EXPECT_EQ(m.at("rows").to_number<std::uint64_t>(), 64u);
    EXPECT_EQ(m.at("ctx_len").to_number<std::uint64_t>(), 64u);
    EXPECT_EQ(m.at("tokens").to_number<std::uint64_t>(), 4096u);
    EXPECT_EQ(m.at("activations").to_number<std::uint64_t>(), ref.total);
    EXPECT_EQ(m.at("alive_latents").to_number<std::uint64_t>(), ref.latents.size());
    EXPECT_EQ(m.at("dead_latents").to_number<std::uint64_t>(), 512u - ref.latents.size());
    // The histogram counts every latent once, in the bin of its activation count.
    std::uint64_t binned = 0;
    for (auto const& b : m.at("histogram").as_array()) {
      auto lo = b.at("min").to_number<std::uint64_t>(), hi = b.at("max").to_number<std::uint64_t>();
      std::uint64_t expected = lo == 0 ? 512u - ref.latents.size() : 0;
      for (auto const& [l, acts] : ref.latents) expected += acts.size() >= lo && acts.size() <= hi && lo > 0;
      EXPECT_EQ(b.at("latents").to_number<std::uint64_t>(), expected) << lo << "-" << hi;
      binned += b.at("latents").to_number<std::uint64_t>();
    }
    EXPECT_EQ(binned, 512u);
  }
  auto text = run_cli("inspect " + quoted(cache_a));
  ASSERT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("module layers.3"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("histogram"), std::string::npos) << text.out;
}

TEST(cli, bad_input_exits_2_with_one_line_naming_the_file) {
  temp_dir tmp("cli_bad");
  copy_tree(cache_a, tmp.path / "c");
  fs::remove(tmp.path / "c" / "layers.3" / "config.json");
  auto r = run_cli("inspect " + quoted(tmp.path / "c"));
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.rfind("autointerp: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run_cli("convert --quiet " + quoted(cache_a) + " " + quoted(cache_a));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("not empty"), std::string::npos) << r.err;
  r = run_cli("convert --quiet --force " + quoted(cache_a) + " " + quoted(cache_a));  // never the source
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(fs::exists(cache_a / "layers.3" / "config.json"));
  r = run_cli("inspect " + quoted(cache_a) + " --module layers.9");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("layers.9"), std::string::npos) << r.err;
}
#endif
