#pragma once
// Which scorer to run and how its samples and prompts are made.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace autointerp::score {

/// The two classifier scorers of delphi.
enum class scorer_kind {
  detection,  ///< plain examples: does the explanation apply to this text?
  fuzz,       ///< highlighted examples: are the highlighted tokens the ones the explanation describes?
};

/// Where the fuzz scorer's wrongly highlighted examples come from (delphi's `--fuzz_type`).
enum class fuzz_type {
  standard,  ///< delphi's "default": the record's non-activating windows, with random tokens highlighted
  active,    ///< delphi's "active": copies of the activating test examples, with inactive tokens highlighted
};

/// Where the intruder scorer's intruders come from (delphi's intruder `type`).
enum class intruder_type {
  standard,  ///< delphi's "default": a non-activating window
  internal,  ///< an activating example of another quantile
};

/// Plain aggregate; defaults follow delphi's CLI.
struct scoring_options {
  /// Examples per prompt (delphi's `--num_examples_per_scorer_prompt`, 5). Must be at least 1.
  std::size_t n_examples_shown = 5;
  /// Seed of the shuffle that orders a latent's samples before they are cut into prompts. The
  /// generator is CPython's Mersenne Twister (`records::python_random`) seeded with the integer
  /// `seed + (latent_index << 64)`, so Python reproduces the order with
  /// `random.Random(seed + (latent_index << 64)).shuffle(samples)`, where `samples` lists the
  /// non-activating samples, then the activating ones, in record order (delphi's order). delphi's
  /// default run seed is 22. (delphi's own scorers shuffle with one `random.Random(42)` shared by
  /// every latent a scorer sees, an order no concurrent scorer can reproduce.)
  std::uint64_t seed = 22;
  /// Seed of the fuzz scorer's wrong highlights. As in delphi, a fresh generator seeded with it
  /// (CPython's `random.seed(22)`) picks the tokens of every wrong example, so windows of equal
  /// length get the same picks, exactly those delphi makes.
  std::uint64_t highlight_seed = 22;
  /// Fuzz: an activating example highlights its tokens with activation >= threshold x its maximum
  /// (delphi's 0.3). Must be within [0, 1].
  float threshold = 0.3f;
  fuzz_type fuzz = fuzz_type::standard;
  intruder_type intruder = intruder_type::standard;
  /// Ask for log probabilities (`logprobs: true, top_logprobs: 5`) so each prediction gets a
  /// probability, which AUC needs.
  bool logprobs = false;
  /// Show our worked examples as earlier turns of the conversation (stable text, cached by the
  /// providers that cache prompt prefixes).
  bool worked_examples = true;
};

/// "detection" or "fuzz": the name of the scorer's folder under `scores/` and its key in summaries.
constexpr std::string_view scorer_name(scorer_kind k) noexcept {
  return k == scorer_kind::fuzz ? "fuzz" : "detection";
}

/// The scorer named `name` ("detection" or "fuzz"), or nullopt.
constexpr std::optional<scorer_kind> parse_scorer_kind(std::string_view name) noexcept {
  if (name == "detection") return scorer_kind::detection;
  if (name == "fuzz") return scorer_kind::fuzz;
  return std::nullopt;
}

/// delphi's spelling: "default" or "internal".
constexpr std::string_view intruder_type_name(intruder_type t) noexcept {
  return t == intruder_type::internal ? "internal" : "default";
}

/// The intruder type spelled `name` ("default", also "standard", or "internal"), or nullopt.
constexpr std::optional<intruder_type> parse_intruder_type(std::string_view name) noexcept {
  if (name == "default" || name == "standard") return intruder_type::standard;
  if (name == "internal") return intruder_type::internal;
  return std::nullopt;
}

/// delphi's spelling: "default" or "active".
constexpr std::string_view fuzz_type_name(fuzz_type t) noexcept {
  return t == fuzz_type::active ? "active" : "default";
}

/// The fuzz type spelled `name` ("default", also "standard", or "active"), or nullopt.
constexpr std::optional<fuzz_type> parse_fuzz_type(std::string_view name) noexcept {
  if (name == "default" || name == "standard") return fuzz_type::standard;
  if (name == "active") return fuzz_type::active;
  return std::nullopt;
}

}  // namespace autointerp::score
