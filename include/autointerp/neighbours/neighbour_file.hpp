#pragma once
// Writing delphi's neighbour file, `<dir>/<module>-<type>.json`: one flat JSON object keyed by the
// latent as a string, `{"<latent>": [[score, neighbour], ...], ...}`, best first, as Python's
// `json.dump` writes it (", " and ": " separators, each score the shortest text of the float32
// value widened to double, as Python's repr gives it). `records::parse_neighbours` and delphi
// read it back.
//
// One difference, on purpose: delphi writes a bare `NaN` (not valid JSON) for latents that never
// fire; we write `[]` for them, and for latents whose weight rows are NaN or zero. Every latent of
// the module has a key.

#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/neighbours/neighbour_lists.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace autointerp::neighbours {

/// `v` as Python's `repr(float)` writes it: shortest round-trip digits, `1.0` for integers,
/// exponent form (`1e-05`, `1.5e+16`) below 1e-4 and from 1e16. Pure.
AUTOINTERP_DECL std::string python_float_repr(double v);

/// The file's text. Pure, thread-safe.
AUTOINTERP_DECL std::string format_neighbour_json(neighbour_lists const& lists);

/// `<dir>/<module>-<type>.json` (`records::neighbour_file`), the name delphi gives it.
AUTOINTERP_DECL std::filesystem::path neighbour_file_path(std::filesystem::path const& dir, std::string const& module,
                                                          method m);

/// Writes the file atomically (a temporary in `dir`, then a rename; `dir` is created when missing)
/// and returns its path. Errors: `errc::write_failed` naming the file and the reason. Thread-safe
/// for distinct files.
AUTOINTERP_DECL result<std::filesystem::path> write_neighbour_file(std::filesystem::path const& dir,
                                                                   std::string const& module, method m,
                                                                   neighbour_lists const& lists);

}  // namespace autointerp::neighbours

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  include <autointerp/neighbours/impl/neighbour_file.ipp>
#endif
