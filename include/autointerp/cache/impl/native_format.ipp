#pragma once
// Out-of-line parts of <autointerp/cache/native_format.hpp>.

#include <autointerp/cache/detail/xxhash64.hpp>
#include <autointerp/cache/native_format.hpp>
#include <autointerp/cache/safetensors.hpp>

#include <zstd.h>

#include <bit>
#include <cmath>
#include <cstring>

namespace autointerp::cache {

namespace detail {
inline void store_u32(std::byte* p, std::uint32_t v) noexcept { std::memcpy(p, &v, 4); }
inline void store_u64(std::byte* p, std::uint64_t v) noexcept { std::memcpy(p, &v, 8); }

inline std::size_t value_size(activation_dtype d) noexcept { return d == activation_dtype::f32 ? 4 : 2; }

inline bool same_float(float a, float b) noexcept {
  return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b) || (std::isnan(a) && std::isnan(b));
}

inline float block_max(std::span<float const> v) noexcept {
  if (v.empty()) return 0;
  float m = v[0];
  for (float x : v)
    if (x > m) m = x;
  return m;
}

inline std::string latent_name(std::string_view file, std::uint32_t latent) {
  return std::string(file) + ": latent " + std::to_string(latent);
}

struct zstd_dctx_free {
  void operator()(ZSTD_DCtx* c) const noexcept { ZSTD_freeDCtx(c); }
};

// Decompresses one whole frame whose content size must be exactly `expected`.
inline result<std::vector<std::byte>> decompress_exact(std::span<std::byte const> in, std::uint64_t expected,
                                                       std::string const& what) {
  auto content = ZSTD_getFrameContentSize(in.data(), in.size());
  if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN)
    return make_error(errc::corrupt_zstd, what + ": the block is not a zstd frame with a known size");
  if (content != expected)
    return make_error(errc::corrupt_zstd, what + ": the block holds " + std::to_string(content) +
                                              " bytes, expected " + std::to_string(expected));
  if (expected > in.size() * native_max_ratio)
    return make_error(errc::corrupt_zstd, what + ": the block claims an implausible compression ratio");
  std::vector<std::byte> out(static_cast<std::size_t>(expected));
  thread_local std::unique_ptr<ZSTD_DCtx, zstd_dctx_free> ctx(ZSTD_createDCtx());
  if (!ctx) return make_error(errc::memory_budget, what + ": cannot allocate a zstd context");
  auto n = ZSTD_decompressDCtx(ctx.get(), out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(n)) return make_error(errc::corrupt_zstd, what + ": " + ZSTD_getErrorName(n));
  if (n != expected)
    return make_error(errc::corrupt_zstd, what + ": decompressed to " + std::to_string(n) + " bytes, expected " +
                                              std::to_string(expected));
  return out;
}

inline result<std::vector<std::byte>> compress(std::span<std::byte const> in, int level) {
  std::vector<std::byte> out(ZSTD_compressBound(in.size()));
  auto n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level);
  if (ZSTD_isError(n)) return make_error(errc::write_failed, std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}
}  // namespace detail

AUTOINTERP_DECL std::array<std::byte, native_header_size> encode_native_header(native_header const& h) {
  std::array<std::byte, native_header_size> b{};
  std::memcpy(b.data(), native_magic.data(), 8);
  detail::store_u32(b.data() + 8, h.version);
  detail::store_u32(b.data() + 12, native_header_size);
  detail::store_u32(b.data() + 16, h.first_latent);
  detail::store_u32(b.data() + 20, h.latent_count);
  detail::store_u32(b.data() + 24, h.ctx_len);
  b[28] = static_cast<std::byte>(h.dtype);
  detail::store_u64(b.data() + 32, h.rows);
  detail::store_u64(b.data() + 40, h.total_activations);
  detail::store_u64(b.data() + 48, h.index_offset);
  detail::store_u64(b.data() + 56, h.index_checksum);
  detail::store_u64(b.data() + 64, h.tokens_offset);
  detail::store_u64(b.data() + 72, h.tokens_size);
  detail::store_u64(b.data() + 80, h.tokens_checksum);
  detail::store_u64(b.data() + 88, h.file_size);
  detail::store_u64(b.data() + 120, detail::xxhash64::hash(b.data(), 120));
  return b;
}

AUTOINTERP_DECL result<native_header> decode_native_header(std::span<std::byte const> b, std::uint64_t file_size,
                                                           std::string_view file) {
  std::string const f(file);
  auto bad = [&](errc c, std::string const& why) { return make_error(c, f + ": " + why); };
  if (b.size() < 12 || file_size < 12)
    return bad(errc::bad_header, "too short for an autointerp native file (" + std::to_string(file_size) + " bytes)");
  if (std::memcmp(b.data(), native_magic.data(), 8) != 0)
    return bad(errc::bad_header, "not an autointerp native file (wrong magic bytes)");
  native_header h;
  h.version = detail::load_le<std::uint32_t>(b.data() + 8);
  if (h.version > native_version)
    return bad(errc::unsupported_version, "written by format version " + std::to_string(h.version) +
                                              "; this autointerp reads version " + std::to_string(native_version) +
                                              " (upgrade autointerp or convert the cache again)");
  if (h.version == 0) return bad(errc::bad_header, "format version 0 is not valid");
  if (b.size() < native_header_size || file_size < native_header_size)
    return bad(errc::bad_offsets, "the file ends inside its " + std::to_string(native_header_size) +
                                      "-byte header (truncated?)");
  if (detail::load_le<std::uint32_t>(b.data() + 12) != native_header_size)
    return bad(errc::bad_header, "header size field is not " + std::to_string(native_header_size));
  if (detail::load_le<std::uint64_t>(b.data() + 120) != detail::xxhash64::hash(b.data(), 120))
    return bad(errc::checksum_mismatch, "header checksum does not match (corrupt file)");
  h.first_latent = detail::load_le<std::uint32_t>(b.data() + 16);
  h.latent_count = detail::load_le<std::uint32_t>(b.data() + 20);
  h.ctx_len = detail::load_le<std::uint32_t>(b.data() + 24);
  auto dtype = static_cast<std::uint8_t>(b[28]);
  if (dtype > 2) return bad(errc::bad_dtype, "unknown activation dtype code " + std::to_string(dtype));
  h.dtype = static_cast<activation_dtype>(dtype);
  h.rows = detail::load_le<std::uint64_t>(b.data() + 32);
  h.total_activations = detail::load_le<std::uint64_t>(b.data() + 40);
  h.index_offset = detail::load_le<std::uint64_t>(b.data() + 48);
  h.index_checksum = detail::load_le<std::uint64_t>(b.data() + 56);
  h.tokens_offset = detail::load_le<std::uint64_t>(b.data() + 64);
  h.tokens_size = detail::load_le<std::uint64_t>(b.data() + 72);
  h.tokens_checksum = detail::load_le<std::uint64_t>(b.data() + 80);
  h.file_size = detail::load_le<std::uint64_t>(b.data() + 88);
  if (h.file_size != file_size)
    return bad(errc::bad_offsets, "the header says the file has " + std::to_string(h.file_size) + " bytes but it has " +
                                      std::to_string(file_size) + " (truncated or appended to)");
  if (std::uint64_t(h.first_latent) + h.latent_count > (std::uint64_t{1} << 32))
    return bad(errc::bad_header, "latent range past 2^32");
  if (h.ctx_len == 0 || h.rows == 0 || h.rows > (std::uint64_t{1} << 40) / h.ctx_len)
    return bad(errc::bad_header, "token matrix of " + std::to_string(h.rows) + " rows x " + std::to_string(h.ctx_len) +
                                     " positions is not plausible");
  if (h.index_offset < native_header_size || h.index_offset > file_size ||
      (file_size - h.index_offset) != std::uint64_t(h.latent_count) * native_entry_size)
    return bad(errc::bad_offsets, "the index (" + std::to_string(h.latent_count) + " entries at byte " +
                                      std::to_string(h.index_offset) + ") does not end where the file ends");
  if (h.tokens_offset == 0 ? h.tokens_size != 0
                           : (h.tokens_offset < native_header_size || h.tokens_size == 0 ||
                              h.tokens_size > h.index_offset || h.tokens_offset > h.index_offset - h.tokens_size))
    return bad(errc::bad_offsets, "the token block lies outside the data section");
  std::uint64_t capacity = 0;
  if (!__builtin_mul_overflow(h.rows * h.ctx_len, std::uint64_t(h.latent_count), &capacity) &&
      h.total_activations > capacity)
    return bad(errc::bad_header, "more activations than token positions times latents");
  return h;
}

AUTOINTERP_DECL result<std::vector<native_index_entry>> decode_native_index(std::span<std::byte const> b,
                                                                            native_header const& h,
                                                                            std::string_view file) {
  std::string const f(file);
  if (b.size() != std::uint64_t(h.latent_count) * native_entry_size)
    return make_error(errc::bad_offsets, f + ": the index has " + std::to_string(b.size()) + " bytes, expected " +
                                             std::to_string(std::uint64_t(h.latent_count) * native_entry_size));
  if (detail::xxhash64::hash(b.data(), b.size()) != h.index_checksum)
    return make_error(errc::checksum_mismatch, f + ": index checksum does not match (corrupt file)");
  std::vector<native_index_entry> index(h.latent_count);
  std::uint64_t data_end = h.tokens_offset ? h.tokens_offset : h.index_offset, prev_end = native_header_size, total = 0;
  std::uint64_t const positions = h.rows * h.ctx_len;
  for (std::uint32_t i = 0; i < h.latent_count; ++i) {
    auto const* p = b.data() + std::size_t(i) * native_entry_size;
    auto& e = index[i];
    e.offset = detail::load_le<std::uint64_t>(p);
    e.size = detail::load_le<std::uint32_t>(p + 8);
    e.count = detail::load_le<std::uint32_t>(p + 12);
    e.max = detail::load_le<float>(p + 16);
    auto reserved = detail::load_le<std::uint32_t>(p + 20);
    e.checksum = detail::load_le<std::uint64_t>(p + 24);
    std::string const where = f + ": index entry of latent " + std::to_string(std::uint64_t(h.first_latent) + i);
    if (reserved != 0) return make_error(errc::bad_header, where + " has a nonzero reserved field");
    if (e.count == 0) {
      if (e.offset != 0 || e.size != 0 || std::bit_cast<std::uint32_t>(e.max) != 0 || e.checksum != 0)
        return make_error(errc::bad_header, where + " has no activations but a nonzero block");
      continue;
    }
    if (e.count > positions) return make_error(errc::bad_header, where + " counts more activations than tokens");
    if (e.size == 0 || e.offset < prev_end || e.offset > data_end || e.size > data_end - e.offset)
      return make_error(errc::bad_offsets, where + " points outside the block section or overlaps the previous block");
    prev_end = e.offset + e.size;
    total += e.count;
  }
  if (total != h.total_activations)
    return make_error(errc::bad_header, f + ": the index counts " + std::to_string(total) + " activations, the header " +
                                            std::to_string(h.total_activations));
  return index;
}

AUTOINTERP_DECL result<native_block> encode_native_block(latent_activations const& a, int zstd_level) {
  std::size_t const n = a.values.size();
  auto const who = "latent " + std::to_string(a.latent.index) + " of module " + a.latent.module;
  if (a.rows.size() != n || a.positions.size() != n)
    return make_error(errc::bad_option, who + ": rows, positions and values differ in length");
  if (n > 0xffffffffu) return make_error(errc::bad_option, who + ": more than 2^32 - 1 activations");
  native_block block;
  block.count = static_cast<std::uint32_t>(n);
  if (n == 0) return block;
  std::size_t const vs = detail::value_size(a.dtype);
  std::vector<std::byte> raw(n * (8 + vs));
  std::byte* rp = raw.data();
  std::byte* pp = rp + n * 4;
  std::byte* vp = pp + n * 4;
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0 && (a.rows[i] < a.rows[i - 1] || (a.rows[i] == a.rows[i - 1] && a.positions[i] < a.positions[i - 1])))
      return make_error(errc::bad_option, who + ": activations are not sorted by (row, position)");
    detail::store_u32(rp + i * 4, i == 0 ? a.rows[0] : a.rows[i] - a.rows[i - 1]);
    detail::store_u32(pp + i * 4, a.positions[i]);
    float v = a.values[i];
    switch (a.dtype) {
      case activation_dtype::f32: std::memcpy(vp + i * 4, &v, 4); break;
      case activation_dtype::f16: {
        auto h16 = detail::float_to_half_exact(v);
        if (!detail::same_float(detail::half_to_float(h16), v))
          return make_error(errc::bad_option, who + ": activation " + std::to_string(v) + " is not a float16 value");
        std::memcpy(vp + i * 2, &h16, 2);
        break;
      }
      case activation_dtype::bf16: {
        auto b16 = static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(v) >> 16);
        if (!detail::same_float(detail::bf16_to_float(b16), v))
          return make_error(errc::bad_option, who + ": activation " + std::to_string(v) + " is not a bfloat16 value");
        std::memcpy(vp + i * 2, &b16, 2);
        break;
      }
    }
  }
  auto c = detail::compress(raw, zstd_level);
  if (!c) return c.error();
  if (c->size() > 0xffffffffu) return make_error(errc::bad_option, who + ": compressed block over 4 GiB");
  block.bytes = std::move(*c);
  block.max = detail::block_max(a.values);
  return block;
}

AUTOINTERP_DECL result<void> decode_native_block(std::span<std::byte const> compressed, native_index_entry const& e,
                                                 native_header const& h, std::uint32_t latent,
                                                 latent_activations& out, std::string_view file) {
  auto const what = detail::latent_name(file, latent);
  if (compressed.size() != e.size) return make_error(errc::bad_offsets, what + ": block size differs from the index");
  if (detail::xxhash64::hash(compressed.data(), compressed.size()) != e.checksum)
    return make_error(errc::checksum_mismatch, what + ": block checksum does not match (corrupt file)");
  std::size_t const n = e.count, vs = detail::value_size(h.dtype);
  auto raw = detail::decompress_exact(compressed, std::uint64_t(n) * (8 + vs), what);
  if (!raw) return raw.error();
  std::byte const* rp = raw->data();
  std::byte const* pp = rp + n * 4;
  std::byte const* vp = pp + n * 4;
  std::size_t const base = out.values.size();
  out.rows.resize(base + n);
  out.positions.resize(base + n);
  out.values.resize(base + n);
  out.dtype = h.dtype;
  std::uint64_t row = 0;
  for (std::size_t i = 0; i < n; ++i) {
    row += detail::load_le<std::uint32_t>(rp + i * 4);
    auto pos = detail::load_le<std::uint32_t>(pp + i * 4);
    if (row >= h.rows || pos >= h.ctx_len)
      return make_error(errc::bad_shape, what + ": activation " + std::to_string(i) + " at row " + std::to_string(row) +
                                             ", position " + std::to_string(pos) + " is outside " +
                                             std::to_string(h.rows) + " x " + std::to_string(h.ctx_len) + " tokens");
    if (i > 0 && row == out.rows[base + i - 1] && pos < out.positions[base + i - 1])
      return make_error(errc::bad_shape, what + ": activations are not in (row, position) order");
    out.rows[base + i] = static_cast<std::uint32_t>(row);
    out.positions[base + i] = pos;
    out.values[base + i] = h.dtype == activation_dtype::f32   ? detail::load_le<float>(vp + i * 4)
                           : h.dtype == activation_dtype::f16 ? detail::half_to_float(detail::load_le<std::uint16_t>(vp + i * 2))
                                                              : detail::bf16_to_float(detail::load_le<std::uint16_t>(vp + i * 2));
  }
  if (!detail::same_float(detail::block_max(std::span(out.values).subspan(base)), e.max))
    return make_error(errc::bad_shape, what + ": maximum activation differs from the index");
  return {};
}

AUTOINTERP_DECL result<void> native_shard::source::read_at(std::uint64_t offset, std::span<std::byte> out) const {
  if (offset > size || out.size() > size - offset)
    return make_error(errc::bad_offsets, name + ": read of " + std::to_string(out.size()) + " bytes at " +
                                             std::to_string(offset) + " is past the end of the file");
  bytes_read.fetch_add(out.size(), std::memory_order_relaxed);
  if (fd.get() < 0) {
    if (!out.empty()) std::memcpy(out.data(), memory.data() + offset, out.size());
    return {};
  }
  return detail::read_exact_at(fd.get(), offset, out, name);
}

AUTOINTERP_DECL result<native_shard> native_shard::load(std::shared_ptr<source> src) {
  std::array<std::byte, native_header_size> hb{};
  auto head = std::span(hb).first(static_cast<std::size_t>(std::min<std::uint64_t>(src->size, native_header_size)));
  if (auto r = src->read_at(0, head); !r) return r.error();
  auto h = decode_native_header(head, src->size, src->name);
  if (!h) return h.error();
  std::vector<std::byte> ib(static_cast<std::size_t>(src->size - h->index_offset));
  if (auto r = src->read_at(h->index_offset, ib); !r) return r.error();
  auto index = decode_native_index(ib, *h, src->name);
  if (!index) return index.error();
  native_shard s;
  s.source_ = std::move(src);
  s.header_ = *h;
  s.index_ = std::make_shared<std::vector<native_index_entry> const>(std::move(*index));
  return s;
}

AUTOINTERP_DECL result<native_shard> native_shard::open(std::filesystem::path const& path) {
  auto f = detail::open_read(path);
  if (!f) return f.error();
  auto src = std::make_shared<source>();
  src->name = path.string();
  src->fd = std::move(f->first);
  src->size = f->second;
  return load(std::move(src));
}

AUTOINTERP_DECL result<native_shard> native_shard::from_memory(std::span<std::byte const> bytes, std::string name) {
  auto src = std::make_shared<source>();
  src->name = std::move(name);
  src->memory = bytes;
  src->size = bytes.size();
  return load(std::move(src));
}

AUTOINTERP_DECL result<latent_activations> native_shard::read_latent(std::uint32_t latent, std::string module) const {
  if (latent < header_.first_latent || latent - header_.first_latent >= header_.latent_count)
    return make_error(errc::latent_out_of_range,
                      source_->name + ": latent " + std::to_string(latent) + " is not in this file (latents " +
                          std::to_string(header_.first_latent) + "-" +
                          std::to_string(std::uint64_t(header_.first_latent) + header_.latent_count - 1) + ")");
  latent_activations out;
  out.latent = latent_id{std::move(module), latent};
  out.dtype = header_.dtype;
  auto const& e = (*index_)[latent - header_.first_latent];
  if (e.count == 0) return out;
  std::vector<std::byte> buf(e.size);
  if (auto r = source_->read_at(e.offset, buf); !r) return r.error();
  if (auto r = decode_native_block(buf, e, header_, latent, out, source_->name); !r) return r.error();
  return out;
}

AUTOINTERP_DECL result<token_matrix> native_shard::read_tokens() const {
  if (header_.tokens_offset == 0)
    return make_error(errc::tokens_missing, source_->name + ": this native file carries no tokens "
                                                            "(name a tokens file when opening the cache)");
  std::vector<std::byte> buf(static_cast<std::size_t>(header_.tokens_size));
  if (auto r = source_->read_at(header_.tokens_offset, buf); !r) return r.error();
  if (detail::xxhash64::hash(buf.data(), buf.size()) != header_.tokens_checksum)
    return make_error(errc::checksum_mismatch, source_->name + ": token block checksum does not match (corrupt file)");
  auto raw = detail::decompress_exact(buf, header_.rows * header_.ctx_len * 4, source_->name + ": tokens");
  if (!raw) return raw.error();
  token_matrix m;
  m.rows = static_cast<std::size_t>(header_.rows);
  m.ctx = header_.ctx_len;
  m.ids.resize(m.rows * m.ctx);
  std::memcpy(m.ids.data(), raw->data(), raw->size());
  return m;
}

AUTOINTERP_DECL result<native_shard_writer> native_shard_writer::create(std::filesystem::path const& path,
                                                                        native_header meta) {
  native_shard_writer w;
  w.path_ = path;
  auto f = detail::atomic_file::create(path);
  if (!f) return f.error();
  w.file_ = std::move(*f);
  w.header_ = meta;
  w.header_.version = native_version;
  w.header_.total_activations = 0;
  w.header_.tokens_offset = w.header_.tokens_size = w.header_.tokens_checksum = 0;
  w.file_.seek_end(native_header_size);
  w.index_.reserve(meta.latent_count);
  return w;
}

AUTOINTERP_DECL result<void> native_shard_writer::add(native_block const& block) {
  if (index_.size() >= header_.latent_count)
    return make_error(errc::bad_option, path_.string() + ": more latents added than the header's " +
                                            std::to_string(header_.latent_count));
  if (header_.tokens_offset != 0)
    return make_error(errc::bad_option, path_.string() + ": latents must be added before the tokens");
  native_index_entry e;
  if (block.count > 0) {
    e.offset = file_.end();
    e.size = static_cast<std::uint32_t>(block.bytes.size());
    e.count = block.count;
    e.max = block.max;
    e.checksum = detail::xxhash64::hash(block.bytes.data(), block.bytes.size());
    if (auto r = file_.append(block.bytes.data(), block.bytes.size()); !r) return r.error();
    header_.total_activations += block.count;
  }
  index_.push_back(e);
  return {};
}

AUTOINTERP_DECL result<void> native_shard_writer::set_tokens(token_matrix const& tokens, int zstd_level) {
  if (tokens.rows != header_.rows || tokens.ctx != header_.ctx_len || tokens.ids.size() != tokens.rows * tokens.ctx)
    return make_error(errc::bad_shape, path_.string() + ": token matrix " + std::to_string(tokens.rows) + " x " +
                                           std::to_string(tokens.ctx) + " does not match the header's " +
                                           std::to_string(header_.rows) + " x " + std::to_string(header_.ctx_len));
  auto c = detail::compress(std::as_bytes(std::span(tokens.ids)), zstd_level);
  if (!c) return c.error();
  header_.tokens_offset = file_.end();
  header_.tokens_size = c->size();
  header_.tokens_checksum = detail::xxhash64::hash(c->data(), c->size());
  return file_.append(c->data(), c->size());
}

AUTOINTERP_DECL result<void> native_shard_writer::finish() {
  if (index_.size() != header_.latent_count)
    return make_error(errc::bad_option, path_.string() + ": " + std::to_string(index_.size()) + " of " +
                                            std::to_string(header_.latent_count) + " latents were written");
  std::vector<std::byte> ib(index_.size() * native_entry_size);
  for (std::size_t i = 0; i < index_.size(); ++i) {
    auto* p = ib.data() + i * native_entry_size;
    detail::store_u64(p, index_[i].offset);
    detail::store_u32(p + 8, index_[i].size);
    detail::store_u32(p + 12, index_[i].count);
    std::memcpy(p + 16, &index_[i].max, 4);
    detail::store_u32(p + 20, 0);
    detail::store_u64(p + 24, index_[i].checksum);
  }
  header_.index_offset = file_.end();
  header_.index_checksum = detail::xxhash64::hash(ib.data(), ib.size());
  header_.file_size = header_.index_offset + ib.size();
  if (auto r = file_.append(ib.data(), ib.size()); !r) return r.error();
  auto hb = encode_native_header(header_);
  if (auto r = file_.write_at(0, hb.data(), hb.size()); !r) return r.error();
  return file_.commit();
}

}  // namespace autointerp::cache
