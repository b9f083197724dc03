#pragma once

#include <autointerp/explain/parse_answer.hpp>

#include <cctype>
#include <cstddef>
#include <optional>
#include <vector>

namespace autointerp::explain {

namespace detail {

inline bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

inline char lower(char c) noexcept { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// Position just past "explanation" followed (after optional ']', '*', '_' and spaces) by ':' when
// the line holds such a marker.
inline std::optional<std::size_t> marker_end(std::string_view line) {
  static constexpr std::string_view word = "explanation";
  // The word must start the line's content (after markdown and an optional '[') to count as a marker,
  // so prose such as "my explanation: ..." in the middle of a sentence is not taken. Markdown
  // characters are not letters, so the only place the word can be is where the content starts
  // (looking for it further on made a line repeating "explanation" quadratic).
  std::size_t at = 0;
  for (; at < line.size(); ++at) {
    char const c = line[at];
    if (!(is_space(c) || c == '*' || c == '_' || c == '#' || c == '>' || c == '-' || c == '[' || c == '`' || c == '+'))
      break;
  }
  if (line.size() - at < word.size()) return std::nullopt;
  for (std::size_t k = 0; k < word.size(); ++k)
    if (lower(line[at + k]) != word[k]) return std::nullopt;
  std::size_t p = at + word.size();
  while (p < line.size() && (line[p] == ']' || line[p] == '*' || line[p] == '_' || line[p] == ' ' || line[p] == '`'))
    ++p;
  if (p < line.size() && line[p] == ':') {
    ++p;
    while (p < line.size() && (line[p] == '*' || line[p] == '_' || line[p] == '`')) ++p;  // "**Explanation:** x"
    return p;
  }
  return std::nullopt;
}

inline std::string clean(std::string_view s) {
  s = trim(s);
  // Markdown emphasis and code around the whole text, then matching quotes or a placeholder's <...>.
  for (bool changed = true; changed && !s.empty();) {
    changed = false;
    for (std::string_view wrap : {"**", "__", "`", "*", "_"}) {
      if (s.size() >= 2 * wrap.size() && s.substr(0, wrap.size()) == wrap && s.substr(s.size() - wrap.size()) == wrap) {
        s = trim(s.substr(wrap.size(), s.size() - 2 * wrap.size()));
        changed = true;
      }
    }
    if (s.size() >= 2 && ((s.front() == '"' && s.back() == '"') || (s.front() == '\'' && s.back() == '\'') ||
                          (s.front() == '<' && s.back() == '>' && s.find('>') == s.size() - 1))) {
      s = trim(s.substr(1, s.size() - 2));
      changed = true;
    }
    if (changed) continue;
    // A lone leading or trailing emphasis marker left by "**[EXPLANATION]:** text**". What it hid
    // may be wrapped in turn ("``**" is only code ticks), so the loop goes round again.
    std::size_t const before = s.size();
    while (s.size() >= 2 && s.substr(s.size() - 2) == "**") s = trim(s.substr(0, s.size() - 2));
    while (s.size() >= 2 && s.substr(0, 2) == "**") s = trim(s.substr(2));
    changed = s.size() != before;
  }
  return std::string(s);
}

}  // namespace detail

AUTOINTERP_DECL parsed_answer parse_answer(std::string_view answer) {
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start <= answer.size();) {
    std::size_t end = answer.find('\n', start);
    if (end == std::string_view::npos) end = answer.size();
    lines.push_back(answer.substr(start, end - start));
    start = end + 1;
  }
  parsed_answer out;
  for (std::size_t i = lines.size(); i-- > 0;) {
    auto end = detail::marker_end(lines[i]);
    if (!end) continue;
    std::string text = detail::clean(lines[i].substr(*end));
    for (std::size_t j = i + 1; text.empty() && j < lines.size(); ++j) {
      if (detail::marker_end(lines[j])) break;
      if (auto t = detail::trim(lines[j]); !t.empty() && t != "```") text = detail::clean(t);
    }
    if (!text.empty()) {
      out.parsed = true;
      out.explanation = std::move(text);
      return out;
    }
  }
  return out;
}

}  // namespace autointerp::explain
