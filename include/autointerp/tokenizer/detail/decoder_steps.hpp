#pragma once
// The decoder components of a tokenizer.json, as plain data. A "Sequence" decoder is flattened
// into the list of its parts: applying them in order is what the Sequence does.

#include <autointerp/config.hpp>

#include <cstddef>
#include <string>
#include <variant>
#include <vector>

namespace autointerp::tokenizer::detail {

struct byte_level_step {};      ///< byte-level characters back to bytes; joins everything into one token
struct byte_fallback_step {};   ///< runs of <0xHH> tokens back to bytes
struct fuse_step {};            ///< joins everything into one token
struct metaspace_step {
  std::string replacement;      ///< one character, usually U+2581
  bool drop_in_first = true;    ///< prepend_scheme is not "never": the first token loses them all
};
struct strip_step {
  std::string content;          ///< one character
  std::size_t start = 0, stop = 0;
};
struct replace_step {
  std::string pattern, content;  ///< literal pattern, every occurrence
};
struct wordpiece_step {
  std::string prefix = "##";
  bool cleanup = true;
};
struct bpe_suffix_step {
  std::string suffix = "</w>";
};
struct ctc_step {
  std::string pad_token = "<pad>", word_delimiter_token = "|";
  bool cleanup = true;
};

using decoder_step = std::variant<byte_level_step, byte_fallback_step, fuse_step, metaspace_step, strip_step,
                                  replace_step, wordpiece_step, bpe_suffix_step, ctc_step>;

/// Runs `steps` on `tokens` in place (each step maps a token list to a token list).
AUTOINTERP_DECL void apply_decoder_steps(std::vector<decoder_step> const& steps, std::vector<std::string>& tokens);

}  // namespace autointerp::tokenizer::detail
