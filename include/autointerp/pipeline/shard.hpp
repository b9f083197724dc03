#pragma once
// Splitting one job over N machines: `--shard K/N` keeps a deterministic 1/N of the latents.

#include <autointerp/error.hpp>

#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace autointerp::pipeline {

/// Shard `index` of `count` (0 <= index < count). `{0, 1}` is the whole job.
struct shard {
  std::size_t index = 0;
  std::size_t count = 1;
  friend bool operator==(shard const&, shard const&) = default;
};

/// Parses "K/N" (K from 0 to N-1, as a Kubernetes indexed Job's JOB_COMPLETION_INDEX or a Slurm array
/// `--array=0-(N-1)` gives it). Errors: `errc::bad_option` naming the text and the expected form.
inline result<shard> parse_shard(std::string_view text) {
  auto bad = [&](char const* why) {
    return make_error(errc::bad_option, "shard '" + std::string(text) + "': " + why +
                                            "; write K/N with 0 <= K < N, e.g. 0/4");
  };
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return bad("no '/'");
  shard s;
  auto parse = [](std::string_view t, std::size_t& v) {
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    return !t.empty() && ec == std::errc{} && p == t.data() + t.size();
  };
  if (!parse(text.substr(0, slash), s.index) || !parse(text.substr(slash + 1), s.count)) return bad("not two numbers");
  if (s.count == 0) return bad("N is 0");
  if (s.index >= s.count) return bad("K is not below N");
  return s;
}

/// The elements of `items` that belong to shard `s`: every N-th one starting at K, by position in
/// the list. Deterministic for the same selection, balanced to within one element, and the N shards
/// together cover every element exactly once.
template <class T>
std::vector<T> select_shard(std::vector<T> items, shard s) {
  if (s.count <= 1) return items;
  std::vector<T> out;
  out.reserve(items.size() / s.count + 1);
  for (std::size_t i = s.index; i < items.size(); i += s.count) out.push_back(std::move(items[i]));
  return out;
}

}  // namespace autointerp::pipeline
