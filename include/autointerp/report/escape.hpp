#pragma once
// Making untrusted token text safe to show. Token strings come from a tokenizer and a dataset we do
// not control: they can hold '<', '&', quotes, ESC and other control characters, bidi overrides and
// invalid UTF-8 (a token may be half of a multi-byte character). Every view passes them through here.

#include <autointerp/config.hpp>

#include <string>
#include <string_view>

namespace autointerp::report {

/// `text` as valid UTF-8: each maximal ill-formed subsequence (stray continuation bytes, truncated
/// or overlong sequences, surrogates, code points past U+10FFFF) becomes one U+FFFD, as the WHATWG
/// decoder does. Valid input comes back unchanged. Pure function, thread-safe.
AUTOINTERP_DECL std::string sanitize_utf8(std::string_view text);

/// `text` (sanitized first) with every character that would act rather than show replaced by a
/// visible stand-in: line breaks become U+21B5 "↵", tabs U+21E5 "⇥", other C0 controls and DEL their
/// control pictures (ESC shows as "␛", so no escape sequence survives), C1 controls and bidi
/// embedding/override/isolate marks U+FFFD. Spaces are kept. This is what both views display.
AUTOINTERP_DECL std::string visible_text(std::string_view text);

/// `text` (sanitized first) for HTML element content or a quoted attribute value: & < > " ' become
/// entities and C0 controls other than tab, LF and CR become U+FFFD.
AUTOINTERP_DECL std::string html_escape(std::string_view text);

/// Appends `text` (sanitized first) as a JSON string literal that is also safe inside an HTML
/// <script> element: besides JSON's own escapes, < > & and U+2028/U+2029 are written as \uXXXX, so
/// the data can never close the script element or start a comment.
AUTOINTERP_DECL void append_json_string(std::string& out, std::string_view text);

}  // namespace autointerp::report

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#include <autointerp/report/impl/escape.ipp>
#endif
