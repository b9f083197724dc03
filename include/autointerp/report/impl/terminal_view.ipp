#pragma once
// Out-of-line part of report/terminal_view.hpp.

#include <autointerp/report/escape.hpp>
#include <autointerp/report/terminal_view.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>

namespace autointerp::report {

namespace detail {
inline std::string format_number(double v, char const* fmt) {
  char buf[48];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// Characters of valid UTF-8 text (what `visible_text` returns): its bytes that start one.
inline std::size_t utf8_length(std::string const& s) noexcept {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// "detection: balanced accuracy 0.950, F1 0.947, accuracy 0.950  TP 48 TN 47 FP 3 FN 2  failed 0";
// for the other scorers their own figure: "simulation: correlation 0.912, R^2 0.803  failed 0".
// (`width`: the scorer names are padded to it, so the figures line up.)
template <class Bold>
std::string score_line(scorer_figures const& sc, std::size_t width, Bold const& bold) {
  std::string const name = visible_text(sc.scorer);
  std::size_t const length = utf8_length(name);
  std::string out = bold(name + ":") + std::string(width > length ? width - length : 0, ' ');
  if (!sc.error.empty()) return out + " unreadable score file: " + visible_text(sc.error) + "\n";
  auto figure = [](std::optional<double> v) { return v ? format_number(*v, "%.3f") : std::string("n/a"); };
  if (!sc.classifier()) {
    out += " " + sc.headline_name + " " + figure(sc.headline);
    if (sc.rsquared) out += ", R^2 " + figure(sc.rsquared);
    return out + "  failed " + std::to_string(sc.failed) + "\n";
  }
  auto const& m = sc.metrics;
  auto const& c = m.counts;
  out += " balanced accuracy " + figure(m.balanced_accuracy) + ", F1 " + figure(m.f1) + ", accuracy " +
         figure(sc.accuracy);
  out += "  TP " + std::to_string(c.true_positives) + " TN " + std::to_string(c.true_negatives) + " FP " +
         std::to_string(c.false_positives) + " FN " + std::to_string(c.false_negatives);
  out += "  failed " + std::to_string(c.failed) + "\n";
  return out;
}

}  // namespace detail

AUTOINTERP_DECL std::string render_terminal(latent_view const& view, terminal_options const& options) {
  std::string out;
  bool colour = options.colours != colour_mode::none;
  auto bold = [&](std::string const& s) { return colour ? "\x1b[1m" + s + std::string(ansi_reset) : s; };
  if (options.header) {
    out += bold(visible_text(view.latent.module) + " latent " + std::to_string(view.latent.index));
    out += "  max " + detail::format_number(view.max_activation, "%.4g");
    out += "  " + std::to_string(view.n_activations) + " activations (" +
           detail::format_number(view.frequency * 100, "%.3g") + "% of tokens)";
    out += "  " + std::to_string(view.n_windows) + " windows\n";
    if (!view.explanation.empty() || !view.status.empty()) {
      out += "explanation: ";
      out += view.explanation.empty() ? std::string("(none)") : visible_text(view.explanation);
      if (!view.status.empty()) out += "  [" + visible_text(view.status) + "]";
      out += '\n';
    }
    std::size_t width = 0;
    for (auto const& sc : view.scores) width = std::max(width, detail::utf8_length(visible_text(sc.scorer)));
    for (auto const& sc : view.scores) out += detail::score_line(sc, width, bold);
    if (view.windows.empty()) out += "no activating windows\n";
  }
  std::size_t number_width = std::to_string(view.windows.size()).size();
  for (std::size_t w = 0; w < view.windows.size(); ++w) {
    auto const& win = view.windows[w];
    float wmax = 0;
    for (float a : win.activations) wmax = std::max(wmax, a);
    std::string label = std::to_string(w + 1);
    out += std::string(number_width - label.size(), ' ') + label + "  " + detail::format_number(wmax, "%7.3f") + "  ";
    bool open = false;
    for (std::size_t i = 0; i < win.tokens.size(); ++i) {
      float a = i < win.activations.size() ? win.activations[i] : 0.0f;
      bool active = a > 0;
      std::string text = visible_text(win.tokens[i]);
      if (colour) {
        if (active && view.max_activation > 0) {
          out += ansi_highlight(activation_colour(a / view.max_activation), options.colours);
          out += text;
          out += ansi_reset;
        } else {
          out += text;
        }
      } else {
        if (active && !open) out += "<<";
        if (!active && open) out += ">>";
        open = active;
        out += text;
      }
    }
    if (open) out += ">>";
    out += '\n';
  }
  return out;
}

}  // namespace autointerp::report
