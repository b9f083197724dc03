#pragma once
// A record as one line of JSON, in the schema of delphi's reference fixtures
// (shared/fixtures/delphi/README.md) and formatted the way Python's `json.dumps` formats it, so
// our output can be diffed against delphi's.

#include <autointerp/config.hpp>
#include <autointerp/records/latent_record.hpp>

#include <string>

namespace autointerp::records {

/// Appends `record` as one JSON object and a newline to `out`. Keys, in order: module, latent,
/// n_examples, per_token_frequency, per_context_frequency, examples_max_activation, train, test,
/// non_activating. Each example is {"tokens", ["str_tokens" when filled], "activations",
/// "normalized", "quantile"}; each non-activating example is its token list (plus nothing else,
/// as in the fixtures). Activations and maxima are rounded to 4 decimals; frequencies keep full
/// precision (shortest round-trip form). Non-finite numbers are written as null. Strings are
/// escaped like Python's `ensure_ascii` (\uXXXX); invalid UTF-8 becomes U+FFFD. Thread-safe.
AUTOINTERP_DECL void append_json_line(std::string& out, latent_record const& record);

/// `append_json_line` into a new string.
inline std::string to_json_line(latent_record const& record) {
  std::string s;
  append_json_line(s, record);
  return s;
}

namespace detail {
/// Python's `repr(float)` of `v`: shortest round-trip digits, fixed notation for exponents
/// -4..15, ".0" on integral values.
AUTOINTERP_DECL void append_python_float(std::string& out, double v);
/// Python's `repr(round(v, 4))`.
AUTOINTERP_DECL void append_rounded4(std::string& out, double v);
/// A JSON string literal, escaped like Python's json.dumps with ensure_ascii.
AUTOINTERP_DECL void append_json_string(std::string& out, std::string_view s);
}  // namespace detail

}  // namespace autointerp::records

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/records/impl/record_json.ipp>
#endif
