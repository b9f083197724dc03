// Fuzzes the tokenizer.json reader and, when a file loads, decoding: each id alone (the load-time
// table), the same ids through the decoder pipeline, and a few sequences. Invariants: loading gives
// a tokenizer or an error with a message; every decoded string is well-formed UTF-8 (cut sequences
// show U+FFFD); `decode({id})` equals `decode_token(id)` as documented; ids past the vocabulary
// give `errc::token_out_of_range`.
#include <autointerp/tokenizer/detail/utf8.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace tk = autointerp::tokenizer;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void check_ids(tk::tokenizer const& tok, std::vector<std::uint32_t> const& ids, tk::decode_options opts) {
  for (std::uint32_t id : ids) {
    auto one = tok.decode_token(id, opts);
    check(one.has_value());
    check(tk::detail::is_valid_utf8(*one));
    auto seq = tok.decode(std::span<std::uint32_t const>(&id, 1), opts);
    check(seq.has_value());
    check(*seq == *one);
    check(!tok.is_special(id) || tok.has_token(id));
    if (opts.skip_special_tokens && tok.is_special(id)) check(one->empty());
    auto piece = tok.id_to_token(id);
    check(piece.has_value());
    check(tok.has_token(id) || piece->empty());
  }
  auto text = tok.decode(ids, opts);
  check(text.has_value());
  check(tk::detail::is_valid_utf8(*text));
  std::vector<std::string> strings{"kept"};
  check(tok.decode_tokens(ids, strings, opts).has_value());
  check(strings.size() == ids.size() + 1);
  for (std::size_t i = 0; i < ids.size(); ++i) check(strings[i + 1] == *tok.decode_token(ids[i], opts));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string_view const json(reinterpret_cast<char const*>(data), size);
  auto tok = tk::parse_tokenizer(json, "fuzz/tokenizer.json");
  if (!tok) {
    check(tok.error() == autointerp::errc::bad_tokenizer || tok.error() == autointerp::errc::unsupported_tokenizer);
    check(!tok.error().message.empty());
    return 0;
  }
  std::uint32_t const n = tok->size();
  // The first ids, the last ones, and ids picked by the input's bytes.
  std::vector<std::uint32_t> ids;
  for (std::uint32_t id = 0; id < std::min<std::uint32_t>(n, 48); ++id) ids.push_back(id);
  for (std::uint32_t k = 1; k <= 8 && k <= n; ++k) ids.push_back(n - k);
  for (std::size_t i = 0; n != 0 && i + 4 <= size && ids.size() < 96; i += 97)
    ids.push_back((std::uint32_t(data[i]) | std::uint32_t(data[i + 1]) << 8 | std::uint32_t(data[i + 2]) << 16) % n);
  for (bool skip : {false, true})
    for (bool clean : {false, true}) check_ids(*tok, ids, {.skip_special_tokens = skip, .clean_up_tokenization_spaces = clean});

  // Past the vocabulary: an error naming the id, and `out` left as it was.
  check(tok->decode_token(n).error() == autointerp::errc::token_out_of_range);
  check(tok->id_to_token(n).error() == autointerp::errc::token_out_of_range);
  ids.push_back(n);
  check(tok->decode(ids).error() == autointerp::errc::token_out_of_range);
  std::vector<std::string> out;
  check(tok->decode_tokens(ids, out).error() == autointerp::errc::token_out_of_range && out.empty());
  return 0;
}
