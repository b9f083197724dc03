// Fuzzes the delphi module config.json parser (`cache::parse_module_config`, what
// `dataset::open` reads for each module). Invariants: an error is `errc::bad_config` whose
// message starts with the file; a result has the positive context length the JSON gives under
// "cache_ctx_len" (else "ctx_len"), and the JSON's model_name and n_tokens.
#include <autointerp/cache/dataset.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  namespace cache = autointerp::cache;
  std::string_view const json(reinterpret_cast<char const*>(data), size);
  auto c = cache::parse_module_config(json, "fuzz/layers.3/config.json");
  if (!c) {
    check(c.error() == autointerp::errc::bad_config);
    check(c.error().message.starts_with("fuzz/layers.3/config.json: "));
    return 0;
  }
  boost::system::error_code ec;
  boost::json::value const v = boost::json::parse(json, ec);
  check(!ec && v.is_object());
  auto const& o = v.as_object();
  auto const* ctx = o.contains("cache_ctx_len") ? o.if_contains("cache_ctx_len") : o.if_contains("ctx_len");
  check(ctx != nullptr && c->ctx_len > 0);
  boost::system::error_code nec;
  check(ctx->to_number<std::uint32_t>(nec) == c->ctx_len && !nec);
  auto const* m = o.if_contains("model_name");
  check(m ? m->as_string() == c->model_name : c->model_name.empty());
  auto const* n = o.if_contains("n_tokens");
  check(c->n_tokens == 0 || (n && n->to_number<std::uint64_t>(nec) == c->n_tokens && !nec));
  return 0;
}
