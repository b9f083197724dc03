#pragma once
// A stable 64-bit hash of a custom_id, for lookups that must not keep the ids themselves.

#include <cstdint>
#include <string_view>

namespace autointerp::batch::detail {

/// FNV-1a over the bytes, then a 64-bit finalizer (splitmix64's) so nearby ids spread. The same in
/// every process and build: indexes may be compared across runs.
constexpr std::uint64_t id_hash(std::string_view id) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char ch : id) {
    h ^= static_cast<unsigned char>(ch);
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace autointerp::batch::detail
