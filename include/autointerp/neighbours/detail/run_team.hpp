#pragma once
// A fixed team of threads for one CPU-bound computation (internal).

#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace autointerp::neighbours::detail {

/// Runs `work(worker)` on `threads` threads, the calling one being worker 0, and joins them; the
/// first exception any of them threw is rethrown afterwards.
template <class Work>
void run_team(std::size_t threads, Work const& work) {
  std::exception_ptr failure;
  std::mutex m;
  auto guarded = [&](std::size_t w) {
    try {
      work(w);
    } catch (...) {
      std::lock_guard lock(m);
      if (!failure) failure = std::current_exception();
    }
  };
  std::vector<std::thread> team;
  for (std::size_t t = 1; t < threads; ++t) team.emplace_back(guarded, t);
  guarded(0);
  for (auto& t : team) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace autointerp::neighbours::detail
