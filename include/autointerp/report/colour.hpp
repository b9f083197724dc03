#pragma once
// How an activation becomes a colour, in the terminal and in the HTML report alike: one ramp from
// pale yellow (weak) to deep red (the latent's maximum), and the ANSI escapes that paint it.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace autointerp::report {

/// A 24-bit colour.
struct rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(rgb, rgb) = default;
};

/// How a terminal can show colour.
enum class colour_mode : std::uint8_t {
  none,        ///< no escapes at all: activations are marked with << >> instead
  ansi256,     ///< xterm's 256-colour palette (ESC[48;5;Nm)
  truecolour,  ///< 24-bit colour (ESC[48;2;R;G;Bm)
};

/// The colour of an activation that is `fraction` of the latent's maximum. Fractions are clamped to
/// [0, 1] (NaN counts as 0); every fraction above 0 gets a visible tint, so weak activations are
/// not lost. Pure function, thread-safe.
inline rgb activation_colour(float fraction) noexcept {
  if (!(fraction > 0)) fraction = 0;  // also catches NaN
  fraction = std::min(fraction, 1.0f);
  // Three stops: weak, middle, strongest. Linear between them.
  constexpr std::array<rgb, 3> stops{rgb{255, 240, 190}, rgb{253, 160, 70}, rgb{200, 25, 30}};
  float x = fraction * 2;
  std::size_t i = x >= 1 ? 1 : 0;
  float t = x - static_cast<float>(i);
  auto mix = [t](std::uint8_t a, std::uint8_t b) {
    return static_cast<std::uint8_t>(std::lround(static_cast<float>(a) + (static_cast<float>(b) - a) * t));
  };
  return {mix(stops[i].r, stops[i + 1].r), mix(stops[i].g, stops[i + 1].g), mix(stops[i].b, stops[i + 1].b)};
}

/// Black or white, whichever reads better on `background` (WCAG relative luminance).
inline rgb readable_foreground(rgb background) noexcept {
  auto lin = [](std::uint8_t c) {
    double s = c / 255.0;
    return s <= 0.04045 ? s / 12.92 : std::pow((s + 0.055) / 1.055, 2.4);
  };
  double l = 0.2126 * lin(background.r) + 0.7152 * lin(background.g) + 0.0722 * lin(background.b);
  // Contrast with black is (l + 0.05) / 0.05, with white 1.05 / (l + 0.05); equal at l ~= 0.179.
  return l > 0.179 ? rgb{0, 0, 0} : rgb{255, 255, 255};
}

/// The xterm 256-colour index nearest to `c`: the 6x6x6 cube (16..231) or the grey ramp (232..255),
/// whichever is closer in RGB distance. Pure function.
inline std::uint8_t nearest_ansi256(rgb c) noexcept {
  constexpr std::array<int, 6> levels{0, 95, 135, 175, 215, 255};
  auto nearest_level = [&](int v) {
    int best = 0;
    for (int i = 1; i < 6; ++i)
      if (std::abs(levels[i] - v) < std::abs(levels[best] - v)) best = i;
    return best;
  };
  auto dist = [](int r1, int g1, int b1, int r2, int g2, int b2) {
    return (r1 - r2) * (r1 - r2) + (g1 - g2) * (g1 - g2) + (b1 - b2) * (b1 - b2);
  };
  int ri = nearest_level(c.r), gi = nearest_level(c.g), bi = nearest_level(c.b);
  int cube = dist(c.r, c.g, c.b, levels[ri], levels[gi], levels[bi]);
  int avg = (c.r + c.g + c.b) / 3;
  int grey_i = std::clamp((avg - 8 + 5) / 10, 0, 23);  // greys are 8, 18, ..., 238
  int grey_v = 8 + 10 * grey_i;
  int grey = dist(c.r, c.g, c.b, grey_v, grey_v, grey_v);
  if (grey < cube) return static_cast<std::uint8_t>(232 + grey_i);
  return static_cast<std::uint8_t>(16 + 36 * ri + 6 * gi + bi);
}

/// The escape that sets `background` and a readable foreground in `mode` (empty for `none`).
inline std::string ansi_highlight(rgb background, colour_mode mode) {
  rgb fg = readable_foreground(background);
  char buf[64];
  switch (mode) {
    case colour_mode::none: return {};
    case colour_mode::ansi256:
      std::snprintf(buf, sizeof buf, "\x1b[48;5;%um\x1b[38;5;%um", unsigned{nearest_ansi256(background)},
                    fg.r ? 231u : 16u);
      return buf;
    case colour_mode::truecolour:
      std::snprintf(buf, sizeof buf, "\x1b[48;2;%u;%u;%um\x1b[38;2;%u;%u;%um", unsigned{background.r},
                    unsigned{background.g}, unsigned{background.b}, unsigned{fg.r}, unsigned{fg.g}, unsigned{fg.b});
      return buf;
  }
  return {};
}

/// Resets colours after `ansi_highlight`.
inline constexpr std::string_view ansi_reset = "\x1b[0m";

/// `#rrggbb` for CSS.
inline std::string css_hex(rgb c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", unsigned{c.r}, unsigned{c.g}, unsigned{c.b});
  return buf;
}

/// The colour mode for an output stream, from the usual conventions: nothing unless it is a
/// terminal; nothing when NO_COLOR is set (to anything non-empty) or TERM is "dumb"; 24-bit when
/// COLORTERM says "truecolor" or "24bit"; else 256 colours. Pass the environment values (null when
/// unset) so the choice is testable. Pure function.
inline colour_mode choose_colour_mode(bool is_terminal, char const* no_color, char const* term,
                                      char const* colorterm) noexcept {
  if (!is_terminal) return colour_mode::none;
  if (no_color && *no_color) return colour_mode::none;
  if (term && std::string_view(term) == "dumb") return colour_mode::none;
  if (colorterm && (std::string_view(colorterm) == "truecolor" || std::string_view(colorterm) == "24bit"))
    return colour_mode::truecolour;
  return colour_mode::ansi256;
}

}  // namespace autointerp::report
