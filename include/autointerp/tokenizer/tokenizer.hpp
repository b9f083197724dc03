#pragma once
// A Hugging Face tokenizer.json, loaded for decoding: token ids back to text, exactly as the
// `tokenizers` library's `decode` does.
//
// Per-token strings (what `decode([id])` returns for one id alone) are computed once at load time,
// so `decode_token` is a table lookup. Whole sequences run the decoder pipeline of the file
// (ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, WordPiece, BPEDecoder, CTC, Sequence).

#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/run_on.hpp>
#include <autointerp/tokenizer/detail/decoder_steps.hpp>

#include <boost/asio/deferred.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autointerp::tokenizer {

/// How to decode.
struct decode_options {
  /// Drop ids whose token is an added token marked `"special": true` (Hugging Face's
  /// `skip_special_tokens`). Default false: special tokens show as their text, like delphi.
  bool skip_special_tokens = false;
  /// Also apply transformers' `clean_up_tokenization` (" ." -> ".", " n't" -> "n't", ...), which
  /// transformers' `decode` does after the Rust decoder when the model's tokenizer_config.json sets
  /// `clean_up_tokenization_spaces` (Llama 3 does). Default false: the `tokenizers` library's output.
  bool clean_up_tokenization_spaces = false;
};

/// A loaded tokenizer.json. Immutable after loading: every member function is const and safe to
/// call from many threads at once. Cheap to move, expensive to copy.
class tokenizer {
 public:
  /// An empty tokenizer: `size() == 0`, every id is out of range.
  tokenizer() = default;

  /// Ids are `0 .. size()-1` (the model's vocabulary and the added tokens). Some ids inside the
  /// range may map to no token at all; they decode to "" (Hugging Face drops them silently).
  std::uint32_t size() const noexcept { return static_cast<std::uint32_t>(flags_.size()); }

  /// The model type of the file: "BPE", "Unigram", "WordPiece" or "WordLevel".
  std::string_view model_type() const noexcept { return model_type_; }

  /// Exactly what Hugging Face's `decode([id], skip_special_tokens)` returns for `id` alone (a cut
  /// UTF-8 sequence shows U+FFFD). A table lookup; the view lives as long as the tokenizer.
  /// Error: `errc::token_out_of_range` when `id >= size()`.
  result<std::string_view> decode_token(std::uint32_t id, decode_options options = {}) const noexcept {
    if (id >= flags_.size()) return out_of_range(id);
    return decode_token_unchecked(id, options);
  }

  /// `decode_token` for an id the caller has already checked (`id < size()`); no error path.
  std::string_view decode_token_unchecked(std::uint32_t id, decode_options options = {}) const noexcept {
    if (options.skip_special_tokens && (flags_[id] & special_flag)) return {};
    if (options.clean_up_tokenization_spaces && (flags_[id] & cleaned_flag)) return cleaned_text(id);
    return {text_.data() + text_offsets_[id], text_offsets_[id + 1] - text_offsets_[id]};
  }

  /// Per-token strings for a whole window, appended to `out` (one entry per id, in order).
  /// Error: `errc::token_out_of_range` naming the first bad id and its position; `out` is then
  /// left as it was.
  result<void> decode_tokens(std::span<std::uint32_t const> ids, std::vector<std::string>& out,
                             decode_options options = {}) const;

  /// Exactly what Hugging Face's `decode(ids, skip_special_tokens)` returns for the sequence.
  /// Error: `errc::token_out_of_range` for an id `>= size()` (Hugging Face would drop it silently;
  /// an id past the vocabulary means the cache and the tokenizer do not belong together).
  result<std::string> decode(std::span<std::uint32_t const> ids, decode_options options = {}) const;

  /// The vocabulary entry for `id` (e.g. "Ġthe", "▁the", "<0x0A>"), before any decoding;
  /// empty when the id maps to no token. Error: `errc::token_out_of_range`.
  result<std::string_view> id_to_token(std::uint32_t id) const noexcept {
    if (id >= flags_.size()) return out_of_range(id);
    return std::string_view{pieces_.data() + piece_offsets_[id], piece_offsets_[id + 1] - piece_offsets_[id]};
  }

  /// True when `id` is a special added token (what `skip_special_tokens` drops).
  bool is_special(std::uint32_t id) const noexcept { return id < flags_.size() && (flags_[id] & special_flag); }

  /// True when `id` maps to a token (model vocabulary or added token).
  bool has_token(std::uint32_t id) const noexcept { return id < flags_.size() && (flags_[id] & present_flag); }

 private:
  friend struct tokenizer_builder;
  static constexpr std::uint8_t present_flag = 1, special_flag = 2, cleaned_flag = 4;

  AUTOINTERP_DECL error out_of_range(std::uint32_t id) const;
  AUTOINTERP_DECL std::string_view cleaned_text(std::uint32_t id) const noexcept;

  std::string model_type_;
  std::string source_;                          ///< where it was loaded from, for messages
  bool has_decoder_ = false;                    ///< no decoder: tokens are joined with spaces
  std::vector<detail::decoder_step> steps_;
  std::vector<std::uint8_t> flags_;             ///< per id: present_flag | special_flag
  std::string pieces_;                          ///< raw tokens, concatenated
  std::vector<std::size_t> piece_offsets_;      ///< size() + 1 offsets into pieces_
  std::string text_;                            ///< per-token decoded strings, concatenated
  std::vector<std::size_t> text_offsets_;       ///< size() + 1 offsets into text_
  /// Per-token strings that clean_up_tokenization changes (few), sorted by id (cleaned_flag set).
  std::vector<std::pair<std::uint32_t, std::string>> cleaned_;
};

/// Parses the text of a tokenizer.json. `source` names it in error messages (a path, usually).
/// Errors: `errc::bad_tokenizer` (not JSON, truncated, a required key missing or of the wrong
/// type), `errc::unsupported_tokenizer` (a model type or decoder we do not implement, the message
/// naming the component; or a decoder of more than 256 steps, or whose steps could make text more
/// than 64 times longer, e.g. Replace steps that each double it). Thread-safe; pure CPU work
/// (about 0.1-0.5 s for a 128k vocabulary).
AUTOINTERP_DECL result<tokenizer> parse_tokenizer(std::string_view json, std::string_view source = "tokenizer.json");

/// Reads and parses a tokenizer.json file. Errors: `errc::file_not_found`, `errc::unreadable_file`,
/// and those of `parse_tokenizer`.
AUTOINTERP_DECL result<tokenizer> load_tokenizer(std::filesystem::path const& file);

/// `load_tokenizer` on the executor `cpu` (e.g. a thread pool). Handler signature
/// `void(error_code, tokenizer)`; completion on the handler's associated executor, else `cpu`;
/// `file` is copied; terminal cancellation before the work starts completes with
/// `errc::cancelled`; `diag` (optional) keeps the error's text. Thread-safe.
template <class Executor, class CompletionToken = boost::asio::deferred_t>
  requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
auto async_load_tokenizer(Executor const& cpu, std::filesystem::path const& file, CompletionToken&& token = {}) {
  return async_run_on(cpu, [file]() { return load_tokenizer(file); }, std::forward<CompletionToken>(token));
}
template <class Executor, class CompletionToken = boost::asio::deferred_t>
auto async_load_tokenizer(Executor const& cpu, std::filesystem::path const& file, diagnostics& diag,
                          CompletionToken&& token = {}) {
  return async_run_on(cpu, [file]() { return load_tokenizer(file); }, diag, std::forward<CompletionToken>(token));
}

}  // namespace autointerp::tokenizer

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/tokenizer/impl/tokenizer.ipp>
#endif
