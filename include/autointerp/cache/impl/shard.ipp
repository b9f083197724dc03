#pragma once
// Out-of-line parts of <autointerp/cache/shard.hpp>.

#include <autointerp/cache/shard.hpp>

#include <algorithm>
#include <numeric>
#include <string>

namespace autointerp::cache {

namespace detail {
inline bool location_dtype_ok(tensor_dtype t) noexcept {
  return t == tensor_dtype::u16 || t == tensor_dtype::u32 || t == tensor_dtype::i32 || t == tensor_dtype::i64 ||
         t == tensor_dtype::u64;
}
inline bool activation_dtype_of(tensor_dtype t, activation_dtype& out) noexcept {
  switch (t) {
    case tensor_dtype::f16: out = activation_dtype::f16; return true;
    case tensor_dtype::bf16: out = activation_dtype::bf16; return true;
    case tensor_dtype::f32: out = activation_dtype::f32; return true;
    default: return false;
  }
}

// Reads element i of an integer tensor as a signed 64-bit value (u64 values past 2^63 become
// negative and are then rejected like any negative value).
inline std::int64_t int_at(std::byte const* p, tensor_dtype t, std::uint64_t i) noexcept {
  switch (t) {
    case tensor_dtype::u8: return load_le<std::uint8_t>(p + i);
    case tensor_dtype::i8: return load_le<std::int8_t>(p + i);
    case tensor_dtype::u16: return load_le<std::uint16_t>(p + i * 2);
    case tensor_dtype::i16: return load_le<std::int16_t>(p + i * 2);
    case tensor_dtype::u32: return load_le<std::uint32_t>(p + i * 4);
    case tensor_dtype::i32: return load_le<std::int32_t>(p + i * 4);
    case tensor_dtype::i64: return load_le<std::int64_t>(p + i * 8);
    case tensor_dtype::u64: return static_cast<std::int64_t>(load_le<std::uint64_t>(p + i * 8));
    default: return -1;
  }
}

inline float float_at(std::byte const* p, activation_dtype t, std::uint64_t i) noexcept {
  switch (t) {
    case activation_dtype::f16: return half_to_float(load_le<std::uint16_t>(p + i * 2));
    case activation_dtype::bf16: return bf16_to_float(load_le<std::uint16_t>(p + i * 2));
    case activation_dtype::f32: return load_le<float>(p + i * 4);
  }
  return 0;
}
}  // namespace detail

AUTOINTERP_DECL std::uint64_t decoded_shard_bytes(safetensors_header const& h, shard_limits const& limits) noexcept {
  auto const* a = h.find("activations");
  std::uint64_t n = a && a->shape.size() == 1 ? a->shape[0] : 0;
  std::uint64_t latents = std::uint64_t(limits.last_latent) - limits.first_latent + 2;
  if (n > (~std::uint64_t{0} / 64)) return ~std::uint64_t{0};
  return n * 12 + latents * 8;
}

AUTOINTERP_DECL result<decoded_shard> decode_shard(safetensors_file const& file, shard_limits const& limits) {
  std::string const name = file.path().string();
  auto bad = [&](errc c, std::string const& why) { return make_error(c, name + ": " + why); };
  auto const& h = file.header();
  auto const* loc = h.find("locations");
  auto const* act = h.find("activations");
  if (!loc || !act)
    return bad(errc::bad_header, std::string("no \"") + (loc ? "activations" : "locations") +
                                     "\" tensor (not a delphi latent cache shard?)");
  if (!detail::location_dtype_ok(loc->dtype))
    return bad(errc::bad_dtype, "locations has dtype " + std::string(dtype_name(loc->dtype)) +
                                    "; expected U16, U32, I32 or I64");
  decoded_shard out;
  if (!detail::activation_dtype_of(act->dtype, out.dtype))
    return bad(errc::bad_dtype, "activations has dtype " + std::string(dtype_name(act->dtype)) +
                                    "; expected F16, BF16 or F32");
  if (loc->shape.size() != 2 || loc->shape[1] != 3)
    return bad(errc::bad_shape, "locations has shape " + loc->describe() + "; expected [N,3]");
  if (act->shape.size() != 1 || act->shape[0] != loc->shape[0])
    return bad(errc::bad_shape, "activations has shape " + act->describe() + "; expected [" +
                                    std::to_string(loc->shape[0]) + "] to match locations");
  if (limits.last_latent < limits.first_latent) return bad(errc::bad_shape, "empty latent range");
  std::uint64_t const n = loc->shape[0];
  std::uint32_t const span = limits.last_latent - limits.first_latent + 1;
  std::byte const* lp = file.tensor(*loc).data();
  std::byte const* ap = file.tensor(*act).data();

  // Both passes are instantiated per location type so the inner loops carry no dtype switch.
  auto decode = [&]<class L>(L) -> result<void> {
    auto at = [&](std::uint64_t i) { return static_cast<std::int64_t>(detail::load_le<L>(lp + i * sizeof(L))); };
    // Pass 1: validate every location and count per latent.
    out.first_latent = limits.first_latent;
    out.last_latent = limits.last_latent;
    out.offsets.assign(std::size_t(span) + 1, 0);
    std::uint64_t const max_row = limits.rows ? limits.rows - 1 : 0xffffffffu;
    std::uint64_t const max_pos = limits.ctx_len ? limits.ctx_len - 1 : 0xffffffffu;
    for (std::uint64_t i = 0; i < n; ++i) {
      std::int64_t row = at(i * 3), pos = at(i * 3 + 1), lat = at(i * 3 + 2);
      if (row < 0 || std::uint64_t(row) > max_row || pos < 0 || std::uint64_t(pos) > max_pos || lat < 0 ||
          std::uint64_t(lat) >= span)
        return bad(errc::bad_shape, "locations[" + std::to_string(i) + "] = (" + std::to_string(row) + ", " +
                                        std::to_string(pos) + ", " + std::to_string(lat) + ") is outside " +
                                        (limits.rows ? std::to_string(limits.rows) : std::string("?")) + " rows x " +
                                        (limits.ctx_len ? std::to_string(limits.ctx_len) : std::string("?")) +
                                        " positions x " + std::to_string(span) + " latents of this shard");
      ++out.offsets[std::size_t(lat) + 1];
    }
    std::partial_sum(out.offsets.begin(), out.offsets.end(), out.offsets.begin());

    // Pass 2: scatter (stable, so rows already in (row, position) order stay that way).
    out.rows.resize(n);
    out.positions.resize(n);
    out.values.resize(n);
    std::vector<std::uint64_t> cursor(out.offsets.begin(), out.offsets.end() - 1);
    for (std::uint64_t i = 0; i < n; ++i) {
      auto k = cursor[static_cast<std::size_t>(at(i * 3 + 2))]++;
      out.rows[k] = static_cast<std::uint32_t>(at(i * 3));
      out.positions[k] = static_cast<std::uint32_t>(at(i * 3 + 1));
      out.values[k] = detail::float_at(ap, out.dtype, i);
    }
    return {};
  };
  result<void> decoded = [&]() -> result<void> {
    switch (loc->dtype) {
      case tensor_dtype::u16: return decode(std::uint16_t{});
      case tensor_dtype::u32: return decode(std::uint32_t{});
      case tensor_dtype::i32: return decode(std::int32_t{});
      case tensor_dtype::i64: return decode(std::int64_t{});
      default: return decode(std::uint64_t{});
    }
  }();
  if (!decoded) return decoded.error();

  // delphi writes locations in (row, position) order, so this is normally a check only.
  std::vector<std::uint64_t> perm;
  for (std::uint32_t l = 0; l < span; ++l) {
    auto b = out.offsets[l], e = out.offsets[l + 1];
    auto key = [&](std::uint64_t k) { return (std::uint64_t(out.rows[k]) << 32) | out.positions[k]; };
    bool sorted = true;
    for (auto k = b + 1; k < e && sorted; ++k) sorted = key(k - 1) <= key(k);
    if (sorted) continue;
    perm.resize(e - b);
    std::iota(perm.begin(), perm.end(), b);
    std::stable_sort(perm.begin(), perm.end(), [&](auto x, auto y) { return key(x) < key(y); });
    std::vector<std::uint32_t> r(e - b), p(e - b);
    std::vector<float> v(e - b);
    for (std::size_t k = 0; k < perm.size(); ++k) {
      r[k] = out.rows[perm[k]];
      p[k] = out.positions[perm[k]];
      v[k] = out.values[perm[k]];
    }
    std::copy(r.begin(), r.end(), out.rows.begin() + static_cast<std::ptrdiff_t>(b));
    std::copy(p.begin(), p.end(), out.positions.begin() + static_cast<std::ptrdiff_t>(b));
    std::copy(v.begin(), v.end(), out.values.begin() + static_cast<std::ptrdiff_t>(b));
  }
  return out;
}

AUTOINTERP_DECL result<token_matrix> read_token_tensor(std::span<std::byte const> data, tensor_info const& t,
                                                      std::string_view file) {
  std::string const name(file);
  switch (t.dtype) {
    case tensor_dtype::i64:
    case tensor_dtype::i32:
    case tensor_dtype::u32:
    case tensor_dtype::u16:
    case tensor_dtype::i16:
    case tensor_dtype::u8: break;
    default:
      return make_error(errc::bad_dtype, name + ": token tensor " + t.describe() + " is not an integer tensor "
                                                                                   "(expected I64, I32, U32 or U16)");
  }
  if (t.shape.size() != 2 || t.shape[0] == 0 || t.shape[1] == 0 || t.shape[1] > 0xffffffffULL)
    return make_error(errc::bad_shape, name + ": token tensor " + t.describe() + " is not a [rows, ctx] matrix");
  if (data.size() != t.end - t.begin)
    return make_error(errc::bad_offsets, name + ": token tensor " + t.describe() + " has the wrong byte size");
  token_matrix m;
  m.rows = static_cast<std::size_t>(t.shape[0]);
  m.ctx = static_cast<std::size_t>(t.shape[1]);
  m.ids.resize(m.rows * m.ctx);
  for (std::size_t i = 0; i < m.ids.size(); ++i) {
    auto v = detail::int_at(data.data(), t.dtype, i);
    if (v < 0 || v > 0xffffffffLL)
      return make_error(errc::token_out_of_range, name + ": token id " + std::to_string(v) + " at row " +
                                                      std::to_string(i / m.ctx) + ", position " +
                                                      std::to_string(i % m.ctx) + " is not a valid token id");
    m.ids[i] = static_cast<std::uint32_t>(v);
  }
  return m;
}

}  // namespace autointerp::cache
