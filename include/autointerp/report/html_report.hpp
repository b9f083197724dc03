#pragma once
// `autointerp report`: one self-contained HTML file (no network fetches) with a sortable,
// filterable list of latents and, for the one selected, its example windows coloured by activation
// (hover shows the value) and a histogram of its activations. For a scored run, also one sortable
// column per scorer (the latent's balanced accuracy) and, per scorer, a histogram of per-latent
// balanced accuracy over the report's latents.
//
// Built to stay fast with 10^4 latents: the list is one small JSON block and the page draws only
// the rows in view; each latent's windows are one line of a plain-text block that the page parses
// only when that latent is opened; token strings are stored once, in a shared table.

#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/report/latent_view.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace autointerp::report {

/// Bins of the per-scorer histograms of balanced accuracy (0.05 wide).
inline constexpr std::size_t score_histogram_bins = 20;

/// What the page says about itself.
struct report_options {
  std::string title = "autointerp report";  ///< page title and heading
  std::string source;                       ///< one line under the heading, e.g. the cache and module
};

/// Collects latents one at a time in compact form (a latent's windows become token-table indices and
/// sparse quantized activations as soon as it is added, so memory grows with the report's size, not
/// with the views), then renders the page.
///
/// Embedded data (documented because tests and tools read it back):
/// - `<script type="application/json" id="ai-list">`: `{"title", "source", "palette": [css colours],
///   "dark_from": first palette index drawn with white text, "statuses": [names],
///   "latents": [[module, index, n_activations, n_windows, frequency, max_activation, status, explanation], ...],
///   "modules": [names]}`; `module` indexes `modules`, `status` indexes `statuses` (0 = unknown).
///   When some latent has scores (`latent_view::scores` not empty), and only then:
///   - the object also has `"scorers": [{"name", "scored", "undefined", "histogram": [counts]}, ...]`
///     (after `"modules"`), one per scorer in the order first seen: `scored` counts the latents
///     with a readable score file, `undefined` those of them whose balanced accuracy is null, and
///     `histogram` the others' balanced accuracy in `score_histogram_bins` equal bins over [0, 1]
///     (`unit_interval_bin`);
///   - a latent with scores has a ninth entry, `[figures, ...]` indexed like `scorers` (it may be
///     shorter, for scorers first seen later), where `figures` is `[balanced_accuracy, f1,
///     accuracy, true_positives, true_negatives, false_positives, false_negatives, failed]`
///     (undefined figures null), or null when the latent has no readable file of that scorer;
///   - the page has a second `<style>` element and its script the code of the score columns.
///   Without scores, nothing of this is written: the page is the same as before scores existed.
/// - `<script type="application/json" id="ai-strings">`: the token text table, `visible_text` applied.
/// - `<script type="text/plain" id="ai-examples">`: line k (0-based) belongs to latent k of the list:
///   `[[histogram counts], ["<token indices>", "<position, q, position, q, ...>"], ...]`, one pair
///   per window, each a string of numbers packed 5 bits per character (URL-safe base64 letters,
///   low bits first, a letter from the upper half of the alphabet meaning "more follows");
///   `q` = round(1000 * activation / max_activation), at least 1 for any activation > 0.
/// Every string is escaped by `append_json_string`, so no token can end a script element.
/// Not thread-safe; one builder per report.
class report_builder {
 public:
  explicit report_builder(report_options options = {}) : options_(std::move(options)) {}

  /// Adds a latent; the page lists latents in the order added (it sorts on demand).
  AUTOINTERP_DECL void add(latent_view const& view);

  std::size_t size() const noexcept { return n_latents_; }
  /// Scorers seen so far, in the order of the `scorers` list.
  std::size_t n_scorers() const noexcept { return scorers_.size(); }

  /// The `ai-list` JSON.
  AUTOINTERP_DECL std::string list_json() const;
  /// The `ai-strings` JSON.
  AUTOINTERP_DECL std::string strings_json() const;
  /// The `ai-examples` text: one line per latent.
  std::string const& examples_text() const noexcept { return examples_; }

  /// The whole page.
  AUTOINTERP_DECL std::string html() const;

  /// Writes the page to `path` atomically (temporary file, then rename).
  /// Errors: `errc::write_failed` naming the file.
  AUTOINTERP_DECL result<void> write(std::filesystem::path const& path) const;

 private:
  std::uint32_t intern(std::string const& token);
  std::uint32_t intern_status(std::string const& status);
  std::uint32_t intern_module(std::string const& module);
  std::size_t intern_scorer(scorer_figures const& figures);

  struct scorer_column {
    std::string name;
    std::string figure;  // what the column shows: "balanced accuracy", "correlation", ...
    std::size_t scored = 0, undefined = 0;
    std::vector<std::uint32_t> histogram;
  };

  report_options options_;
  std::vector<std::string> strings_;  // visible_text of each distinct token
  std::unordered_map<std::string, std::uint32_t> string_ids_;  // keyed by the raw token
  std::vector<std::string> statuses_{""};
  std::vector<std::string> modules_;
  std::vector<scorer_column> scorers_;
  std::string list_;      // list entries, comma-separated
  std::size_t n_latents_ = 0;
  std::string examples_;  // one line per latent
};

}  // namespace autointerp::report

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#include <autointerp/report/impl/html_report.ipp>
#endif
