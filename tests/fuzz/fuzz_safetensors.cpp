// Fuzzes the safetensors header and body parser, the delphi shard decoder on top of it, and the
// .npy token reader: any input must give a value or an error, never a crash or a hang.
#include <autointerp/cache/safetensors.hpp>
#include <autointerp/cache/shard.hpp>
#include <autointerp/cache/tokens_file.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  namespace cache = autointerp::cache;
  std::span<std::byte const> bytes(reinterpret_cast<std::byte const*>(data), size);
  if (size >= 6 && std::memcmp(data, "\x93NUMPY", 6) == 0) {
    (void)cache::parse_npy_tokens(bytes, "fuzz.npy");
    return 0;
  }
  auto file = cache::safetensors_file::from_bytes(std::vector<std::byte>(bytes.begin(), bytes.end()), "fuzz.safetensors");
  if (!file) return 0;
  for (auto const& t : file->header().tensors) {
    auto b = file->tensor(t);
    if (b.size() != t.end - t.begin) __builtin_trap();
  }
  // Limits as for cache_a's first shard, and unknown ones.
  for (auto limits : {cache::shard_limits{0, 127, 64, 64}, cache::shard_limits{5, 5, 0, 0}}) {
    auto d = cache::decode_shard(*file, limits);
    if (d && (d->rows.size() != d->values.size() || d->offsets.back() != d->values.size())) __builtin_trap();
  }
  if (auto const* t = file->header().find("tokens")) (void)cache::read_token_tensor(file->tensor(*t), *t, "fuzz");
  return 0;
}
