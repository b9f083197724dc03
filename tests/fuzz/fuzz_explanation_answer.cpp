// Fuzzes the explanation answer parser (`explain::parse_answer`). Invariants: `parsed` exactly
// when the explanation is non-empty; the explanation is a substring of the answer, one line,
// trimmed; and it is stable: an answer that is just "[EXPLANATION]: <it>" gives it back.
#include <autointerp/explain/parse_answer.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  namespace ex = autointerp::explain;
  std::string_view const answer(reinterpret_cast<char const*>(data), size);
  auto const a = ex::parse_answer(answer);
  check(a.parsed == !a.explanation.empty());
  if (!a.parsed) return 0;
  std::string_view const e = a.explanation;
  check(answer.find(e) != std::string_view::npos);
  check(e.find('\n') == std::string_view::npos);
  check(!space(e.front()) && !space(e.back()));
  auto const again = ex::parse_answer("[EXPLANATION]: " + a.explanation);
  check(again.parsed && again.explanation == a.explanation);
  return 0;
}
