#pragma once
// A latent's scoring samples: its test examples and non-activating windows, labelled, highlighted
// (fuzz), shuffled and numbered into prompts.

#include <autointerp/error.hpp>
#include <autointerp/explain/highlight.hpp>
#include <autointerp/records/latent_record.hpp>
#include <autointerp/records/python_random.hpp>
#include <autointerp/score/fuzz_highlight.hpp>
#include <autointerp/score/score_sample.hpp>
#include <autointerp/score/scoring_options.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace autointerp::score {

namespace detail {

inline std::vector<std::string> strings_of(std::vector<std::uint32_t> const& tokens, std::vector<std::string> const& str_tokens) {
  if (str_tokens.size() == tokens.size()) return str_tokens;
  std::vector<std::string> out;
  out.reserve(tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) out.push_back(explain::token_text(tokens, str_tokens, i));
  return out;
}

inline score_sample activating_sample(records::activating_example const& ex) {
  score_sample s;
  s.tokens = ex.tokens;
  s.str_tokens = strings_of(ex.tokens, ex.str_tokens);
  s.activations = ex.activations;
  s.activations.resize(ex.tokens.size(), 0.f);
  s.true_levels = ex.levels;
  s.true_levels.resize(ex.tokens.size(), 0);
  s.activating = true;
  s.quantile = ex.quantile;
  s.distance = static_cast<double>(ex.quantile);
  return s;
}

inline score_sample non_activating_sample(records::non_activating_example const& ex) {
  score_sample s;
  s.tokens = ex.tokens;
  s.str_tokens = strings_of(ex.tokens, ex.str_tokens);
  s.activations.assign(ex.tokens.size(), 0.f);
  s.true_levels.assign(ex.tokens.size(), 0);
  s.activating = false;
  // The record already holds delphi's distance: -1 for a random window, minus the neighbour's
  // score for a neighbour window. A hand-made record's 0 is read as random.
  s.distance = ex.distance == 0.f ? -1.0 : static_cast<double>(ex.distance);
  return s;
}

}  // namespace detail

/// Every sample `kind` shows for `record`, in prompt order, with `batch` numbers set:
/// - detection: the record's `test` examples (activating, `distance` = quantile) and its
///   `non_activating` windows (`distance` -1 for random windows, minus the neighbour score for
///   neighbour windows), no highlights;
/// - fuzz, `fuzz_type::standard`: the same samples; activating ones highlight their tokens at or
///   above `threshold` x their maximum (`activating_highlights`), non-activating ones
///   `wrong_highlight_count(record.test)` tokens picked by `wrong_highlights`;
/// - fuzz, `fuzz_type::active` (delphi's rule): the record's non-activating windows are not used;
///   instead each test example also appears as a copy labelled non-activating (`distance` -1,
///   `quantile` 0, its real activations kept as delphi keeps them) whose highlights are
///   `wrong_highlight_count` tokens at or below the threshold, picked by `wrong_highlights`.
///
/// The list (non-activating samples first, then activating ones, each in record order, as delphi
/// builds it) is then shuffled with `options.seed` (see `scoring_options::seed`) and cut into
/// prompts of `n_examples_shown`: sample i gets `batch = i / n_examples_shown`, so only the last
/// prompt may be shorter. Missing token strings become `[#id]` placeholders. A record without
/// non-activating windows gives its activating samples only.
///
/// Errors: `errc::bad_option` when `n_examples_shown` is 0 or `threshold` is outside [0, 1];
/// `errc::too_few_examples` when the record has no test example (nothing could be scored as
/// activating; build records with `n_examples_test` above 0). Pure and thread-safe.
inline result<std::vector<score_sample>> build_samples(records::latent_record const& record, scorer_kind kind,
                                                       scoring_options const& options = {}) {
  std::string const where = "latent " + std::to_string(record.latent.index) + " of module '" + record.latent.module + "'";
  if (options.n_examples_shown == 0)
    return make_error(errc::bad_option, "examples per scoring prompt must be at least 1 (scoring " + where + ")");
  if (!(options.threshold >= 0.f && options.threshold <= 1.f))
    return make_error(errc::bad_option, "the fuzz threshold must be within [0, 1], got " +
                                            std::to_string(options.threshold) + " (scoring " + where + ")");
  if (record.test.empty())
    return make_error(errc::too_few_examples,
                      where + " has no test example to score; set record_options::n_examples_test above 0");

  bool const fuzz = kind == scorer_kind::fuzz;
  std::size_t const n_wrong = fuzz ? wrong_highlight_count(record.test) : 0;
  std::vector<score_sample> samples;
  if (fuzz && options.fuzz == fuzz_type::active) {
    samples.reserve(2 * record.test.size());
    for (auto const& ex : record.test) {
      auto s = detail::activating_sample(ex);
      s.activating = false;
      s.distance = -1;
      s.quantile = 0;
      s.highlighted = wrong_highlights(s.activations, s.tokens.size(), n_wrong, options.threshold, options.highlight_seed);
      samples.push_back(std::move(s));
    }
  } else {
    samples.reserve(record.non_activating.size() + record.test.size());
    for (auto const& ex : record.non_activating) {
      auto s = detail::non_activating_sample(ex);
      if (fuzz) s.highlighted = wrong_highlights({}, s.tokens.size(), n_wrong, options.threshold, options.highlight_seed);
      samples.push_back(std::move(s));
    }
  }
  for (auto const& ex : record.test) {
    auto s = detail::activating_sample(ex);
    if (fuzz) s.highlighted = activating_highlights(s.activations, options.threshold);
    samples.push_back(std::move(s));
  }

  // random.Random(seed + (index << 64)): CPython seeds from the integer's 32-bit words, lowest first.
  std::uint32_t const words[3] = {static_cast<std::uint32_t>(options.seed), static_cast<std::uint32_t>(options.seed >> 32),
                                  record.latent.index};
  records::python_random rng;
  rng.seed_words(words);
  rng.shuffle(std::span<score_sample>(samples));
  for (std::size_t i = 0; i < samples.size(); ++i) samples[i].batch = i / options.n_examples_shown;
  return samples;
}

namespace detail {
template <class T>
std::vector<std::span<T>> split_batches(std::span<T> samples) {
  std::vector<std::span<T>> out;
  std::size_t start = 0;
  for (std::size_t i = 1; i <= samples.size(); ++i)
    if (i == samples.size() || samples[i].batch != samples[start].batch) {
      out.push_back(samples.subspan(start, i - start));
      start = i;
    }
  return out;
}
}  // namespace detail

/// The prompts' samples: consecutive runs of `samples` sharing one `batch` number, in order (for
/// the output of `build_samples`, prompt b holds samples [b n, (b + 1) n)). The spans point into
/// `samples`. Pure.
inline std::vector<std::span<score_sample>> split_batches(std::span<score_sample> samples) {
  return detail::split_batches(samples);
}
inline std::vector<std::span<score_sample const>> split_batches(std::span<score_sample const> samples) {
  return detail::split_batches(samples);
}
inline std::vector<std::span<score_sample>> split_batches(std::vector<score_sample>& samples) {
  return detail::split_batches(std::span<score_sample>(samples));
}
inline std::vector<std::span<score_sample const>> split_batches(std::vector<score_sample> const& samples) {
  return detail::split_batches(std::span<score_sample const>(samples));
}

}  // namespace autointerp::score
