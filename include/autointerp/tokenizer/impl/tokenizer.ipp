#pragma once
// Out-of-line parts of tokenizer.hpp: the decoder components and the tokenizer.json reader.
// Each component follows the behaviour of Hugging Face tokenizers' decoders; the test suite
// checks every id and thousands of sequences against the `tokenizers` library itself.

#include <autointerp/tokenizer/tokenizer.hpp>
#include <autointerp/tokenizer/detail/utf8.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>

namespace autointerp::tokenizer {

namespace detail {

// Ids past this are refused: the id table is dense, and real vocabularies stay far below it.
inline constexpr std::uint64_t max_token_id = (std::uint64_t{1} << 24) - 1;

// Code point and length of the well-formed UTF-8 character at s[i] (tokens are always well-formed).
inline std::uint32_t code_point_at(std::string_view s, std::size_t i, std::size_t& len) noexcept {
  auto const b = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[k])); };
  len = utf8_sequence_length(s, i);
  switch (len) {
    case 1: return b(i);
    case 2: return ((b(i) & 0x1F) << 6) | (b(i + 1) & 0x3F);
    case 3: return ((b(i) & 0x0F) << 12) | ((b(i + 1) & 0x3F) << 6) | (b(i + 2) & 0x3F);
    case 4:
      return ((b(i) & 0x07) << 18) | ((b(i + 1) & 0x3F) << 12) | ((b(i + 2) & 0x3F) << 6) | (b(i + 3) & 0x3F);
    default: len = 1; return 0xFFFD;  // not reached for well-formed text; keeps the loop moving
  }
}

// GPT-2's byte-to-character table, inverted: printable Latin-1 bytes stand for themselves, the
// other 68 bytes were moved to U+0100.. in byte order. -1 marks characters outside the alphabet.
struct byte_level_table {
  std::array<std::int16_t, 0x144> byte_of{};
  byte_level_table() {
    byte_of.fill(-1);
    std::uint32_t next = 0x100;
    for (std::uint32_t b = 0; b < 256; ++b) {
      bool const printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      byte_of[printable ? b : next++] = static_cast<std::int16_t>(b);
    }
  }
};

// Every occurrence of `pattern` replaced by `with`, left to right without overlap. An empty pattern
// matches before every character and at the end (as Rust's str::replace does).
inline std::string replace_all(std::string_view s, std::string_view pattern, std::string_view with) {
  std::string out;
  out.reserve(s.size());
  if (pattern.empty()) {
    for (std::size_t i = 0; i < s.size();) {
      std::size_t len = 0;
      code_point_at(s, i, len);
      out.append(with);
      out.append(s.substr(i, len));
      i += len;
    }
    out.append(with);
    return out;
  }
  std::size_t pos = 0;
  for (;;) {
    std::size_t const hit = s.find(pattern, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(with);
    pos = hit + pattern.size();
  }
  out.append(s.substr(pos));
  return out;
}

inline void replace_in_place(std::string& s, std::string_view pattern, std::string_view with) {
  if (!pattern.empty() && s.find(pattern) == std::string::npos) return;
  s = replace_all(s, pattern, with);
}

// The spacing fixes of the WordPiece and CTC decoders, applied one after the other.
inline void wordpiece_cleanup(std::string& s) {
  static constexpr std::pair<std::string_view, std::string_view> rules[] = {
      {" .", "."},       {" ?", "?"},     {" !", "!"},   {" ,", ","},     {" ' ", "'"},   {" n't", "n't"},
      {" 'm", "'m"},     {" do not", " don't"},           {" 's", "'s"},   {" 've", "'ve"}, {" 're", "'re"}};
  for (auto const& [from, to] : rules) replace_in_place(s, from, to);
}

// "<0xHH>" -> the byte, as ByteFallback reads it (Rust's u8::from_str_radix also takes "+H").
inline std::optional<unsigned char> byte_token(std::string_view t) noexcept {
  if (t.size() != 6 || !t.starts_with("<0x") || t.back() != '>') return std::nullopt;
  auto const hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  int const hi = hex(t[3]), lo = hex(t[4]);
  if (t[3] == '+' && lo >= 0) return static_cast<unsigned char>(lo);
  if (hi < 0 || lo < 0) return std::nullopt;
  return static_cast<unsigned char>(hi * 16 + lo);
}

// transformers' clean_up_tokenization: the same fixes without " do not".
inline void transformers_cleanup(std::string& s) {
  static constexpr std::pair<std::string_view, std::string_view> rules[] = {
      {" .", "."},   {" ?", "?"},   {" !", "!"},   {" ,", ","},   {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (auto const& [from, to] : rules) replace_in_place(s, from, to);
}

inline void apply_step(byte_level_step const&, std::vector<std::string>& tokens) {
  static byte_level_table const table;
  std::string bytes;
  for (auto const& t : tokens) {
    std::size_t const mark = bytes.size();
    bool all_mapped = true;
    for (std::size_t i = 0; i < t.size();) {
      std::size_t len = 0;
      std::uint32_t const cp = code_point_at(t, i, len);
      std::int16_t const b = cp < table.byte_of.size() ? table.byte_of[cp] : std::int16_t{-1};
      if (b < 0) {
        all_mapped = false;
        break;
      }
      bytes.push_back(static_cast<char>(b));
      i += len;
    }
    if (!all_mapped) {  // a character outside the byte alphabet: the token keeps its own bytes
      bytes.resize(mark);
      bytes.append(t);
    }
  }
  std::string text;
  text.reserve(bytes.size());
  append_utf8_lossy(text, bytes);
  tokens.assign(1, std::move(text));
}

inline void apply_step(byte_fallback_step const&, std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  out.reserve(tokens.size());
  std::string pending;
  auto const flush = [&] {
    if (pending.empty()) return;
    if (is_valid_utf8(pending)) {
      out.push_back(pending);
    } else {
      for (std::size_t i = 0; i < pending.size(); ++i) out.emplace_back(replacement_character);
    }
    pending.clear();
  };
  for (auto& t : tokens) {
    if (auto b = byte_token(t)) {
      pending.push_back(static_cast<char>(*b));
    } else {
      flush();
      out.push_back(std::move(t));
    }
  }
  flush();
  tokens = std::move(out);
}

inline void apply_step(fuse_step const&, std::vector<std::string>& tokens) {
  std::string joined;
  for (auto const& t : tokens) joined += t;
  tokens.assign(1, std::move(joined));
}

inline void apply_step(metaspace_step const& s, std::vector<std::string>& tokens) {
  for (std::size_t i = 0; i < tokens.size(); ++i)
    replace_in_place(tokens[i], s.replacement, i == 0 && s.drop_in_first ? "" : " ");
}

inline void apply_step(strip_step const& s, std::vector<std::string>& tokens) {
  std::string_view const c = s.content;
  for (auto& t : tokens) {
    std::string_view v = t;
    for (std::size_t n = 0; n < s.start && !v.empty() && v.starts_with(c); ++n) v.remove_prefix(c.size());
    for (std::size_t n = 0; n < s.stop && !v.empty() && v.ends_with(c); ++n) v.remove_suffix(c.size());
    if (v.size() != t.size()) t = std::string(v);
  }
}

inline void apply_step(replace_step const& s, std::vector<std::string>& tokens) {
  for (auto& t : tokens) replace_in_place(t, s.pattern, s.content);
}

inline void apply_step(wordpiece_step const& s, std::vector<std::string>& tokens) {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    auto& t = tokens[i];
    if (i != 0) {
      if (t.starts_with(s.prefix)) t.erase(0, s.prefix.size());
      else t.insert(0, 1, ' ');
    }
    if (s.cleanup) wordpiece_cleanup(t);
  }
}

inline void apply_step(bpe_suffix_step const& s, std::vector<std::string>& tokens) {
  for (std::size_t i = 0; i < tokens.size(); ++i)
    replace_in_place(tokens[i], s.suffix, i + 1 == tokens.size() ? "" : " ");
}

inline void apply_step(ctc_step const& s, std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0 && tokens[i] == tokens[i - 1]) continue;  // repeated frames collapse to one
    std::string t = replace_all(tokens[i], s.pad_token, "");
    if (s.cleanup) {
      wordpiece_cleanup(t);
      replace_in_place(t, s.word_delimiter_token, " ");
    }
    if (!t.empty()) out.push_back(std::move(t));
  }
  tokens = std::move(out);
}

AUTOINTERP_DECL void apply_decoder_steps(std::vector<decoder_step> const& steps, std::vector<std::string>& tokens) {
  for (auto const& step : steps) std::visit([&](auto const& s) { apply_step(s, tokens); }, step);
}

// How many times longer a step can make its text, at most. Steps that insert text compound: each
// Replace of "a" by "aa" doubles it, so 40 of them in a 2 KB file would ask for 2^40 bytes per token.
inline double expansion_bound(decoder_step const& step) noexcept {
  auto const inserting = [](std::string_view pattern, std::string_view with) {
    if (pattern.empty()) return 1.0 + static_cast<double>(with.size());  // `with` before every character
    return std::max(1.0, static_cast<double>(with.size()) / static_cast<double>(pattern.size()));
  };
  if (auto const* r = std::get_if<replace_step>(&step)) return inserting(r->pattern, r->content);
  if (auto const* b = std::get_if<bpe_suffix_step>(&step)) return inserting(b->suffix, " ");
  if (auto const* c = std::get_if<ctc_step>(&step)) return c->cleanup ? inserting(c->word_delimiter_token, " ") : 1.0;
  if (std::holds_alternative<byte_level_step>(step)) return 1.5;  // a 2-byte character -> a lone byte -> U+FFFD
  return 1.0;  // the others only remove text, or add one space per token
}

// Refused above these: no real tokenizer comes close (Llama's and Gemma's decoders shorten text,
// BERT's adds one space per token), and they bound the work and memory of loading a file.
inline constexpr double max_decoder_expansion = 64;
inline constexpr std::size_t max_decoder_steps = 256;

}  // namespace detail

AUTOINTERP_DECL error tokenizer::out_of_range(std::uint32_t id) const {
  return make_error(errc::token_out_of_range,
                    "token id " + std::to_string(id) + " is past the vocabulary of " + source_ + " (" +
                        std::to_string(flags_.size()) +
                        " ids); the cache was probably built with another tokenizer: pass the model's own "
                        "tokenizer.json");
}

AUTOINTERP_DECL std::string_view tokenizer::cleaned_text(std::uint32_t id) const noexcept {
  auto it = std::lower_bound(cleaned_.begin(), cleaned_.end(), id,
                             [](auto const& entry, std::uint32_t key) { return entry.first < key; });
  if (it == cleaned_.end() || it->first != id) return {};  // not reached: cleaned_flag marks entries
  return it->second;
}

AUTOINTERP_DECL result<void> tokenizer::decode_tokens(std::span<std::uint32_t const> ids,
                                                      std::vector<std::string>& out,
                                                      decode_options options) const {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= flags_.size()) {
      error e = out_of_range(ids[i]);
      e.message = "at position " + std::to_string(i) + ": " + e.message;
      return e;
    }
  }
  out.reserve(out.size() + ids.size());
  for (std::uint32_t id : ids) out.emplace_back(decode_token_unchecked(id, options));
  return {};
}

AUTOINTERP_DECL result<std::string> tokenizer::decode(std::span<std::uint32_t const> ids,
                                                      decode_options options) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::uint32_t const id = ids[i];
    if (id >= flags_.size()) {
      error e = out_of_range(id);
      e.message = "at position " + std::to_string(i) + ": " + e.message;
      return e;
    }
    std::uint8_t const f = flags_[id];
    if (!(f & present_flag)) continue;  // Hugging Face drops ids that map to no token
    if (options.skip_special_tokens && (f & special_flag)) continue;
    tokens.emplace_back(pieces_.data() + piece_offsets_[id], piece_offsets_[id + 1] - piece_offsets_[id]);
  }
  std::string text;
  if (!has_decoder_) {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (i) text += ' ';
      text += tokens[i];
    }
  } else {
    detail::apply_decoder_steps(steps_, tokens);
    for (auto const& t : tokens) text += t;
  }
  if (options.clean_up_tokenization_spaces) detail::transformers_cleanup(text);
  return text;
}

// Builds a tokenizer from the parsed JSON; a friend of `tokenizer`.
struct tokenizer_builder {
  std::string_view source;
  tokenizer tok;

  error bad(std::string const& what) const {
    return make_error(errc::bad_tokenizer, std::string(source) + ": " + what +
                                               "; the file is damaged or not a Hugging Face tokenizer.json, "
                                               "download it again");
  }
  error unsupported(std::string const& what, std::string_view supported) const {
    return make_error(errc::unsupported_tokenizer, std::string(source) + ": " + what +
                                                       " is not supported by autointerp (supported: " +
                                                       std::string(supported) + ")");
  }

  // A string member; `fallback` when absent or null, an error when of another type.
  result<std::string> text(boost::json::object const& o, std::string_view key, std::string const& where,
                           std::optional<std::string> fallback) const {
    auto const* v = o.if_contains(key);
    if (!v || v->is_null()) {
      if (fallback) return *fallback;
      return bad(where + "." + std::string(key) + " is missing");
    }
    if (!v->is_string()) return bad(where + "." + std::string(key) + " is not a string");
    return std::string(v->get_string());
  }
  result<bool> flag(boost::json::object const& o, std::string_view key, std::string const& where, bool fallback) const {
    auto const* v = o.if_contains(key);
    if (!v || v->is_null()) return fallback;
    if (!v->is_bool()) return bad(where + "." + std::string(key) + " is not true or false");
    return v->get_bool();
  }
  result<std::size_t> count(boost::json::object const& o, std::string_view key, std::string const& where,
                            std::size_t fallback) const {
    auto const* v = o.if_contains(key);
    if (!v || v->is_null()) return fallback;
    if (v->is_uint64()) return static_cast<std::size_t>(v->get_uint64());
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::size_t>(v->get_int64());
    return bad(where + "." + std::string(key) + " is not a non-negative integer");
  }
  result<std::string> one_char(boost::json::object const& o, std::string_view key, std::string const& where,
                               std::optional<std::string> fallback) const {
    auto t = text(o, key, where, std::move(fallback));
    if (!t) return t;
    if (detail::single_code_point(*t) < 0) return bad(where + "." + std::string(key) + " must be one character");
    return t;
  }

  static constexpr std::string_view supported_decoders =
      "ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, WordPiece, BPEDecoder, CTC, Sequence";

  result<void> add_decoder(boost::json::value const& v, std::string const& where) {
    if (!v.is_object()) return bad(where + " is not an object");
    auto const& o = v.get_object();
    auto const* type_v = o.if_contains("type");
    if (!type_v || !type_v->is_string()) return bad(where + " has no \"type\"");
    std::string_view const type = type_v->get_string();
    if (type == "Sequence") {
      auto const* list = o.if_contains("decoders");
      if (!list || !list->is_array()) return bad(where + ".decoders is missing or not a list");
      std::size_t i = 0;
      for (auto const& d : list->get_array()) {
        if (auto r = add_decoder(d, where + ".decoders[" + std::to_string(i++) + "]"); !r) return r;
      }
      return {};
    }
    if (type == "ByteLevel") {
      tok.steps_.emplace_back(detail::byte_level_step{});
    } else if (type == "ByteFallback") {
      tok.steps_.emplace_back(detail::byte_fallback_step{});
    } else if (type == "Fuse") {
      tok.steps_.emplace_back(detail::fuse_step{});
    } else if (type == "Metaspace") {
      detail::metaspace_step step;
      auto rep = one_char(o, "replacement", where, std::string("\xE2\x96\x81"));
      if (!rep) return rep.error();
      step.replacement = std::move(*rep);
      if (auto const* scheme = o.if_contains("prepend_scheme"); scheme && !scheme->is_null()) {
        if (!scheme->is_string()) return bad(where + ".prepend_scheme is not a string");
        std::string_view const s = scheme->get_string();
        if (s != "always" && s != "first" && s != "never")
          return unsupported(where + ".prepend_scheme \"" + std::string(s) + "\"", "always, first, never");
        step.drop_in_first = s != "never";
      } else {  // files written before prepend_scheme existed say add_prefix_space
        auto add = flag(o, "add_prefix_space", where, true);
        if (!add) return add.error();
        step.drop_in_first = *add;
      }
      tok.steps_.emplace_back(std::move(step));
    } else if (type == "Strip") {
      detail::strip_step step;
      auto c = one_char(o, "content", where, std::string(" "));
      auto start = count(o, "start", where, 0);
      auto stop = count(o, "stop", where, 0);
      if (!c) return c.error();
      if (!start) return start.error();
      if (!stop) return stop.error();
      step.content = std::move(*c);
      step.start = *start;
      step.stop = *stop;
      tok.steps_.emplace_back(std::move(step));
    } else if (type == "Replace") {
      detail::replace_step step;
      auto const* pattern = o.if_contains("pattern");
      if (!pattern || !pattern->is_object()) return bad(where + ".pattern is missing or not an object");
      auto const& po = pattern->get_object();
      if (auto const* str = po.if_contains("String"); str && str->is_string()) {
        step.pattern = std::string(str->get_string());
      } else if (auto const* re = po.if_contains("Regex"); re && re->is_string()) {
        std::string_view const r = re->get_string();
        // A regex without metacharacters matches itself: treat it as a literal.
        if (r.empty() || r.find_first_of("\\.^$|?*+()[]{}") != std::string_view::npos)
          return unsupported(where + " (Replace decoder with the regex pattern \"" + std::string(r) + "\")",
                             "Replace with a String pattern or a regex without metacharacters");
        step.pattern = std::string(r);
      } else {
        return bad(where + ".pattern has neither \"String\" nor \"Regex\"");
      }
      auto content = text(o, "content", where, std::nullopt);
      if (!content) return content.error();
      step.content = std::move(*content);
      tok.steps_.emplace_back(std::move(step));
    } else if (type == "WordPiece") {
      detail::wordpiece_step step;
      auto prefix = text(o, "prefix", where, std::string("##"));
      auto cleanup = flag(o, "cleanup", where, true);
      if (!prefix) return prefix.error();
      if (!cleanup) return cleanup.error();
      step.prefix = std::move(*prefix);
      step.cleanup = *cleanup;
      tok.steps_.emplace_back(std::move(step));
    } else if (type == "BPEDecoder") {
      auto suffix = text(o, "suffix", where, std::string("</w>"));
      if (!suffix) return suffix.error();
      tok.steps_.emplace_back(detail::bpe_suffix_step{std::move(*suffix)});
    } else if (type == "CTC") {
      detail::ctc_step step;
      auto pad = text(o, "pad_token", where, std::string("<pad>"));
      auto delim = text(o, "word_delimiter_token", where, std::string("|"));
      auto cleanup = flag(o, "cleanup", where, true);
      if (!pad) return pad.error();
      if (!delim) return delim.error();
      if (!cleanup) return cleanup.error();
      step.pad_token = std::move(*pad);
      step.word_delimiter_token = std::move(*delim);
      step.cleanup = *cleanup;
      tok.steps_.emplace_back(std::move(step));
    } else {
      return unsupported(where + " type \"" + std::string(type) + "\"", supported_decoders);
    }
    return {};
  }

  // Checked before any token is decoded: a decoder whose steps could lengthen text without bound
  // (or that has absurdly many steps) is refused instead of exhausting memory or time.
  result<void> check_decoder_bounds() const {
    if (tok.steps_.size() > detail::max_decoder_steps)
      return unsupported("a decoder with " + std::to_string(tok.steps_.size()) + " steps",
                         "at most " + std::to_string(detail::max_decoder_steps) + " steps");
    double expansion = 1;
    for (auto const& step : tok.steps_) {
      expansion *= detail::expansion_bound(step);
      if (expansion > detail::max_decoder_expansion)
        return unsupported("a decoder whose Replace, BPEDecoder or CTC steps can make text more than " +
                               std::to_string(static_cast<int>(detail::max_decoder_expansion)) + " times longer",
                           "decoders that lengthen text at most that much");
    }
    return {};
  }

  // The model's id -> token table; `model_size` is what Hugging Face calls the vocabulary size
  // (the number of entries), which decides the ids given to new added tokens.
  result<void> read_model(boost::json::object const& model, std::vector<std::string_view>& by_id,
                          std::uint64_t& model_size,
                          std::unordered_map<std::string_view, std::uint32_t>& unigram_ids) {
    std::string_view type;
    if (auto const* t = model.if_contains("type"); t && t->is_string()) {
      type = t->get_string();
    } else {  // very old files have no type: guess as Hugging Face's untagged reader does
      auto const* vocab = model.if_contains("vocab");
      if (model.contains("merges")) type = "BPE";
      else if (vocab && vocab->is_array()) type = "Unigram";
      else if (model.contains("continuing_subword_prefix") || model.contains("max_input_chars_per_word")) type = "WordPiece";
      else type = "WordLevel";
    }
    tok.model_type_ = std::string(type);
    auto const* vocab = model.if_contains("vocab");
    if (type == "BPE" || type == "WordPiece" || type == "WordLevel") {
      if (!vocab || !vocab->is_object()) return bad("model.vocab is missing or not an object of token: id");
      auto const& vo = vocab->get_object();
      model_size = vo.size();
      for (auto const& kv : vo) {
        auto const& idv = kv.value();
        std::uint64_t id = 0;
        if (idv.is_uint64()) id = idv.get_uint64();
        else if (idv.is_int64() && idv.get_int64() >= 0) id = static_cast<std::uint64_t>(idv.get_int64());
        else return bad("model.vocab[\"" + std::string(kv.key()) + "\"] is not a token id");
        if (id > detail::max_token_id)
          return bad("model.vocab[\"" + std::string(kv.key()) + "\"] has the id " + std::to_string(id) +
                     ", past the limit of " + std::to_string(detail::max_token_id));
        if (id >= by_id.size()) by_id.resize(id + 1);
        by_id[id] = kv.key();
      }
      return {};
    }
    if (type == "Unigram") {
      if (!vocab || !vocab->is_array()) return bad("model.vocab is missing or not a list of [piece, score]");
      auto const& va = vocab->get_array();
      if (va.size() > detail::max_token_id + 1) return bad("model.vocab has more entries than autointerp accepts");
      model_size = va.size();
      by_id.resize(va.size());
      for (std::size_t i = 0; i < va.size(); ++i) {
        auto const* entry = va[i].if_array();
        if (!entry || entry->empty() || !(*entry)[0].is_string())
          return bad("model.vocab[" + std::to_string(i) + "] is not [piece, score]");
        by_id[i] = (*entry)[0].get_string();
        unigram_ids[by_id[i]] = static_cast<std::uint32_t>(i);  // later duplicates win, as in Hugging Face
      }
      return {};
    }
    return unsupported("model type \"" + std::string(type) + "\"", "BPE, Unigram, WordPiece, WordLevel");
  }

  result<tokenizer> build(boost::json::value const& root) {
    tok.source_ = std::string(source);
    if (!root.is_object()) return bad("the top level is not a JSON object");
    auto const& top = root.get_object();
    auto const* model_v = top.if_contains("model");
    if (!model_v || !model_v->is_object()) return bad("\"model\" is missing or not an object");
    auto const& model = model_v->get_object();

    std::vector<std::string_view> by_id;  // views into the JSON document
    std::vector<std::uint8_t> present;
    std::uint64_t model_size = 0;
    std::unordered_map<std::string_view, std::uint32_t> unigram_ids;
    if (auto r = read_model(model, by_id, model_size, unigram_ids); !r) return r.error();
    present.assign(by_id.size(), 0);
    if (tok.model_type_ == "Unigram") {
      std::fill(present.begin(), present.end(), 1);
    } else {
      for (auto const& kv : model.at("vocab").get_object()) present[kv.value().to_number<std::uint64_t>()] = 1;
    }
    auto const model_id = [&](std::string_view content) -> std::optional<std::uint32_t> {
      if (tok.model_type_ == "Unigram") {
        auto it = unigram_ids.find(content);
        if (it == unigram_ids.end()) return std::nullopt;
        return it->second;
      }
      auto const* v = model.at("vocab").get_object().if_contains(content);
      if (!v) return std::nullopt;
      return static_cast<std::uint32_t>(v->to_number<std::uint64_t>());
    };

    // Added tokens get their ids the way Hugging Face assigns them when it loads the file (the
    // "id" written in the file is not used): an existing token keeps its id, a new one gets the
    // next id after the model vocabulary and the added tokens so far.
    std::unordered_map<std::string_view, std::uint32_t> added;
    std::unordered_set<std::string_view> special;
    std::vector<std::pair<std::uint32_t, std::string_view>> added_by_id;
    std::optional<std::uint64_t> max_added;
    if (auto const* list = top.if_contains("added_tokens"); list && !list->is_null()) {
      if (!list->is_array()) return bad("\"added_tokens\" is not a list");
      std::size_t i = 0;
      for (auto const& at : list->get_array()) {
        std::string const where = "added_tokens[" + std::to_string(i++) + "]";
        if (!at.is_object()) return bad(where + " is not an object");
        auto const* content_v = at.get_object().if_contains("content");
        if (!content_v || !content_v->is_string()) return bad(where + ".content is missing or not a string");
        std::string_view const content = content_v->get_string();
        auto is_special = flag(at.get_object(), "special", where, false);
        if (!is_special) return is_special.error();
        if (content.empty()) continue;  // Hugging Face ignores empty added tokens
        if (*is_special) special.insert(content);
        if (added.contains(content)) continue;
        std::uint64_t id = 0;
        if (auto m = model_id(content)) {
          id = *m;
        } else if (!max_added) {
          id = model_size;
        } else {
          id = (*max_added >= model_size || model_size == 0) ? *max_added + 1 : model_size;
        }
        if (id > detail::max_token_id) return bad(where + " would get an id past " + std::to_string(detail::max_token_id));
        max_added = max_added ? std::max(*max_added, id) : id;
        added.emplace(content, static_cast<std::uint32_t>(id));
        added_by_id.emplace_back(static_cast<std::uint32_t>(id), content);
      }
    }
    for (auto const& [id, content] : added_by_id) {
      if (id >= by_id.size()) {
        by_id.resize(id + 1);
        present.resize(id + 1, 0);
      }
      by_id[id] = content;  // added tokens take precedence over the model's entry
      present[id] = 1;
    }

    if (auto const* dec = top.if_contains("decoder"); dec && !dec->is_null()) {
      tok.has_decoder_ = true;
      if (auto r = add_decoder(*dec, "decoder"); !r) return r.error();
      if (auto r = check_decoder_bounds(); !r) return r.error();
    }

    std::size_t const n = by_id.size();
    tok.flags_.assign(n, 0);
    tok.piece_offsets_.assign(n + 1, 0);
    tok.text_offsets_.assign(n + 1, 0);
    std::vector<std::string> one;
    for (std::size_t id = 0; id < n; ++id) {
      tok.piece_offsets_[id] = tok.pieces_.size();
      tok.text_offsets_[id] = tok.text_.size();
      if (!present[id]) continue;
      std::string_view const piece = by_id[id];
      tok.flags_[id] = tokenizer::present_flag | (special.contains(piece) ? tokenizer::special_flag : 0);
      tok.pieces_.append(piece);
      one.assign(1, std::string(piece));
      if (tok.has_decoder_) detail::apply_decoder_steps(tok.steps_, one);
      std::size_t const start = tok.text_.size();
      for (auto const& t : one) tok.text_ += t;
      std::string cleaned = tok.text_.substr(start);
      detail::transformers_cleanup(cleaned);
      if (cleaned.size() != tok.text_.size() - start) {  // the fixes only ever shorten the text
        tok.flags_[id] |= tokenizer::cleaned_flag;
        tok.cleaned_.emplace_back(static_cast<std::uint32_t>(id), std::move(cleaned));
      }
    }
    tok.piece_offsets_[n] = tok.pieces_.size();
    tok.text_offsets_[n] = tok.text_.size();
    return std::move(tok);
  }
};

AUTOINTERP_DECL result<tokenizer> parse_tokenizer(std::string_view json, std::string_view source) {
  boost::json::monotonic_resource memory;
  boost::json::parse_options options;
  options.max_depth = 64;
  boost::system::error_code ec;
  boost::json::value const root = boost::json::parse(json, ec, &memory, options);
  if (ec) {
    return make_error(errc::bad_tokenizer, std::string(source) + " is not valid JSON (" + ec.message() +
                                               "); it may be truncated: download it again");
  }
  tokenizer_builder builder{source, {}};
  return builder.build(root);
}

AUTOINTERP_DECL result<tokenizer> load_tokenizer(std::filesystem::path const& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    return make_error(errc::file_not_found, "tokenizer file " + file.string() + " does not exist");
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(errc::unreadable_file, "cannot open tokenizer file " + file.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return make_error(errc::unreadable_file, "cannot read tokenizer file " + file.string());
  return parse_tokenizer(text, file.string());
}

}  // namespace autointerp::tokenizer
