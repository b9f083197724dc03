#pragma once
// Out-of-line parts of <autointerp/cache/safetensors.hpp>.

#include <autointerp/cache/detail/zstd_reader.hpp>
#include <autointerp/cache/safetensors.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>

namespace autointerp::cache {

namespace detail {
inline constexpr std::array<std::pair<std::string_view, tensor_dtype>, 15> dtype_names{{
    {"BOOL", tensor_dtype::boolean}, {"U8", tensor_dtype::u8},     {"I8", tensor_dtype::i8},
    {"F8_E5M2", tensor_dtype::f8_e5m2}, {"F8_E4M3", tensor_dtype::f8_e4m3}, {"I16", tensor_dtype::i16},
    {"U16", tensor_dtype::u16},      {"F16", tensor_dtype::f16},   {"BF16", tensor_dtype::bf16},
    {"I32", tensor_dtype::i32},      {"U32", tensor_dtype::u32},   {"F32", tensor_dtype::f32},
    {"F64", tensor_dtype::f64},      {"I64", tensor_dtype::i64},   {"U64", tensor_dtype::u64},
}};

inline std::string quoted(std::string_view s) {
  // Tensor names come from the file: keep messages one line and short.
  std::string out = "\"";
  for (char c : s.substr(0, 80)) out += (static_cast<unsigned char>(c) < 0x20 || c == '"') ? '?' : c;
  if (s.size() > 80) out += "...";
  return out + "\"";
}

inline bool json_u64(boost::json::value const& v, std::uint64_t& out) {
  if (v.is_uint64()) {
    out = v.get_uint64();
    return true;
  }
  if (v.is_int64() && v.get_int64() >= 0) {
    out = static_cast<std::uint64_t>(v.get_int64());
    return true;
  }
  return false;
}
}  // namespace detail

AUTOINTERP_DECL std::string_view dtype_name(tensor_dtype t) noexcept {
  for (auto const& [name, d] : detail::dtype_names)
    if (d == t) return name;
  return "?";
}

AUTOINTERP_DECL std::string tensor_info::describe() const {
  std::string s = detail::quoted(name) + " [";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "] " + std::string(dtype_name(dtype));
}

AUTOINTERP_DECL result<std::uint64_t> parse_safetensors_length(std::span<std::byte const> prefix,
                                                               std::uint64_t file_size, std::string_view file) {
  if (prefix.size() < 8)
    return make_error(errc::bad_header, std::string(file) + ": " + std::to_string(prefix.size()) +
                                            " bytes is too short for a safetensors file (needs an 8-byte header length)");
  auto n = detail::load_le<std::uint64_t>(prefix.data());
  if (n < 2 || n > max_safetensors_header)
    return make_error(errc::bad_header, std::string(file) + ": safetensors header length " + std::to_string(n) +
                                            " is not between 2 and " + std::to_string(max_safetensors_header) +
                                            " bytes (not a safetensors file?)");
  if (file_size != 0 && n > file_size - 8)
    return make_error(errc::bad_header, std::string(file) + ": safetensors header length " + std::to_string(n) +
                                            " runs past the end of the " + std::to_string(file_size) +
                                            "-byte file (truncated?)");
  return n;
}

AUTOINTERP_DECL result<safetensors_header> parse_safetensors_json(std::string_view json, std::uint64_t data_start,
                                                                  std::string_view file) {
  std::string const f(file);
  auto bad = [&](errc c, std::string const& why) { return make_error(c, f + ": " + why); };
  if (json.empty() || json.front() != '{')
    return bad(errc::bad_header, "the safetensors header does not start with '{' (not a safetensors file?)");
  boost::system::error_code ec;
  boost::json::value root = boost::json::parse(json, ec);
  if (ec) return bad(errc::bad_header, "the safetensors header is not valid JSON (" + ec.message() + ")");
  if (!root.is_object()) return bad(errc::bad_header, "the safetensors header is not a JSON object");
  safetensors_header h;
  h.data_start = data_start;
  for (auto const& [key, value] : root.get_object()) {
    std::string_view name(key.data(), key.size());
    if (name == "__metadata__") {
      if (!value.is_object()) return bad(errc::bad_header, "__metadata__ in the safetensors header is not an object");
      continue;
    }
    if (!value.is_object())
      return bad(errc::bad_header, "tensor " + detail::quoted(name) + " in the safetensors header is not an object");
    auto const& o = value.get_object();
    tensor_info t;
    t.name = std::string(name);
    auto const* dt = o.if_contains("dtype");
    if (!dt || !dt->is_string())
      return bad(errc::bad_header, "tensor " + detail::quoted(name) + " has no dtype string");
    std::string_view dts(dt->get_string().data(), dt->get_string().size());
    auto it = std::find_if(detail::dtype_names.begin(), detail::dtype_names.end(),
                           [&](auto const& p) { return p.first == dts; });
    if (it == detail::dtype_names.end())
      return bad(errc::bad_dtype, "tensor " + detail::quoted(name) + " has unknown dtype " + detail::quoted(dts));
    t.dtype = it->second;
    auto const* shape = o.if_contains("shape");
    if (!shape || !shape->is_array())
      return bad(errc::bad_header, "tensor " + detail::quoted(name) + " has no shape array");
    if (shape->get_array().size() > 16)
      return bad(errc::bad_shape, "tensor " + detail::quoted(name) + " has more than 16 dimensions");
    std::uint64_t elements = 1;
    bool overflow = false;
    for (auto const& d : shape->get_array()) {
      std::uint64_t n = 0;
      if (!detail::json_u64(d, n))
        return bad(errc::bad_shape, "tensor " + detail::quoted(name) + " has a shape entry that is not a size");
      t.shape.push_back(n);
      overflow |= __builtin_mul_overflow(elements, n, &elements);
    }
    auto const* offsets = o.if_contains("data_offsets");
    if (!offsets || !offsets->is_array() || offsets->get_array().size() != 2 ||
        !detail::json_u64(offsets->get_array()[0], t.begin) || !detail::json_u64(offsets->get_array()[1], t.end))
      return bad(errc::bad_header, "tensor " + detail::quoted(name) + " has no data_offsets [begin, end]");
    if (t.end < t.begin)
      return bad(errc::bad_offsets, "tensor " + detail::quoted(name) + " has data_offsets [" + std::to_string(t.begin) +
                                        ", " + std::to_string(t.end) + "] that end before they begin");
    std::uint64_t bytes = 0;
    if (overflow || __builtin_mul_overflow(elements, dtype_size(t.dtype), &bytes) || bytes != t.end - t.begin)
      return bad(errc::bad_shape, "tensor " + t.describe() + " needs " +
                                      (overflow ? std::string("more than 2^64") : std::to_string(bytes)) +
                                      " bytes but its data_offsets span " + std::to_string(t.end - t.begin));
    h.data_size = std::max(h.data_size, t.end);
    h.tensors.push_back(std::move(t));
  }
  if (h.data_size > ~std::uint64_t{0} - data_start)
    return bad(errc::bad_offsets, "tensor data_offsets are past any possible file size");
  auto sorted = h.tensors;
  std::sort(sorted.begin(), sorted.end(), [](auto const& a, auto const& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i].begin < sorted[i - 1].end)
      return bad(errc::bad_offsets, "tensors " + detail::quoted(sorted[i - 1].name) + " and " +
                                        detail::quoted(sorted[i].name) + " overlap in the file");
  return h;
}

AUTOINTERP_DECL result<safetensors_header> parse_safetensors(std::span<std::byte const> bytes, std::string_view file) {
  auto n = parse_safetensors_length(bytes, bytes.size(), file);
  if (!n) return n.error();
  std::string_view json(reinterpret_cast<char const*>(bytes.data()) + 8, static_cast<std::size_t>(*n));
  auto h = parse_safetensors_json(json, 8 + *n, file);
  if (!h) return h.error();
  if (h->file_size() != bytes.size())
    return make_error(errc::bad_offsets,
                      std::string(file) + ": the safetensors header describes " + std::to_string(h->file_size()) +
                          " bytes but the file has " + std::to_string(bytes.size()) +
                          (h->file_size() > bytes.size() ? " (truncated, or offsets past the end)"
                                                         : " (unexpected bytes after the last tensor)"));
  return h;
}

AUTOINTERP_DECL result<safetensors_file> safetensors_file::open(std::filesystem::path const& path,
                                                                std::uint64_t max_bytes) {
  safetensors_file out;
  out.path_ = path;
  std::string const name = path.string();
  if (!is_zstd_path(path)) {
    auto m = detail::mapped_file::open(path);
    if (!m) return m.error();
    if (m->bytes().size() > max_bytes)
      return make_error(errc::memory_budget, name + ": " + std::to_string(m->bytes().size()) +
                                                 " bytes is over the limit of " + std::to_string(max_bytes));
    auto h = parse_safetensors(m->bytes(), name);
    if (!h) return h.error();
    out.header_ = std::move(*h);
    out.storage_ = std::move(*m);
    return out;
  }
  auto z = detail::zstd_reader::open(path);
  if (!z) return z.error();
  std::vector<std::byte> buf(8);
  if (auto r = z->read(buf); !r) {
    return r.error();
  } else if (*r < 8) {
    buf.resize(*r);
    return parse_safetensors_length(buf, 0, name).error();
  }
  auto n = parse_safetensors_length(buf, 0, name);
  if (!n) return n.error();
  if (8 + *n > max_bytes)
    return make_error(errc::memory_budget, name + ": the safetensors header alone is over the limit of " +
                                               std::to_string(max_bytes) + " bytes");
  buf.resize(static_cast<std::size_t>(8 + *n));
  if (auto r = z->read_exact(std::span(buf).subspan(8), "safetensors header"); !r) return r.error();
  std::string_view json(reinterpret_cast<char const*>(buf.data()) + 8, static_cast<std::size_t>(*n));
  auto h = parse_safetensors_json(json, 8 + *n, name);
  if (!h) return h.error();
  if (h->file_size() > max_bytes)
    return make_error(errc::memory_budget, name + ": decompresses to " + std::to_string(h->file_size()) +
                                               " bytes, over the limit of " + std::to_string(max_bytes) +
                                               " (raise the memory budget)");
  buf.resize(static_cast<std::size_t>(h->file_size()));
  if (auto r = z->read_exact(std::span(buf).subspan(static_cast<std::size_t>(h->data_start)), "tensor data"); !r)
    return r.error();
  auto end = z->at_end();
  if (!end) return end.error();
  if (!*end)
    return make_error(errc::bad_offsets, name + ": decompressed data continues after the " +
                                             std::to_string(h->file_size()) + " bytes the safetensors header describes");
  out.header_ = std::move(*h);
  out.storage_ = std::move(buf);
  return out;
}

AUTOINTERP_DECL result<safetensors_file> safetensors_file::from_bytes(std::vector<std::byte> bytes,
                                                                      std::filesystem::path name) {
  auto h = parse_safetensors(bytes, name.string());
  if (!h) return h.error();
  safetensors_file out;
  out.path_ = std::move(name);
  out.header_ = std::move(*h);
  out.storage_ = std::move(bytes);
  return out;
}

AUTOINTERP_DECL result<safetensors_header> safetensors_file::read_header(std::filesystem::path const& path) {
  std::string const name = path.string();
  std::vector<std::byte> buf(8);
  std::uint64_t file_size = 0;
  if (!is_zstd_path(path)) {
    auto f = detail::open_read(path);
    if (!f) return f.error();
    file_size = f->second;
    if (file_size < 8) return parse_safetensors_length(std::span(buf).first(static_cast<std::size_t>(file_size)), file_size, name).error();
    if (auto r = detail::read_exact_at(f->first.get(), 0, buf, path); !r) return r.error();
    auto n = parse_safetensors_length(buf, file_size, name);
    if (!n) return n.error();
    buf.resize(static_cast<std::size_t>(8 + *n));
    if (auto r = detail::read_exact_at(f->first.get(), 8, std::span(buf).subspan(8), path); !r) return r.error();
  } else {
    auto z = detail::zstd_reader::open(path);
    if (!z) return z.error();
    auto r = z->read(buf);
    if (!r) return r.error();
    if (*r < 8) return parse_safetensors_length(std::span(buf).first(*r), 0, name).error();
    auto n = parse_safetensors_length(buf, 0, name);
    if (!n) return n.error();
    buf.resize(static_cast<std::size_t>(8 + *n));
    if (auto rr = z->read_exact(std::span(buf).subspan(8), "safetensors header"); !rr) return rr.error();
  }
  std::string_view json(reinterpret_cast<char const*>(buf.data()) + 8, buf.size() - 8);
  auto h = parse_safetensors_json(json, buf.size(), name);
  if (!h) return h.error();
  if (file_size != 0 && h->file_size() != file_size)
    return make_error(errc::bad_offsets, name + ": the safetensors header describes " + std::to_string(h->file_size()) +
                                             " bytes but the file has " + std::to_string(file_size));
  return h;
}

}  // namespace autointerp::cache
