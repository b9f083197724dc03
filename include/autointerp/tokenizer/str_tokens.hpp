#pragma once
// Per-token strings for latent records: every example window gets `str_tokens`, one string per
// token, exactly as Hugging Face decodes each id alone.

#include <autointerp/error.hpp>
#include <autointerp/records/latent_record.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>

#include <string>
#include <vector>

namespace autointerp::tokenizer {

/// Fills `str_tokens` of every train, test and non-activating example of `record` (replacing what
/// was there). Error: `errc::token_out_of_range` naming the id when a token is past the
/// vocabulary; the record is then left with the examples before the bad one filled.
/// Thread-safe for distinct records (the tokenizer is only read).
inline result<void> add_str_tokens(tokenizer const& tok, records::latent_record& record, decode_options options = {}) {
  auto const fill = [&](auto& examples, char const* which) -> result<void> {
    for (auto& e : examples) {
      std::vector<std::string> strings;
      if (auto r = tok.decode_tokens(e.tokens, strings, options); !r) {
        error err = r.error();
        err.message = std::string(which) + " example of latent " + std::to_string(record.latent.index) + ", " +
                      err.message;
        return err;
      }
      e.str_tokens = std::move(strings);
    }
    return {};
  };
  if (auto r = fill(record.train, "a train"); !r) return r;
  if (auto r = fill(record.test, "a test"); !r) return r;
  return fill(record.non_activating, "a non-activating");
}

}  // namespace autointerp::tokenizer
