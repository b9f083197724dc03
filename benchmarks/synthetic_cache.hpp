#pragma once
// A synthetic cache in delphi's layout for the benchmarks: random token ids, float16 activations,
// `per_token` active latents per token drawn with a tunable popularity skew, the token matrix
// repeated in every shard (as delphi writes it). Deterministic for a given seed.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace bench {

struct synthetic_cache_shape {
  std::string module = "layers.0";
  std::uint32_t width = 16384, shards = 8, rows = 8192, ctx = 128, per_token = 8;
  /// A latent is `width * u^skew` for uniform u: 1 spreads activations evenly, larger values make
  /// low indices fire far more often (a Zipf-like popularity, as real SAEs have).
  double skew = 2.5;
  std::uint64_t seed = 7;

  std::uint64_t tokens() const { return std::uint64_t(rows) * ctx; }
};

namespace detail {

template <class T>
void append(std::string& s, T v) {
  s.append(reinterpret_cast<char const*>(&v), sizeof v);
}

using tensor = std::tuple<std::string, std::string, std::vector<std::uint64_t>, std::string>;  // name, dtype, shape, bytes

inline void write_safetensors(std::filesystem::path const& p, std::vector<tensor> const& tensors) {
  boost::json::object header;
  std::uint64_t at = 0;
  for (auto const& [name, dtype, shape, bytes] : tensors) {
    boost::json::array sh(shape.begin(), shape.end());
    header[name] = {{"dtype", dtype}, {"shape", sh}, {"data_offsets", {at, at + bytes.size()}}};
    at += bytes.size();
  }
  std::string json = boost::json::serialize(header);
  while (json.size() % 8) json += ' ';
  std::ofstream out(p, std::ios::binary);
  std::uint64_t n = json.size();
  out.write(reinterpret_cast<char const*>(&n), 8);
  out << json;
  for (auto const& t : tensors) out << std::get<3>(t);
}

}  // namespace detail

/// Writes `<root>/<module>/{start}_{end}.safetensors` and config.json. Locations are U16, so rows,
/// ctx and width / shards must each stay below 65536; `shards` must divide `width`.
inline void write_synthetic_cache(std::filesystem::path const& root, synthetic_cache_shape const& s) {
  auto dir = root / s.module;
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(s.seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<std::uint16_t> value(0x2c00, 0x4a00);  // float16 0.0625 .. 12
  std::string tokens;
  for (std::uint64_t i = 0; i < s.tokens(); ++i) detail::append<std::int64_t>(tokens, std::int64_t(rng() % 50257));
  std::vector<std::string> locs(s.shards), acts(s.shards);
  std::vector<std::uint64_t> counts(s.shards);
  std::uint32_t const span = s.width / s.shards;
  for (std::uint32_t r = 0; r < s.rows; ++r)
    for (std::uint32_t p = 0; p < s.ctx; ++p)
      for (std::uint32_t k = 0; k < s.per_token; ++k) {
        auto latent = static_cast<std::uint32_t>(s.width * std::pow(u(rng), s.skew)) % s.width;
        auto shard = latent / span;
        detail::append<std::uint16_t>(locs[shard], static_cast<std::uint16_t>(r));
        detail::append<std::uint16_t>(locs[shard], static_cast<std::uint16_t>(p));
        detail::append<std::uint16_t>(locs[shard], static_cast<std::uint16_t>(latent - shard * span));
        detail::append<std::uint16_t>(acts[shard], value(rng));
        ++counts[shard];
      }
  for (std::uint32_t i = 0; i < s.shards; ++i)
    detail::write_safetensors(dir / (std::to_string(i * span) + "_" + std::to_string((i + 1) * span - 1) + ".safetensors"),
                              {{"locations", "U16", {counts[i], 3}, locs[i]},
                               {"activations", "F16", {counts[i]}, acts[i]},
                               {"tokens", "I64", {s.rows, s.ctx}, tokens}});
  std::ofstream(dir / "config.json") << "{\"cache_ctx_len\": " << s.ctx << ", \"n_tokens\": " << s.tokens()
                                     << ", \"model_name\": \"bench\"}";
}

}  // namespace bench
