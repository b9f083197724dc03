#pragma once
// The test fake's embedding model: a hashed bag of words, computed from the text alone, so tests
// know every vector the fake server sends.
//
// - Dimension: `fake_embedding_dimension` = 256.
// - Words: maximal runs of ASCII letters and digits, lowercased ("Don't stop, 2x!" has the words
//   "don", "t", "stop" and "2x"), and runs of two or more other printable ASCII bytes, such as the
//   operators ">>>" and "==" (so code tokens count; single punctuation marks and non-ASCII bytes
//   do not).
// - Queries: a text holding "Query:" is a query. Like instruction-tuned embedders the fake embeds
//   only what follows the last "Query:" (an instruction prefix, the embedding scorer's default,
//   is not content), and, like the fake LLM, it answers from the explanation's quoted token: when
//   that part holds double quotes, only the text from the first to the last one is embedded.
// - Hash: 64-bit FNV-1a of the word's bytes (offset basis 14695981039346656037, prime
//   1099511628211); each word adds 1 to dimension `fnv1a64(word) % 256`.
// - The vector is L2-normalised (computed in double, then rounded to float); a text without words
//   gives all zeros. Texts with the same words, in any order and case, get the same vector, and
//   the cosine of two vectors grows with the words they share.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace autointerp::testing {

inline constexpr std::size_t fake_embedding_dimension = 256;

/// 64-bit FNV-1a of `bytes`.
inline std::uint64_t fnv1a64(std::string_view bytes) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

/// The words of `text`: maximal runs of ASCII letters and digits, lowercased, and runs of two or
/// more other non-space bytes, in order.
inline std::vector<std::string> fake_embedding_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  std::string symbols;
  auto flush_symbols = [&] {
    if (symbols.size() >= 2) words.push_back(std::move(symbols));
    symbols.clear();
  };
  for (char c : text) {
    bool upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z', digit = c >= '0' && c <= '9';
    bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (upper || lower || digit) flush_symbols();
    else flush();
    if (upper) word += static_cast<char>(c - 'A' + 'a');
    else if (lower || digit) word += c;
    else if (space || static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) flush_symbols();
    else symbols += c;
  }
  flush();
  flush_symbols();
  return words;
}

/// The fake model's embedding of `text` (see the top of this file).
inline std::vector<float> fake_embedding(std::string_view text) {
  if (auto at = text.rfind("Query:"); at != std::string_view::npos) {
    text.remove_prefix(at + 6);
    auto const first = text.find('"'), last = text.rfind('"');
    if (first != std::string_view::npos && last > first) text = text.substr(first + 1, last - first - 1);
  }
  std::vector<double> counts(fake_embedding_dimension, 0.0);
  for (auto const& w : fake_embedding_words(text)) counts[fnv1a64(w) % fake_embedding_dimension] += 1;
  double norm = 0;
  for (double c : counts) norm += c * c;
  norm = std::sqrt(norm);
  std::vector<float> out(fake_embedding_dimension, 0.0f);
  if (norm > 0)
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(counts[i] / norm);
  return out;
}

}  // namespace autointerp::testing
