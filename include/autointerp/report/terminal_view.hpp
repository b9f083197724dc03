#pragma once
// `autointerp show`: a latent's windows as text for a terminal, each token shaded by its activation,
// or marked with << >> when colours are off (pipes, files, NO_COLOR).

#include <autointerp/config.hpp>
#include <autointerp/report/colour.hpp>
#include <autointerp/report/latent_view.hpp>

#include <string>

namespace autointerp::report {

/// How `render_terminal` draws.
struct terminal_options {
  colour_mode colours = colour_mode::none;  ///< none: plain text with << >> around active runs
  bool header = true;                       ///< the summary lines above the windows
};

/// The latent as text: a header (module, latent, maximum activation, activation count and
/// frequency, number of windows, explanation and status when known, then one line per scorer with
/// scores: balanced accuracy, F1 and accuracy ("n/a" when undefined), the confusion counts and the
/// failed samples), then one line per window with its maximum. A view without scores prints no
/// score line. Token text goes through `visible_text`, so tokens can neither break lines nor
/// inject escapes. With colours, each active token's background is `activation_colour(a / max)`
/// (max = the latent's maximum); without, runs of consecutive active tokens sit inside one << >>
/// pair, as in delphi's prompts. Pure function.
AUTOINTERP_DECL std::string render_terminal(latent_view const& view, terminal_options const& options = {});

}  // namespace autointerp::report

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#include <autointerp/report/impl/terminal_view.ipp>
#endif
