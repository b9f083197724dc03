#pragma once
// A bounded, shared cache of decoded shards: many latent tasks that need the same shard wait for
// one decode instead of each decoding it, and least recently used shards are dropped to stay
// within a memory budget.

#include <autointerp/cache/shard.hpp>
#include <autointerp/error.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

namespace autointerp::cache {

/// Counters of a `shard_cache`, for tests, benchmarks and progress output.
struct shard_cache_stats {
  std::size_t decodes = 0;    ///< loader calls (shards decoded)
  std::size_t hits = 0;       ///< requests served by a cached or in-flight decode
  std::size_t evictions = 0;  ///< shards dropped to stay within the budget
  std::size_t bytes = 0;      ///< decoded bytes held now
  std::size_t budget = 0;
};

/// Thread-safe. Shards in use stay alive through their `shared_ptr` even after eviction; the
/// budget bounds what the cache itself keeps. Shards still being decoded are not counted.
class shard_cache {
 public:
  using value_type = std::shared_ptr<decoded_shard const>;
  using loader = std::function<result<value_type>()>;

  explicit shard_cache(std::size_t budget_bytes) : budget_(budget_bytes) {}
  shard_cache(shard_cache const&) = delete;
  shard_cache& operator=(shard_cache const&) = delete;

  /// Returns the shard cached under `key`, joining a decode in progress, or calls `load` (on this
  /// thread) and caches its value. A failed load is not cached, so a later call retries.
  result<value_type> get(std::string const& key, loader const& load) {
    std::unique_lock lock(mutex_);
    if (auto it = entries_.find(key); it != entries_.end()) {
      ++stats_.hits;
      if (it->second.ready) lru_.splice(lru_.begin(), lru_, it->second.lru);
      auto f = it->second.value;
      lock.unlock();
      return f.get();
    }
    std::promise<result<value_type>> promise;
    entries_.emplace(key, entry{promise.get_future().share(), 0, lru_.end(), false});
    ++stats_.decodes;
    lock.unlock();

    result<value_type> r = [&]() -> result<value_type> {
      try {
        return load();
      } catch (std::bad_alloc const&) {
        return make_error(errc::memory_budget, key + ": out of memory while decoding the shard");
      } catch (std::exception const& e) {
        return make_error(errc::unreadable_file, key + ": decoding failed: " + e.what());
      }
    }();

    lock.lock();
    auto it = entries_.find(key);
    if (!r || !*r) {
      entries_.erase(it);
    } else {
      it->second.bytes = (*r)->memory_bytes();
      it->second.ready = true;
      lru_.push_front(key);
      it->second.lru = lru_.begin();
      stats_.bytes += it->second.bytes;
      evict_locked();
    }
    lock.unlock();
    promise.set_value(r);
    return r;
  }

  shard_cache_stats stats() const {
    std::lock_guard lock(mutex_);
    auto s = stats_;
    s.budget = budget_;
    return s;
  }
  std::size_t budget() const noexcept { return budget_; }

 private:
  struct entry {
    std::shared_future<result<value_type>> value;
    std::size_t bytes;
    std::list<std::string>::iterator lru;
    bool ready;
  };
  void evict_locked() {
    while (stats_.bytes > budget_ && !lru_.empty()) {
      auto it = entries_.find(lru_.back());
      stats_.bytes -= it->second.bytes;
      entries_.erase(it);
      lru_.pop_back();
      ++stats_.evictions;
    }
  }

  mutable std::mutex mutex_;
  std::size_t budget_;
  std::unordered_map<std::string, entry> entries_;
  std::list<std::string> lru_;  ///< ready entries, most recently used first
  shard_cache_stats stats_;
};

}  // namespace autointerp::cache
