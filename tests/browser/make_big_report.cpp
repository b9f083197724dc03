// Writes a report of N synthetic latents (default 10,000), shaped like a real one: 10 windows of 32
// tokens each, sparse activations, explanations of a sentence, mixed statuses, some hostile
// tokens. The browser test opens it to see that a large page loads and lists every latent.
// With "scores", explained latents also get detection and fuzz figures (some with an undefined
// balanced accuracy), so the page has score columns to sort.
// Usage: make_big_report OUT.html [N] [scores]. Prints one line: latents, bytes, build time.
#include <autointerp/report/html_report.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: make_big_report OUT.html [N] [scores]\n";
    return 2;
  }
  std::size_t const n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 10'000;
  bool const scores = argc > 3 && std::string_view(argv[3]) == "scores";
  std::mt19937_64 rng(7);
  std::vector<std::string> vocab;
  for (int i = 0; i < 8000; ++i) vocab.push_back((i % 3 ? " w" : "W") + std::to_string(i));
  for (std::string h : {"<", "&", "\"", "</script>", "\x1b[31m", "\n", "\xff", "\xe2\x80\xae"}) vocab.push_back(h);
  std::vector<std::string> const statuses{"explained", "explained", "explained", "unparsed", "failed", "skipped", ""};

  auto const t0 = std::chrono::steady_clock::now();
  autointerp::report::report_builder b({"synthetic report", std::to_string(n) + " synthetic latents"});
  std::uniform_real_distribution<float> u(0, 1);
  for (std::size_t i = 0; i < n; ++i) {
    autointerp::report::latent_view v;
    v.latent = {"layers.0", static_cast<std::uint32_t>(i)};
    bool dead = i % 97 == 13;
    v.n_activations = dead ? 0 : 1 + rng() % 5000;
    v.n_windows = dead ? 0 : static_cast<std::uint32_t>(1 + v.n_activations / 3);
    v.frequency = static_cast<double>(v.n_activations) / 1'000'000;
    v.max_activation = dead ? 0 : 1 + 20 * u(rng);
    v.status = statuses[rng() % statuses.size()];
    if (v.status == "explained")
      v.explanation = "tokens like " + vocab[rng() % vocab.size()] + " in sentences about topic " + std::to_string(rng() % 500);
    if (scores && v.status == "explained") {
      for (std::string scorer : {"detection", "fuzz"}) {
        // 50 activating and 50 non-activating samples; every 50th latent has no negatives.
        autointerp::report::scorer_figures f;
        f.scorer = scorer;
        auto& c = f.metrics.counts;
        c.true_positives = rng() % 51;
        c.false_negatives = 50 - c.true_positives;
        if (i % 50 != 7) {
          c.true_negatives = rng() % 51;
          c.false_positives = 50 - c.true_negatives;
        }
        f.metrics.balanced_accuracy = autointerp::score::balanced_accuracy(c);
        f.metrics.f1 = autointerp::score::f1_score(c);
        f.accuracy = autointerp::score::accuracy(c);
        v.scores.push_back(std::move(f));
      }
    }
    v.histogram.resize(20);
    for (auto& c : v.histogram) c = dead ? 0 : static_cast<std::uint32_t>(rng() % 300);
    for (int w = 0; w < (dead ? 0 : 10); ++w) {
      autointerp::report::window win;
      for (int t = 0; t < 32; ++t) {
        // Zipf-like token popularity: small ids far more often.
        auto id = static_cast<std::size_t>(vocab.size() * std::pow(u(rng), 3.0f)) % vocab.size();
        win.tokens.push_back(vocab[id]);
        win.activations.push_back(u(rng) < 0.15f ? v.max_activation * u(rng) : 0.0f);
      }
      v.windows.push_back(std::move(win));
    }
    b.add(v);
  }
  auto page = b.html();
  auto const ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (auto r = b.write(argv[1]); !r) {
    std::cerr << r.error().what() << "\n";
    return 1;
  }
  std::cout << "report build: " << n << " latents, " << page.size() << " bytes, " << static_cast<long>(ms)
            << " ms to build\n";
  return 0;
}
