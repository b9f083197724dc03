#pragma once
// Out-of-line parts of <autointerp/cache/tokens_file.hpp>.

#include <autointerp/cache/detail/file_io.hpp>
#include <autointerp/cache/latent_spec.hpp>
#include <autointerp/cache/safetensors.hpp>
#include <autointerp/cache/shard.hpp>
#include <autointerp/cache/tokens_file.hpp>

#include <charconv>
#include <cstring>
#include <string>

namespace autointerp::cache {

namespace detail {
// The value text after `'key':` in a NumPy header dict, or empty if the key is absent.
inline std::string_view npy_field(std::string_view dict, std::string_view key) {
  std::string const quoted = "'" + std::string(key) + "'";
  auto at = dict.find(quoted);
  if (at == std::string_view::npos) return {};
  auto rest = dict.substr(at + quoted.size());
  auto colon = rest.find(':');
  if (colon == std::string_view::npos) return {};
  rest = trim_spaces(rest.substr(colon + 1));
  return rest;
}
}  // namespace detail

AUTOINTERP_DECL result<token_matrix> parse_npy_tokens(std::span<std::byte const> bytes, std::string_view file) {
  std::string const f(file);
  auto bad = [&](errc c, std::string const& why) { return make_error(c, f + ": " + why); };
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
    return bad(errc::bad_header, "not a NumPy .npy file (missing the \\x93NUMPY magic)");
  auto major = static_cast<unsigned>(bytes[6]);
  std::size_t header_len = 0, header_at = 0;
  if (major == 1) {
    header_len = detail::load_le<std::uint16_t>(bytes.data() + 8);
    header_at = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return bad(errc::bad_header, "truncated .npy header");
    header_len = detail::load_le<std::uint32_t>(bytes.data() + 8);
    header_at = 12;
  } else {
    return bad(errc::unsupported_version, ".npy format version " + std::to_string(major) + " is not supported");
  }
  if (header_len > bytes.size() - header_at) return bad(errc::bad_header, ".npy header runs past the end of the file");
  std::string_view dict(reinterpret_cast<char const*>(bytes.data()) + header_at, header_len);
  auto descr = detail::npy_field(dict, "descr");
  if (descr.size() < 5 || descr[0] != '\'') return bad(errc::bad_header, ".npy header has no 'descr'");
  descr = descr.substr(1, descr.find('\'', 1) == std::string_view::npos ? 0 : descr.find('\'', 1) - 1);
  tensor_info t;
  t.name = "tokens";
  if (descr == "<i8" || descr == "=i8") t.dtype = tensor_dtype::i64;
  else if (descr == "<i4" || descr == "=i4") t.dtype = tensor_dtype::i32;
  else if (descr == "<u4" || descr == "=u4") t.dtype = tensor_dtype::u32;
  else if (descr == "<u2" || descr == "=u2") t.dtype = tensor_dtype::u16;
  else if (descr == "<i2" || descr == "=i2") t.dtype = tensor_dtype::i16;
  else if (descr == "|u1" || descr == "<u1") t.dtype = tensor_dtype::u8;
  else
    return bad(errc::bad_dtype, ".npy dtype '" + std::string(descr.substr(0, 16)) +
                                    "' is not a little-endian integer type (use int64, int32, uint32 or uint16)");
  if (detail::npy_field(dict, "fortran_order").substr(0, 5) != "False")
    return bad(errc::bad_shape, ".npy array is in Fortran order; save it in C order (numpy.ascontiguousarray)");
  auto shape = detail::npy_field(dict, "shape");
  if (shape.empty() || shape[0] != '(') return bad(errc::bad_header, ".npy header has no 'shape'");
  shape = shape.substr(1, shape.find(')') == std::string_view::npos ? 0 : shape.find(')') - 1);
  while (!shape.empty()) {
    auto comma = shape.find(',');
    auto item = detail::trim_spaces(shape.substr(0, comma));
    if (!item.empty()) {
      std::uint64_t v = 0;
      auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
      if (ec != std::errc{} || end != item.data() + item.size() || t.shape.size() >= 8)
        return bad(errc::bad_header, ".npy shape is not a tuple of sizes");
      t.shape.push_back(v);
    }
    if (comma == std::string_view::npos) break;
    shape.remove_prefix(comma + 1);
  }
  std::uint64_t const data_at = header_at + header_len, data_size = bytes.size() - data_at;
  std::uint64_t elements = 1, size = 0;
  bool overflow = false;
  for (auto d : t.shape) overflow |= __builtin_mul_overflow(elements, d, &elements);
  if (t.shape.size() != 2 || overflow || __builtin_mul_overflow(elements, dtype_size(t.dtype), &size) || size != data_size)
    return bad(errc::bad_shape, ".npy array " + t.describe() + " is not a [rows, ctx] matrix filling the " +
                                    std::to_string(data_size) + " data bytes");
  t.begin = 0;
  t.end = data_size;
  return read_token_tensor(bytes.subspan(static_cast<std::size_t>(data_at)), t, file);
}

AUTOINTERP_DECL result<token_matrix> read_tokens_file(std::filesystem::path const& path) {
  std::string const name = path.string();
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".npy")) {
    auto m = detail::mapped_file::open(path);
    if (!m) return m.error();
    return parse_npy_tokens(m->bytes(), name);
  }
  if (ends_with(".safetensors") || ends_with(".safetensors.zst")) {
    auto f = safetensors_file::open(path);
    if (!f) return f.error();
    tensor_info const* t = f->header().find("tokens");
    if (!t && f->header().tensors.size() == 1) t = &f->header().tensors.front();
    if (!t)
      return make_error(errc::bad_header, name + ": no tensor named \"tokens\" (and more than one tensor to choose from)");
    return read_token_tensor(f->tensor(*t), *t, name);
  }
  return make_error(errc::bad_option, name + ": a tokens file must be .npy or .safetensors");
}

}  // namespace autointerp::cache
