// Fuzzes the native shard reader: header, index, latent blocks and the token block. The first
// input byte chooses whether checksums are repaired before reading, so that the fuzzer reaches
// the block decoder instead of stopping at the checksum checks.
#include <autointerp/cache/detail/xxhash64.hpp>
#include <autointerp/cache/native_format.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

namespace cache = autointerp::cache;
using cache::detail::xxhash64;

template <class T>
T get(std::vector<std::byte> const& b, std::size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}
template <class T>
void put(std::vector<std::byte>& b, std::size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof v);
}

// Rewrites block, token, index and header checksums to match the bytes (where they are in range).
void repair_checksums(std::vector<std::byte>& b) {
  if (b.size() < cache::native_header_size) return;
  std::uint64_t const index_offset = get<std::uint64_t>(b, 48);
  std::uint32_t const count = get<std::uint32_t>(b, 20);
  if (index_offset <= b.size() && (b.size() - index_offset) / cache::native_entry_size >= count) {
    for (std::uint32_t i = 0; i < count; ++i) {
      std::size_t e = index_offset + std::size_t(i) * cache::native_entry_size;
      auto offset = get<std::uint64_t>(b, e);
      auto size = get<std::uint32_t>(b, e + 8);
      if (offset <= b.size() && size <= b.size() - offset) put(b, e + 24, xxhash64::hash(b.data() + offset, size));
    }
    std::size_t index_bytes = std::size_t(count) * cache::native_entry_size;
    put(b, 56, xxhash64::hash(b.data() + index_offset, index_bytes));
  }
  auto tokens_offset = get<std::uint64_t>(b, 64), tokens_size = get<std::uint64_t>(b, 72);
  if (tokens_offset <= b.size() && tokens_size <= b.size() - tokens_offset)
    put(b, 80, xxhash64::hash(b.data() + tokens_offset, tokens_size));
  put(b, 120, xxhash64::hash(b.data(), 120));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  if (size < 1) return 0;
  bool const repair = data[0] & 1;
  std::vector<std::byte> bytes(reinterpret_cast<std::byte const*>(data) + 1, reinterpret_cast<std::byte const*>(data) + size);
  if (repair) repair_checksums(bytes);
  auto shard = cache::native_shard::from_memory(bytes, "fuzz.ain");
  if (!shard) return 0;
  auto const& h = shard->header();
  std::uint32_t const n = std::min<std::uint32_t>(h.latent_count, 64);
  for (std::uint32_t i = 0; i < n; ++i) {
    auto a = shard->read_latent(h.first_latent + i);
    if (a && (a->size() != shard->index()[i].count || a->rows.size() != a->size())) __builtin_trap();
  }
  (void)shard->read_latent(h.first_latent + h.latent_count);  // out of range
  auto t = shard->read_tokens();
  if (t && t->ids.size() != t->rows * t->ctx) __builtin_trap();
  return 0;
}
