#pragma once
// Out-of-line parts of sae_weights.hpp.

#include <autointerp/neighbours/sae_weights.hpp>

#include <system_error>

namespace autointerp::neighbours {

AUTOINTERP_DECL std::string weight_rows::describe() const {
  return std::string(layout_name(layout)) + " layout, " + tensor + " [" + std::to_string(latents) + ", " +
         std::to_string(dim) + "] " + std::string(cache::dtype_name(dtype)) + " in " + file.string();
}

AUTOINTERP_DECL result<std::filesystem::path> find_sae_file(std::filesystem::path const& path, std::string_view module) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return path;
  if (!std::filesystem::is_directory(path, ec))
    return make_error(errc::file_not_found, path.string() + ": no such SAE weight file or folder");
  std::filesystem::path const candidates[] = {path / "sae.safetensors", path / "sae_weights.safetensors",
                                              path / std::string(module) / "sae.safetensors",
                                              path / std::string(module) / "sae_weights.safetensors"};
  for (auto const& c : candidates)
    if (std::filesystem::is_regular_file(c, ec)) return c;
  return make_error(errc::file_not_found, path.string() + ": no SAE weights found (looked for sae.safetensors and "
                                                          "sae_weights.safetensors there and in " +
                                              std::string(module) + "/); name the .safetensors file itself");
}

namespace detail {
inline result<void> check_float_dtype(cache::tensor_info const& t, std::string const& file) {
  using cache::tensor_dtype;
  if (t.dtype == tensor_dtype::f32 || t.dtype == tensor_dtype::bf16 || t.dtype == tensor_dtype::f16) return {};
  return make_error(errc::bad_dtype, file + ": tensor " + t.describe() + " is not F32, BF16 or F16");
}
inline result<void> check_2d(cache::tensor_info const& t, std::string const& file) {
  if (t.shape.size() == 2 && t.shape[0] > 0 && t.shape[1] > 0 && t.shape[0] < (1ull << 32) && t.shape[1] < (1ull << 32))
    return {};
  return make_error(errc::bad_shape, file + ": tensor " + t.describe() + " is not a non-empty 2-D matrix");
}
inline float element(std::byte const* p, cache::tensor_dtype dtype) noexcept {
  using cache::tensor_dtype;
  switch (dtype) {
    case tensor_dtype::bf16: return cache::detail::bf16_to_float(cache::detail::load_le<std::uint16_t>(p));
    case tensor_dtype::f16: return cache::detail::half_to_float(cache::detail::load_le<std::uint16_t>(p));
    default: return cache::detail::load_le<float>(p);
  }
}
}  // namespace detail

AUTOINTERP_DECL result<weight_rows> read_sae_weights(cache::safetensors_file const& file, weight_kind kind) {
  auto const& h = file.header();
  std::string const name = file.path().string();
  auto const* enc_sparsify = h.find("encoder.weight");
  auto const* enc_saelens = h.find("W_enc");
  auto const* dec = h.find("W_dec");
  weight_rows out;
  out.file = file.path();
  if (enc_sparsify) {
    out.layout = sae_layout::sparsify;
  } else if (enc_saelens) {
    out.layout = sae_layout::saelens;
  } else {
    std::string found;
    for (auto const& t : h.tensors) found += (found.empty() ? "" : ", ") + t.name;
    return make_error(errc::bad_header, name + ": neither sparsify's encoder.weight nor SAELens's W_enc is there (tensors: " +
                                            (found.empty() ? std::string("none") : found) + "); is this an SAE weight file?");
  }
  auto const* enc = enc_sparsify ? enc_sparsify : enc_saelens;
  if (auto r = detail::check_2d(*enc, name); !r) return r.error();
  // Both layouts keep encoder rows or columns and decoder rows as [latents, dim] once transposed.
  std::uint64_t const n = out.layout == sae_layout::sparsify ? enc->shape[0] : enc->shape[1];
  std::uint64_t const d = out.layout == sae_layout::sparsify ? enc->shape[1] : enc->shape[0];
  if (dec) {
    if (auto r = detail::check_2d(*dec, name); !r) return r.error();
    if (dec->shape[0] != n || dec->shape[1] != d)
      return make_error(errc::bad_shape, name + ": " + dec->describe() + " disagrees with " + enc->describe() + " (" +
                                             std::string(layout_name(out.layout)) + " layout: the decoder should be [" +
                                             std::to_string(n) + ", " + std::to_string(d) + "])");
  }
  cache::tensor_info const* t = kind == weight_kind::encoder ? enc : dec;
  if (!t)
    return make_error(errc::bad_header, name + ": no W_dec tensor in this " + std::string(layout_name(out.layout)) +
                                            " file (an SAE without a decoder); use --method encoder");
  if (auto r = detail::check_float_dtype(*t, name); !r) return r.error();
  out.tensor = t->name;
  out.dtype = t->dtype;
  out.latents = static_cast<std::uint32_t>(n);
  out.dim = static_cast<std::uint32_t>(d);
  out.values.resize(n * d);
  auto bytes = file.tensor(*t);
  std::size_t const size = cache::dtype_size(t->dtype);
  bool const transposed = out.layout == sae_layout::saelens && kind == weight_kind::encoder;  // W_enc is [d, n]
  if (!transposed) {
    for (std::size_t i = 0; i < n * d; ++i) out.values[i] = detail::element(bytes.data() + i * size, t->dtype);
  } else {
    for (std::size_t j = 0; j < d; ++j)
      for (std::size_t i = 0; i < n; ++i) out.values[i * d + j] = detail::element(bytes.data() + (j * n + i) * size, t->dtype);
  }
  return out;
}

AUTOINTERP_DECL result<weight_rows> load_sae_weights(std::filesystem::path const& path, std::string_view module,
                                                     weight_kind kind) {
  auto p = find_sae_file(path, module);
  if (!p) return p.error();
  auto f = cache::safetensors_file::open(*p);
  if (!f) return f.error();
  return read_sae_weights(*f, kind);
}

}  // namespace autointerp::neighbours
