// Seeing latents: colour mapping, escaping of hostile token text, the terminal view, the report's
// embedded data and reading a run's results back, scores included (and `show`/`report --run` on a
// real scored run of the sample).
#include <autointerp/report/colour.hpp>
#include <autointerp/report/escape.hpp>
#include <autointerp/report/html_report.hpp>
#include <autointerp/report/latent_view.hpp>
#include <autointerp/report/load_view.hpp>
#include <autointerp/pipeline/run_store.hpp>
#include <autointerp/report/terminal_view.hpp>
#include <autointerp/score/metrics.hpp>
#include <autointerp/score/run_scores.hpp>
#include <autointerp/score/score_file.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_to.hpp>

#include <gtest/gtest.h>

#include "run_cli.hpp"
#include "test_paths.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace report = autointerp::report;
using report::rgb;

namespace pl = autointerp::pipeline;

namespace {

// Token strings that try everything: markup, entities, quotes, a script end, ESC sequences,
// control characters, bidi override, invalid and truncated UTF-8.
std::vector<std::string> const hostile = {
    "<b>", "&amp;", "\"q\"", "'s", "</script><script>alert(1)</script>", "\x1b[2J\x1b[31m", "\r\n\t\x07",
    "\xe2\x80\xae" "abc", "\xff\xfe", "\xe6\x97", "\xc0\xaf", "\xed\xa0\x80", "<!--", "\xe2\x80\xa8", "\x7f\xc2\x85"};

std::size_t count(std::string const& hay, std::string const& needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

bool valid_utf8(std::string const& s) { return report::sanitize_utf8(s) == s; }

std::string between(std::string const& s, std::string const& open, std::string const& close) {
  auto a = s.find(open);
  if (a == std::string::npos) return {};
  a += open.size();
  auto b = s.find(close, a);
  return s.substr(a, b - a);
}

// The page's packed number strings (5 bits per letter, low first, upper half = more follows).
std::vector<std::size_t> unpack(boost::json::value const& v) {
  std::string const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::vector<std::size_t> out;
  std::size_t value = 0, shift = 0;
  for (char c : v.as_string()) {
    auto d = alphabet.find(c);
    EXPECT_NE(d, std::string::npos) << c;
    value |= (d & 31) << shift;
    if (d & 32) {
      shift += 5;
    } else {
      out.push_back(value);
      value = shift = 0;
    }
  }
  EXPECT_EQ(shift, 0u) << "a packed number is cut off";
  return out;
}

report::latent_view sample_view() {
  report::latent_view v;
  v.latent = {"layers.6", 69};
  v.n_activations = 31;
  v.n_windows = 24;
  v.frequency = 31.0 / 16384;
  v.max_activation = 8.0f;
  v.explanation = "the token \"Python\" <b>";
  v.status = "explained";
  v.histogram = {5, 0, 3, 1};
  v.windows.push_back({{" In", " Python", ",", " lists"}, {0.0f, 8.0f, 0.0f, 0.004f}});
  v.windows.push_back({hostile, std::vector<float>(hostile.size(), 2.0f)});
  return v;
}

}  // namespace

TEST(colour, ramp_goes_from_pale_to_deep_red_and_clamps) {
  EXPECT_EQ(report::activation_colour(0), (rgb{255, 240, 190}));
  EXPECT_EQ(report::activation_colour(0.5f), (rgb{253, 160, 70}));
  EXPECT_EQ(report::activation_colour(1), (rgb{200, 25, 30}));
  EXPECT_EQ(report::activation_colour(7), report::activation_colour(1));
  EXPECT_EQ(report::activation_colour(-3), report::activation_colour(0));
  EXPECT_EQ(report::activation_colour(std::numeric_limits<float>::quiet_NaN()), report::activation_colour(0));
  // Stronger never gets lighter: the green channel falls monotonically along the ramp.
  for (int i = 1; i <= 100; ++i)
    EXPECT_LE(report::activation_colour(i / 100.0f).g, report::activation_colour((i - 1) / 100.0f).g) << i;
  EXPECT_NE(report::activation_colour(0.01f), report::activation_colour(1));
}

TEST(colour, foreground_stays_readable) {
  EXPECT_EQ(report::readable_foreground({255, 255, 255}), (rgb{0, 0, 0}));
  EXPECT_EQ(report::readable_foreground(report::activation_colour(0.1f)), (rgb{0, 0, 0}));
  EXPECT_EQ(report::readable_foreground(report::activation_colour(1)), (rgb{255, 255, 255}));
  EXPECT_EQ(report::readable_foreground({0, 0, 0}), (rgb{255, 255, 255}));
}

TEST(colour, nearest_xterm_256_colour) {
  EXPECT_EQ(report::nearest_ansi256({0, 0, 0}), 16);
  EXPECT_EQ(report::nearest_ansi256({255, 255, 255}), 231);
  EXPECT_EQ(report::nearest_ansi256({255, 0, 0}), 196);
  EXPECT_EQ(report::nearest_ansi256({0, 255, 0}), 46);
  EXPECT_EQ(report::nearest_ansi256({128, 128, 128}), 244);  // grey ramp beats the cube here
  EXPECT_EQ(report::nearest_ansi256({95, 135, 175}), 16 + 36 * 1 + 6 * 2 + 3);
  EXPECT_EQ(report::nearest_ansi256(report::activation_colour(1)), 160);  // (215,0,0) is closest to (200,25,30)
}

TEST(colour, ansi_escapes_per_mode) {
  rgb strong = report::activation_colour(1);
  EXPECT_EQ(report::ansi_highlight(strong, report::colour_mode::truecolour),
            "\x1b[48;2;200;25;30m\x1b[38;2;255;255;255m");
  EXPECT_EQ(report::ansi_highlight(strong, report::colour_mode::ansi256), "\x1b[48;5;160m\x1b[38;5;231m");
  EXPECT_EQ(report::ansi_highlight(report::activation_colour(0.1f), report::colour_mode::ansi256).substr(0, 7),
            "\x1b[48;5;");
  EXPECT_EQ(report::ansi_highlight(strong, report::colour_mode::none), "");
  EXPECT_EQ(report::css_hex(strong), "#c8191e");
}

TEST(colour, mode_follows_terminal_conventions) {
  using report::colour_mode;
  EXPECT_EQ(report::choose_colour_mode(false, nullptr, "xterm-256color", "truecolor"), colour_mode::none);
  EXPECT_EQ(report::choose_colour_mode(true, "1", "xterm-256color", "truecolor"), colour_mode::none);
  EXPECT_EQ(report::choose_colour_mode(true, "", "xterm-256color", nullptr), colour_mode::ansi256);
  EXPECT_EQ(report::choose_colour_mode(true, nullptr, "dumb", nullptr), colour_mode::none);
  EXPECT_EQ(report::choose_colour_mode(true, nullptr, "xterm", "24bit"), colour_mode::truecolour);
  EXPECT_EQ(report::choose_colour_mode(true, nullptr, nullptr, nullptr), colour_mode::ansi256);
}

TEST(escape, valid_utf8_passes_unchanged) {
  for (std::string s : {"", "plain ascii", " caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80", "\xef\xbf\xbd"})
    EXPECT_EQ(report::sanitize_utf8(s), s);
}

TEST(escape, invalid_utf8_becomes_replacement_characters) {
  std::string const fffd = "\xef\xbf\xbd";
  EXPECT_EQ(report::sanitize_utf8("\xff"), fffd);
  EXPECT_EQ(report::sanitize_utf8("a\xe6\x97"), "a" + fffd);              // truncated: one for the whole part
  EXPECT_EQ(report::sanitize_utf8("\xe6\x97z"), fffd + "z");              // broken off, next byte kept
  EXPECT_EQ(report::sanitize_utf8("\xc0\xaf"), fffd + fffd);              // overlong
  EXPECT_EQ(report::sanitize_utf8("\xed\xa0\x80"), fffd + fffd + fffd);   // surrogate
  EXPECT_EQ(report::sanitize_utf8("\xf4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // past U+10FFFF
  EXPECT_EQ(report::sanitize_utf8("\x80x"), fffd + "x");
  for (auto const& h : hostile) EXPECT_TRUE(valid_utf8(report::sanitize_utf8(h))) << h;
}

TEST(escape, visible_text_neutralises_controls) {
  EXPECT_EQ(report::visible_text("\x1b[31mred"), "\xe2\x90\x9b[31mred");  // ESC shows as a control picture
  EXPECT_EQ(report::visible_text("a\nb"), "a\xe2\x86\xb5" "b");
  EXPECT_EQ(report::visible_text("\t"), "\xe2\x87\xa5");
  EXPECT_EQ(report::visible_text("\r"), "\xe2\x90\x8d");
  EXPECT_EQ(report::visible_text("\x7f"), "\xe2\x90\xa1");
  EXPECT_EQ(report::visible_text("\xc2\x85"), "\xef\xbf\xbd");      // C1 control
  EXPECT_EQ(report::visible_text("\xe2\x80\xae" "abc"), "\xef\xbf\xbd" "abc");  // right-to-left override
  EXPECT_EQ(report::visible_text(" spaced  "), " spaced  ");
  for (auto const& h : hostile) {
    auto v = report::visible_text(h);
    EXPECT_TRUE(valid_utf8(v));
    for (unsigned char c : v) EXPECT_TRUE(c >= 0x20 && c != 0x7f) << "control byte left in " << v;
  }
}

TEST(escape, html_escape_covers_markup_and_quotes) {
  EXPECT_EQ(report::html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(report::html_escape("a\x01" "b\n"), "a\xef\xbf\xbd" "b\n");
  EXPECT_EQ(report::html_escape("\xff"), "\xef\xbf\xbd");
  for (auto const& h : hostile) {
    auto e = report::html_escape(h);
    EXPECT_EQ(e.find('<'), std::string::npos);
    EXPECT_EQ(e.find('"'), std::string::npos);
    EXPECT_TRUE(valid_utf8(e));
  }
}

TEST(escape, json_strings_round_trip_and_cannot_close_a_script) {
  for (auto const& h : hostile) {
    std::string out;
    report::append_json_string(out, h);
    EXPECT_EQ(out.find('<'), std::string::npos) << out;
    EXPECT_EQ(out.find('>'), std::string::npos) << out;
    EXPECT_EQ(out.find('&'), std::string::npos) << out;
    EXPECT_EQ(out.find("\xe2\x80\xa8"), std::string::npos) << out;
    for (unsigned char c : out) EXPECT_GE(c, 0x20);
    auto v = boost::json::parse(out);
    ASSERT_TRUE(v.is_string());
    EXPECT_EQ(std::string(v.get_string()), report::sanitize_utf8(h));
  }
  std::string out;
  report::append_json_string(out, "</script>");
  EXPECT_EQ(out, "\"\\u003c/script\\u003e\"");
}

TEST(latent_view, histogram_bins_cover_zero_to_max) {
  std::vector<float> v{0.1f, 1.0f, 1.9f, 2.0f, 4.0f, 5.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), 99.0f};
  auto h = report::activation_histogram(v, 4.0f, 4);
  EXPECT_EQ(h, (std::vector<std::uint32_t>{3, 2, 1, 3}));
  EXPECT_EQ(report::activation_histogram(v, 0.0f, 3), (std::vector<std::uint32_t>{0, 0, 0}));
  EXPECT_TRUE(report::activation_histogram(v, 4.0f, 0).empty());
}

TEST(latent_view, made_from_a_record_and_its_activations) {
  autointerp::records::latent_record rec;
  rec.latent = {"layers.6", 7};
  rec.n_examples = 3;
  rec.per_token_frequency = 0.01;
  autointerp::records::activating_example ex;
  ex.tokens = {11, 12, 13};
  ex.activations = {0, 3, 1};
  ex.str_tokens = {"a", "b"};  // one short: the last token falls back to its id
  rec.train.push_back(ex);
  autointerp::cache::latent_activations acts;
  acts.latent = rec.latent;
  acts.rows = {0, 0, 1};
  acts.positions = {1, 2, 5};
  acts.values = {3, 1, 4};
  auto v = report::make_latent_view(rec, acts, 4);
  EXPECT_EQ(v.latent, rec.latent);
  EXPECT_EQ(v.n_activations, 3u);
  EXPECT_EQ(v.n_windows, 3u);
  EXPECT_FLOAT_EQ(v.max_activation, 4);
  EXPECT_EQ(v.histogram, (std::vector<std::uint32_t>{0, 1, 0, 2}));
  ASSERT_EQ(v.windows.size(), 1u);
  EXPECT_EQ(v.windows[0].tokens, (std::vector<std::string>{"a", "b", "[13]"}));
  EXPECT_EQ(v.windows[0].activations, (std::vector<float>{0, 3, 1}));
}

TEST(terminal_view, plain_text_marks_runs_of_active_tokens) {
  report::latent_view v;
  v.latent = {"layers.6", 3};
  v.max_activation = 2;
  v.n_activations = 3;
  v.n_windows = 2;
  v.frequency = 0.5;
  v.windows.push_back({{" a", " b", " c", " d"}, {0, 1, 2, 0}});
  v.windows.push_back({{"x", "\n", "y"}, {1, 0, 2}});
  auto text = report::render_terminal(v);
  EXPECT_NE(text.find("layers.6 latent 3  max 2  3 activations (50% of tokens)  2 windows\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" a<< b c>> d\n"), std::string::npos) << text;
  EXPECT_NE(text.find("<<x>>\xe2\x86\xb5<<y>>\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("explanation"), std::string::npos);  // none known: no line
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
}

TEST(terminal_view, hostile_tokens_cannot_inject_escapes_or_lines) {
  auto v = sample_view();
  auto plain = report::render_terminal(v);
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  EXPECT_EQ(plain.find('\r'), std::string::npos);
  EXPECT_EQ(count(plain, "\n"), 4u);  // header, explanation, two windows
  EXPECT_NE(plain.find("explanation: the token \"Python\" <b>  [explained]\n"), std::string::npos) << plain;
  EXPECT_TRUE(valid_utf8(plain));
  auto coloured = report::render_terminal(v, {report::colour_mode::truecolour, true});
  EXPECT_EQ(count(coloured, "\n"), 4u);
  // Every escape in the output is one of ours: SGR sequences only, none from token text.
  for (auto p = coloured.find('\x1b'); p != std::string::npos; p = coloured.find('\x1b', p + 1)) {
    auto end = coloured.find('m', p);
    ASSERT_NE(end, std::string::npos);
    auto seq = coloured.substr(p, end - p + 1);
    EXPECT_TRUE(seq.rfind("\x1b[48;2;", 0) == 0 || seq.rfind("\x1b[38;2;", 0) == 0 || seq == "\x1b[0m" ||
                seq == "\x1b[1m")
        << seq.substr(1);
  }
  EXPECT_EQ(coloured.find("\x1b[2J"), std::string::npos);
  EXPECT_NE(coloured.find("\x1b[48;2;200;25;30m\x1b[38;2;255;255;255m Python\x1b[0m"), std::string::npos);
  EXPECT_EQ(coloured.find("<<"), std::string::npos);
}

TEST(html_report, embedded_data_describes_every_latent) {
  report::report_builder b({"sample & <test>", "examples/data/cache layers.6"});
  b.add(sample_view());
  report::latent_view dead;
  dead.latent = {"layers.6", 416};
  b.add(dead);
  ASSERT_EQ(b.size(), 2u);

  auto list = boost::json::parse(b.list_json()).as_object();
  EXPECT_EQ(list.at("title").as_string(), "sample & <test>");
  EXPECT_EQ(list.at("palette").as_array().size(), 64u);
  EXPECT_EQ(list.at("palette").as_array()[63].as_string(), "#c8191e");
  auto const& statuses = list.at("statuses").as_array();
  auto const& rows = list.at("latents").as_array();
  ASSERT_EQ(rows.size(), 2u);
  auto const& r0 = rows[0].as_array();
  EXPECT_EQ(list.at("modules").as_array()[r0[0].to_number<int>()].as_string(), "layers.6");
  EXPECT_EQ(r0[1].to_number<int>(), 69);
  EXPECT_EQ(r0[2].to_number<int>(), 31);
  EXPECT_EQ(r0[3].to_number<int>(), 24);
  EXPECT_NEAR(r0[4].to_number<double>(), 31.0 / 16384, 1e-6);
  EXPECT_NEAR(r0[5].to_number<double>(), 8.0, 1e-6);
  EXPECT_EQ(statuses[r0[6].to_number<std::size_t>()].as_string(), "explained");
  EXPECT_EQ(r0[7].as_string(), "the token \"Python\" <b>");
  auto const& r1 = rows[1].as_array();
  EXPECT_EQ(r1[1].to_number<int>(), 416);
  EXPECT_EQ(statuses[r1[6].to_number<std::size_t>()].as_string(), "");
  EXPECT_EQ(r1[7].as_string(), "");

  auto strings = boost::json::parse(b.strings_json()).as_array();
  std::istringstream lines(b.examples_text());
  std::string line;
  std::vector<boost::json::value> ex;
  while (std::getline(lines, line)) ex.push_back(boost::json::parse(line));
  ASSERT_EQ(ex.size(), 2u);
  auto const& e0 = ex[0].as_array();
  ASSERT_EQ(e0.size(), 3u);  // histogram + two windows
  EXPECT_EQ(boost::json::value_to<std::vector<int>>(e0[0]), (std::vector<int>{5, 0, 3, 1}));
  auto const& w0 = e0[1].as_array();
  std::vector<std::string> text;
  for (auto t : unpack(w0[0])) text.emplace_back(strings.at(t).as_string());
  EXPECT_EQ(text, (std::vector<std::string>{" In", " Python", ",", " lists"}));
  // Sparse (position, q) pairs; q in thousandths of the latent's maximum, never 0 when active.
  EXPECT_EQ(unpack(w0[1]), (std::vector<std::size_t>{1, 1000, 3, 1}));
  auto const& w1 = e0[2].as_array();
  auto ids = unpack(w1[0]);
  ASSERT_EQ(ids.size(), hostile.size());
  for (std::size_t i = 0; i < hostile.size(); ++i)
    EXPECT_EQ(std::string(strings.at(ids[i]).as_string()), report::visible_text(hostile[i]));
  EXPECT_EQ(unpack(w1[1]).size(), 2 * hostile.size());
  EXPECT_EQ(ex[1].as_array().size(), 1u);  // a dead latent: empty histogram, no windows
  // Each distinct token text is stored once.
  b.add(sample_view());
  EXPECT_EQ(boost::json::parse(b.strings_json()).as_array().size(), strings.size());
}

TEST(html_report, packed_numbers_round_trip) {
  report::report_builder b;
  report::latent_view v;
  v.latent = {"m", 0};
  v.max_activation = 1;
  // 40 distinct tokens: indices 0..39 cross the one-letter limit (32); positions up to 39.
  report::window w;
  for (int i = 0; i < 40; ++i) {
    w.tokens.push_back("t" + std::to_string(i));
    w.activations.push_back(i % 2 ? 0.5f : 0.0f);
  }
  v.windows.push_back(w);
  b.add(v);
  auto line = boost::json::parse(b.examples_text()).as_array();
  auto ids = unpack(line[1].as_array()[0]);
  ASSERT_EQ(ids.size(), 40u);
  for (std::size_t i = 0; i < 40; ++i) EXPECT_EQ(ids[i], i);
  auto acts = unpack(line[1].as_array()[1]);
  ASSERT_EQ(acts.size(), 40u);
  for (std::size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(acts[2 * i], 2 * i + 1);
    EXPECT_EQ(acts[2 * i + 1], 500u);
  }
  EXPECT_EQ(std::string(line[1].as_array()[0].as_string()).substr(0, 2), "AB");  // 0, 1
  EXPECT_EQ(std::string(line[1].as_array()[0].as_string()).substr(32, 2), "gB");  // 32 = 0 + 1 * 32, after 32 one-letter numbers
}

TEST(html_report, page_is_self_contained_and_hostile_text_stays_inert) {
  report::report_builder b({"t\"i<tle>", "<src>"});
  b.add(sample_view());
  auto page = b.html();
  EXPECT_TRUE(valid_utf8(page));
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  EXPECT_NE(page.find("<title>t&quot;i&lt;tle&gt;</title>"), std::string::npos);
  EXPECT_NE(page.find("&lt;src&gt;"), std::string::npos);
  // Exactly our four script elements, however hostile the tokens.
  EXPECT_EQ(count(page, "<script"), 4u);
  EXPECT_EQ(count(page, "</script"), 4u);
  EXPECT_EQ(count(page, "<!--"), 0u);
  EXPECT_EQ(page.find("alert(1)</script>"), std::string::npos);
  // Nothing that could fetch: no external references of any kind.
  for (std::string bad : {"src=", "href=", "url(", "@import", "fetch(", "XMLHttpRequest", "https://", "<link", "<img",
                          "<iframe"})
    EXPECT_EQ(page.find(bad), std::string::npos) << bad;
  // The examples block: one line per latent, between its script tags.
  auto examples = between(page, "<script type=\"text/plain\" id=\"ai-examples\">", "</script>");
  EXPECT_EQ(examples, b.examples_text());
  EXPECT_EQ(between(page, "<script type=\"application/json\" id=\"ai-list\">", "</script>"), b.list_json());
}

TEST(html_report, written_atomically) {
  auto dir = std::filesystem::temp_directory_path() / ("report_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  report::report_builder b;
  b.add(sample_view());
  auto r = b.write(dir / "report.html");
  ASSERT_TRUE(r) << r.error().what();
  std::ifstream f(dir / "report.html", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), b.html());
  std::size_t files = 0;
  for (auto const& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);  // no temporary left behind
  auto bad = b.write(dir / "missing" / "report.html");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error() == autointerp::errc::write_failed);
  EXPECT_NE(bad.error().message.find("missing"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(run_store, reads_run_jsonl_and_explanation_files_for_reports) {
  auto dir = std::filesystem::temp_directory_path() / ("run_results_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "explanations");
  {
    std::ofstream f(dir / "run.jsonl");
    f << R"({"module":"layers.6","latent":1,"status":"failed","explanation":"","error":"timeout"})" "\n"
      << R"({"module":"layers.6","latent":2,"status":"explained","explanation":"digits"})" "\n"
      << R"({"module":"layers.6","latent":1,"status":"explained","explanation":"retried \u003cok\u003e"})" "\n"
      << R"({"module":"layers.6","latent":3,"status":"unparsed","explanation":""})" "\n"
      << "not json\n"
      << R"({"module":"layers.6","latent":"x","status":"explained"})" "\n"
      << R"({"module":"layers.6","latent":4,"sta)";  // torn last line
  }
  std::ofstream(dir / "explanations" / "layers.6_latent5.txt") << "\"from a file\"";
  std::ofstream(dir / "explanations" / "layers.6_latent6.txt") << "not json text\n";
  auto r = pl::run_store::open(dir, pl::store_mode::read);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->size(), 3u);
  auto e1 = r->find({"layers.6", 1});
  ASSERT_TRUE(e1);
  EXPECT_EQ(e1->status, pl::latent_status::explained);
  EXPECT_EQ(e1->explanation, "retried <ok>");
  EXPECT_EQ(r->find({"layers.6", 2})->explanation, "digits");
  EXPECT_EQ(r->find({"layers.6", 3})->status, pl::latent_status::unparsed);
  EXPECT_EQ(r->find({"layers.6", 5})->explanation, "from a file");
  EXPECT_EQ(r->find({"layers.6", 5})->status, pl::latent_status::explained);
  EXPECT_EQ(r->find({"layers.6", 6})->explanation, "not json text");
  EXPECT_FALSE(r->find({"layers.6", 4}));
  EXPECT_FALSE(r->find({"layers.7", 2}));
  std::filesystem::remove_all(dir);
  auto missing = pl::run_store::open(dir, pl::store_mode::read);
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error() == autointerp::errc::file_not_found);
}

// The bundled sample, through the real cache, records and tokenizer: planted latents look as planted.
TEST(load_view, planted_latents_of_the_sample) {
  auto data = autointerp::cache::dataset::open(AUTOINTERP_SOURCE_DIR "/examples/data/cache");
  ASSERT_TRUE(data) << data.error().what();
  auto tok = autointerp::tokenizer::load_tokenizer(AUTOINTERP_SOURCE_DIR "/examples/data/tokenizer.json");
  ASSERT_TRUE(tok) << tok.error().what();

  // Latent 69 fires on " Python" only (examples/data/planted.json).
  auto v = report::load_latent_view(*data, &*tok, {"layers.6", 69}, {.n_windows = 5});
  ASSERT_TRUE(v) << v.error().what();
  EXPECT_EQ(v->n_activations, 31u);
  EXPECT_GT(v->max_activation, 0);
  EXPECT_NEAR(v->frequency, 31.0 / (256 * 64), 1e-9);
  ASSERT_EQ(v->windows.size(), 5u);
  float previous = v->max_activation;
  for (auto const& w : v->windows) {
    ASSERT_EQ(w.tokens.size(), 32u);  // delphi's default window length divides the sample's 64
    float wmax = 0;
    for (std::size_t i = 0; i < w.tokens.size(); ++i) {
      if (w.activations[i] > 0) {
        EXPECT_EQ(w.tokens[i], " Python");
      }
      wmax = std::max(wmax, w.activations[i]);
    }
    EXPECT_LE(wmax, previous);  // strongest first
    previous = wmax;
  }
  std::uint32_t total = 0;
  for (auto c : v->histogram) total += c;
  EXPECT_EQ(total, 31u);
  EXPECT_EQ(v->histogram.size(), 20u);

  // A dead latent is a view with no windows, not an error.
  auto dead = report::load_latent_view(*data, &*tok, {"layers.6", 416});
  ASSERT_TRUE(dead) << dead.error().what();
  EXPECT_EQ(dead->n_activations, 0u);
  EXPECT_TRUE(dead->windows.empty());

  // Centered windows of 16 tokens: the maximum sits 3/4 of the way in.
  auto centered = report::load_latent_view(
      *data, &*tok, {"layers.6", 69},
      {.n_windows = 3, .windows = autointerp::records::window_kind::centered, .example_ctx_len = 16});
  ASSERT_TRUE(centered) << centered.error().what();
  ASSERT_FALSE(centered->windows.empty());
  for (auto const& w : centered->windows) {
    ASSERT_EQ(w.tokens.size(), 16u);
    EXPECT_EQ(w.tokens[12], " Python");
  }

  // Without a tokenizer, tokens show as ids; errors name the latent's problem.
  auto ids = report::load_latent_view(*data, nullptr, {"layers.6", 69}, {.n_windows = 1});
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->windows[0].tokens[0].front(), '[');
  auto bad = report::load_latent_view(*data, &*tok, {"layers.6", 4096});
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error() == autointerp::errc::latent_out_of_range);
  auto odd = report::load_latent_view(*data, &*tok, {"layers.6", 69}, {.example_ctx_len = 24});
  ASSERT_FALSE(odd);
  EXPECT_TRUE(odd.error() == autointerp::errc::bad_option);
}

// ---- scores: read from a run folder, shown by the report and by show ------------------------------

namespace {

namespace sc = autointerp::score;

// A scratch folder, removed at the end of the test.
struct scratch {
  std::filesystem::path path;
  explicit scratch(std::string const& name)
      : path(std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~scratch() { std::filesystem::remove_all(path); }
};

std::string slurp(std::filesystem::path const& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// One sample of a hand-written score file, in delphi's fields; `prediction` is "true", "false" or "null".
std::string sample_json(bool activating, std::string const& prediction) {
  return std::string(R"({"str_tokens":[" a"," b"],"activations":[)") + (activating ? "1.5,0.0" : "0.0,0.0") +
         R"(],"distance":)" + (activating ? "3" : "-1") + R"(,"activating":)" + (activating ? "true" : "false") +
         R"(,"prediction":)" + prediction + R"(,"probability":null})";
}

std::string score_file(std::vector<std::string> const& samples) {
  std::string out = "[";
  for (std::size_t i = 0; i < samples.size(); ++i) out += (i ? ",\n" : "\n") + samples[i];
  return out + "\n]\n";
}

// FNV-1a, to compare pages and texts with the ones made before scores existed.
std::uint64_t fnv1a(std::string const& s) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// A run folder with hand-made score files:
//   detection/latent 1: activating predicted 1,1,1,0; non-activating 1,0,0,null -> TP 3 FN 1 FP 1 TN 2, 1 failed
//   detection/latent 2: activating only, both predicted 1 (balanced accuracy undefined)
//   fuzz/latent 1: two of each, all right (balanced accuracy 1)
//   fuzz/latent 2: damaged
//   latent 3: no score file at all
void write_scored_run(std::filesystem::path const& dir) {
  std::filesystem::create_directories(dir / "scores" / "detection");
  std::filesystem::create_directories(dir / "scores" / "fuzz");
  std::ofstream(dir / "scores" / "notes.txt") << "not a scorer\n";
  std::ofstream(dir / "scores" / "detection" / "layers.6_latent1.txt")
      << score_file({sample_json(true, "true"), sample_json(true, "true"), sample_json(true, "true"),
                     sample_json(true, "false"), sample_json(false, "true"), sample_json(false, "false"),
                     sample_json(false, "false"), sample_json(false, "null")});
  std::ofstream(dir / "scores" / "detection" / "layers.6_latent2.txt")
      << score_file({sample_json(true, "true"), sample_json(true, "true")});
  std::ofstream(dir / "scores" / "fuzz" / "layers.6_latent1.txt")
      << score_file({sample_json(true, "true"), sample_json(true, "true"), sample_json(false, "false"),
                     sample_json(false, "false")});
  std::ofstream(dir / "scores" / "fuzz" / "layers.6_latent2.txt") << "[{\"activating\": tru";
}

// The view of latent `index` with the run's scores, as `show` and `report` fill it.
report::latent_view scored_view(pl::run_store const& store, std::uint32_t index) {
  report::latent_view v;
  v.latent = {"layers.6", index};
  v.scores = report::load_scorer_figures(store, sc::list_scorers(store), v.latent);
  return v;
}

report::scorer_figures figures_with(std::string scorer, std::optional<double> balanced_accuracy) {
  report::scorer_figures f;
  f.scorer = std::move(scorer);
  f.metrics.balanced_accuracy = balanced_accuracy;
  f.headline = balanced_accuracy;
  return f;
}

}  // namespace

TEST(latent_view, unit_interval_bins) {
  EXPECT_EQ(report::unit_interval_bin(0.0, 20), 0u);
  EXPECT_EQ(report::unit_interval_bin(0.0499, 20), 0u);
  EXPECT_EQ(report::unit_interval_bin(0.05, 20), 1u);
  EXPECT_EQ(report::unit_interval_bin(0.5, 20), 10u);
  EXPECT_EQ(report::unit_interval_bin(0.649, 20), 12u);
  EXPECT_EQ(report::unit_interval_bin(0.6499999999999999, 20), 13u);  // 0.65 as arithmetic may leave it
  EXPECT_EQ(report::unit_interval_bin(0.95, 20), 19u);
  EXPECT_EQ(report::unit_interval_bin(1.0, 20), 19u);
  EXPECT_EQ(report::unit_interval_bin(1.7, 20), 19u);
  EXPECT_EQ(report::unit_interval_bin(-0.2, 20), 0u);
  EXPECT_EQ(report::unit_interval_bin(std::numeric_limits<double>::quiet_NaN(), 20), 0u);
  EXPECT_EQ(report::unit_interval_bin(1.0, 1), 0u);
}

TEST(scores, read_back_per_latent_from_hand_made_score_files) {
  scratch tmp("report_scores");
  write_scored_run(tmp.path);
  auto store = pl::run_store::open(tmp.path, pl::store_mode::read);
  ASSERT_TRUE(store) << store.error().what();
  EXPECT_EQ(sc::list_scorers(*store), (std::vector<std::string>{"detection", "fuzz"}));  // folders only, sorted

  auto d1 = sc::read_latent_scores(*store, "detection", {"layers.6", 1});
  ASSERT_TRUE(d1) << d1.error().what();
  ASSERT_TRUE(*d1);
  ASSERT_EQ((*d1)->samples.size(), 8u);
  auto f = report::make_scorer_figures("detection", **d1);
  EXPECT_EQ(f.scorer, "detection");
  EXPECT_TRUE(f.error.empty());
  auto const& c = f.metrics.counts;
  EXPECT_EQ(c.true_positives, 3u);
  EXPECT_EQ(c.false_negatives, 1u);
  EXPECT_EQ(c.false_positives, 1u);
  EXPECT_EQ(c.true_negatives, 2u);
  EXPECT_EQ(c.failed, 1u);
  ASSERT_TRUE(f.metrics.balanced_accuracy);
  EXPECT_DOUBLE_EQ(*f.metrics.balanced_accuracy, (3.0 / 4 + 2.0 / 3) / 2);
  ASSERT_TRUE(f.metrics.f1);
  EXPECT_DOUBLE_EQ(*f.metrics.f1, 6.0 / 8);
  ASSERT_TRUE(f.accuracy);
  EXPECT_DOUBLE_EQ(*f.accuracy, 5.0 / 7);

  auto d2 = sc::read_latent_scores(*store, "detection", {"layers.6", 2});
  ASSERT_TRUE(d2 && *d2);
  auto f2 = report::make_scorer_figures("detection", **d2);
  EXPECT_FALSE(f2.metrics.balanced_accuracy);  // no negatives
  EXPECT_DOUBLE_EQ(f2.metrics.f1.value_or(-1), 1.0);
  EXPECT_DOUBLE_EQ(f2.accuracy.value_or(-1), 1.0);

  auto none = sc::read_latent_scores(*store, "detection", {"layers.6", 3});
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);  // not scored: no file, no error
  auto damaged = sc::read_latent_scores(*store, "fuzz", {"layers.6", 2});
  ASSERT_FALSE(damaged);
  EXPECT_TRUE(damaged.error() == autointerp::errc::bad_score_file);
  EXPECT_NE(damaged.error().message.find("layers.6_latent2.txt"), std::string::npos) << damaged.error().what();

  // No scores/ folder: no scorers.
  scratch bare("report_no_scores");
  auto plain = pl::run_store::open(bare.path, pl::store_mode::read);
  ASSERT_TRUE(plain);
  EXPECT_TRUE(sc::list_scorers(*plain).empty());
  EXPECT_FALSE(sc::accuracy(sc::confusion{}));
}

TEST(scores, simulation_intruder_and_embedding_files_give_their_own_figure_in_show_and_report) {
  scratch tmp("report_three_scorers");
  for (char const* d : {"simulation", "intruder", "embedding"}) std::filesystem::create_directories(tmp.path / "scores" / d);
  // Simulation: one activating example simulated exactly, one silent window.
  std::vector<sc::score_sample> sim(2);
  sim[0].str_tokens = {"The", " cat", " sat"};
  sim[0].activations = {0.f, 2.f, 0.f};
  sim[0].activating = true;
  sim[0].true_levels = {0, 10, 0};
  sim[0].simulated = std::vector<double>{0, 9, 1};
  sim[1].str_tokens = {"A", " dog"};
  sim[1].activations = {0.f, 0.f};
  sim[1].true_levels = {0, 0};
  sim[1].simulated = std::vector<double>{0, 0};
  sim[1].distance = -1;
  std::ofstream(tmp.path / "scores" / "simulation" / "layers.6_latent1.txt") << sc::score_file_text("simulation", sim, {});
  // Intruder: two prompts, one right, one unanswered.
  std::vector<sc::intruder_trial> trials(2);
  for (auto& t : trials) {
    t.examples = {sim[0], sim[1]};
    t.intruder = 1;
  }
  trials[0].prediction = 1;
  std::ofstream(tmp.path / "scores" / "intruder" / "layers.6_latent1.txt") << sc::score_file_text("intruder", {}, trials);
  // Embedding: the activating example more similar than the silent one.
  auto emb = sim;
  emb[0].similarity = 0.8;
  emb[1].similarity = 0.2;
  std::ofstream(tmp.path / "scores" / "embedding" / "layers.6_latent1.txt") << sc::score_file_text("embedding", emb, {});

  auto store = pl::run_store::open(tmp.path, pl::store_mode::read);
  ASSERT_TRUE(store);
  auto v = scored_view(*store, 1);
  ASSERT_EQ(v.scores.size(), 3u);  // embedding, intruder, simulation (sorted)
  EXPECT_EQ(v.scores[0].headline_name, "AUC");
  EXPECT_EQ(v.scores[0].headline, 1.0);
  EXPECT_EQ(v.scores[1].headline_name, "accuracy");
  EXPECT_EQ(v.scores[1].headline, 1.0);
  EXPECT_EQ(v.scores[1].failed, 1u);
  EXPECT_EQ(v.scores[2].headline_name, "correlation");
  ASSERT_TRUE(v.scores[2].headline);
  EXPECT_GT(*v.scores[2].headline, 0.9);
  EXPECT_EQ(v.scores[2].trace.tokens, sim[0].str_tokens);
  EXPECT_EQ(v.scores[2].trace.simulated, *sim[0].simulated);

  auto const text = report::render_terminal(v);
  EXPECT_NE(text.find("embedding:  AUC 1.000  failed 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("intruder:   accuracy 1.000  failed 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("simulation: correlation "), std::string::npos) << text;

  report::report_builder b({"three", "a run"});
  b.add(v);
  auto list = boost::json::parse(b.list_json()).as_object();
  auto const& scorers = list.at("scorers").as_array();
  ASSERT_EQ(scorers.size(), 3u);
  EXPECT_EQ(scorers[2].at("figure").as_string(), "correlation");
  auto const& figs = list.at("latents").as_array()[0].as_array()[8].as_array();
  auto const& simulation = figs[2].as_array();
  ASSERT_EQ(simulation.size(), 11u);  // the figures, then the example's tokens, true and simulated levels
  EXPECT_EQ(simulation[9].as_array().size(), 3u);
  EXPECT_EQ(simulation[10].as_array()[1].to_number<double>(), 9.0);
  EXPECT_EQ(figs[1].as_array().size(), 8u);  // no trace for the intruder
  EXPECT_NE(b.html().find("levelChart"), std::string::npos);
}

TEST(html_report, score_columns_carry_each_latents_figures) {
  scratch tmp("report_score_columns");
  write_scored_run(tmp.path);
  auto store = pl::run_store::open(tmp.path, pl::store_mode::read);
  ASSERT_TRUE(store);
  report::report_builder b({"scored", "a run"});
  for (std::uint32_t i : {1u, 2u, 3u}) b.add(scored_view(*store, i));
  EXPECT_EQ(b.n_scorers(), 2u);

  auto list = boost::json::parse(b.list_json()).as_object();
  auto const& scorers = list.at("scorers").as_array();
  ASSERT_EQ(scorers.size(), 2u);
  EXPECT_EQ(scorers[0].at("name").as_string(), "detection");
  EXPECT_EQ(scorers[1].at("name").as_string(), "fuzz");
  auto const& rows = list.at("latents").as_array();
  ASSERT_EQ(rows.size(), 3u);

  // Latent 1: both scorers' figures, [balanced accuracy, F1, accuracy, TP, TN, FP, FN, failed].
  auto const& r1 = rows[0].as_array();
  ASSERT_EQ(r1.size(), 9u);
  auto const& det = r1[8].as_array()[0].as_array();
  ASSERT_EQ(det.size(), 8u);
  EXPECT_NEAR(det[0].to_number<double>(), (3.0 / 4 + 2.0 / 3) / 2, 1e-4);
  EXPECT_NEAR(det[1].to_number<double>(), 0.75, 1e-9);
  EXPECT_NEAR(det[2].to_number<double>(), 5.0 / 7, 1e-4);
  EXPECT_EQ(det[3].to_number<int>(), 3);  // TP
  EXPECT_EQ(det[4].to_number<int>(), 2);  // TN
  EXPECT_EQ(det[5].to_number<int>(), 1);  // FP
  EXPECT_EQ(det[6].to_number<int>(), 1);  // FN
  EXPECT_EQ(det[7].to_number<int>(), 1);  // failed
  auto const& fuzz = r1[8].as_array()[1].as_array();
  EXPECT_EQ(fuzz[0].to_number<double>(), 1.0);
  EXPECT_EQ(fuzz[3].to_number<int>(), 2);
  EXPECT_EQ(fuzz[4].to_number<int>(), 2);
  EXPECT_EQ(fuzz[7].to_number<int>(), 0);

  // Latent 2: detection without a balanced accuracy (null, F1 and accuracy still 1); its damaged
  // fuzz file is null, as if it had none.
  auto const& r2 = rows[1].as_array();
  ASSERT_EQ(r2.size(), 9u);
  auto const& det2 = r2[8].as_array()[0].as_array();
  EXPECT_TRUE(det2[0].is_null());
  EXPECT_EQ(det2[1].to_number<double>(), 1.0);
  EXPECT_EQ(det2[2].to_number<double>(), 1.0);
  EXPECT_TRUE(r2[8].as_array()[1].is_null());

  // Latent 3: no score file, no ninth entry.
  EXPECT_EQ(rows[2].as_array().size(), 8u);

  // Per scorer: latents with a readable file, those without a balanced accuracy, and the histogram.
  EXPECT_EQ(scorers[0].at("scored").to_number<int>(), 2);
  EXPECT_EQ(scorers[0].at("undefined").to_number<int>(), 1);
  EXPECT_EQ(scorers[1].at("scored").to_number<int>(), 1);
  EXPECT_EQ(scorers[1].at("undefined").to_number<int>(), 0);
  std::vector<int> det_hist(report::score_histogram_bins, 0), fuzz_hist(report::score_histogram_bins, 0);
  det_hist[14] = 1;   // 0.708
  fuzz_hist[19] = 1;  // 1.0
  EXPECT_EQ(boost::json::value_to<std::vector<int>>(scorers[0].at("histogram")), det_hist);
  EXPECT_EQ(boost::json::value_to<std::vector<int>>(scorers[1].at("histogram")), fuzz_hist);

  // The page: still self-contained, four scripts, plus the score columns' style and code.
  auto page = b.html();
  EXPECT_EQ(count(page, "<script"), 4u);
  EXPECT_EQ(count(page, "<style>"), 2u);
  EXPECT_NE(page.find("repeat(2,68px)"), std::string::npos);
  EXPECT_EQ(count(page, "function scoreBlock(d)"), 1u);
  EXPECT_EQ(count(page, "det.appendChild(scoreBlock(d));"), 1u);
  EXPECT_EQ(between(page, "<script type=\"application/json\" id=\"ai-list\">", "</script>"), b.list_json());
  for (std::string bad : {"src=", "href=", "url(", "fetch(", "https://"}) EXPECT_EQ(page.find(bad), std::string::npos) << bad;
}

TEST(html_report, score_histograms_count_per_latent_balanced_accuracy) {
  report::report_builder b;
  std::vector<std::optional<double>> detection{0.0, 0.5, 0.5, 0.6499999999999999, 0.95, 1.0, std::nullopt, 0.049};
  for (std::uint32_t i = 0; i < detection.size(); ++i) {
    report::latent_view v;
    v.latent = {"m", i};
    v.scores.push_back(figures_with("detection", detection[i]));
    if (i % 2) v.scores.push_back(figures_with("fuzz", 0.25 * i / 2));  // 1, 3, 5, 7 -> 0.125, 0.375, 0.625, 0.875
    b.add(v);
  }
  report::latent_view unscored;
  unscored.latent = {"m", 99};
  b.add(unscored);
  auto list = boost::json::parse(b.list_json()).as_object();
  auto const& scorers = list.at("scorers").as_array();
  ASSERT_EQ(scorers.size(), 2u);
  std::vector<int> want(20, 0);
  want[0] = 2;   // 0.0, 0.049
  want[10] = 2;  // 0.5, 0.5
  want[13] = 1;  // 0.65 (short of it by rounding)
  want[19] = 2;  // 0.95, 1.0
  EXPECT_EQ(boost::json::value_to<std::vector<int>>(scorers[0].at("histogram")), want);
  EXPECT_EQ(scorers[0].at("scored").to_number<int>(), 8);
  EXPECT_EQ(scorers[0].at("undefined").to_number<int>(), 1);
  std::vector<int> fuzz(20, 0);
  fuzz[2] = fuzz[7] = fuzz[12] = fuzz[17] = 1;
  EXPECT_EQ(boost::json::value_to<std::vector<int>>(scorers[1].at("histogram")), fuzz);
  EXPECT_EQ(scorers[1].at("scored").to_number<int>(), 4);
  // Latent 0 was added before fuzz was first seen: its list is one entry shorter.
  auto const& rows = list.at("latents").as_array();
  EXPECT_EQ(rows[0].as_array()[8].as_array().size(), 1u);
  EXPECT_EQ(rows[1].as_array()[8].as_array().size(), 2u);
  EXPECT_TRUE(rows[2].as_array()[8].as_array()[1].is_null());  // latent 2 has no fuzz file
  EXPECT_EQ(rows[8].as_array().size(), 8u);
}

// The page and the terminal text of views without scores are what they were before scores existed
// (sizes and FNV-1a hashes recorded from commit d0386b9, the last one without scores).
TEST(html_report, page_without_scores_is_unchanged) {
  report::report_builder b({"sample & <test>", "examples/data/cache layers.6"});
  b.add(sample_view());
  report::latent_view dead;
  dead.latent = {"layers.6", 416};
  b.add(dead);
  auto page = b.html();
  EXPECT_EQ(b.n_scorers(), 0u);
  EXPECT_EQ(page.size(), 15314u);
  EXPECT_EQ(fnv1a(page), 8062775498136115013ull);
  EXPECT_EQ(page.find("scorers"), std::string::npos);
  EXPECT_EQ(page.find("scoreBlock"), std::string::npos);
  EXPECT_EQ(count(page, "<style>"), 1u);

  // A score file that cannot be read still makes a scored page (with a null), never a crash.
  report::latent_view v = sample_view();
  report::scorer_figures broken;
  broken.scorer = "detection";
  broken.error = "damaged";
  v.scores.push_back(broken);
  report::report_builder with;
  with.add(v);
  auto rows = boost::json::parse(with.list_json()).at("latents").as_array();
  EXPECT_TRUE(rows[0].as_array()[8].as_array()[0].is_null());
}

TEST(terminal_view, scores_follow_the_explanation_one_line_per_scorer) {
  auto v = sample_view();
  auto const plain = report::render_terminal(v);
  auto const colour = report::render_terminal(v, {report::colour_mode::truecolour, true});
  EXPECT_EQ(plain.size(), 292u);  // as before scores existed (commit d0386b9)
  EXPECT_EQ(fnv1a(plain), 11016030218091301929ull);
  EXPECT_EQ(colour.size(), 904u);
  EXPECT_EQ(fnv1a(colour), 11880746836351298337ull);

  scratch tmp("report_show_scores");
  write_scored_run(tmp.path);
  auto store = pl::run_store::open(tmp.path, pl::store_mode::read);
  ASSERT_TRUE(store);
  v.scores = scored_view(*store, 1).scores;
  auto const scored = report::render_terminal(v);
  std::string const lines =
      "detection: balanced accuracy 0.708, F1 0.750, accuracy 0.714  TP 3 TN 2 FP 1 FN 1  failed 1\n"
      "fuzz:      balanced accuracy 1.000, F1 1.000, accuracy 1.000  TP 2 TN 2 FP 0 FN 0  failed 0\n";
  // The same text with the score lines right after the explanation line.
  auto const after = plain.find("[explained]\n") + std::string("[explained]\n").size();
  EXPECT_EQ(scored, plain.substr(0, after) + lines + plain.substr(after));

  // Undefined figures, a damaged file, a hostile scorer name; in colour the names are bold.
  v.scores = scored_view(*store, 2).scores;
  v.scores.push_back(figures_with("\x1b[2Jx\ny", std::nullopt));
  auto const odd = report::render_terminal(v);
  EXPECT_NE(odd.find("detection: balanced accuracy n/a, F1 1.000, accuracy 1.000  TP 2 TN 0 FP 0 FN 0  failed 0\n"),
            std::string::npos) << odd;
  EXPECT_NE(odd.find("fuzz:      unreadable score file: "), std::string::npos) << odd;
  EXPECT_NE(odd.find("\xe2\x90\x9b[2Jx\xe2\x86\xb5y:   balanced accuracy n/a, F1 n/a, accuracy n/a"), std::string::npos)
      << odd;  // names padded by characters, not bytes
  EXPECT_NE(odd.find("layers.6_latent2.txt"), std::string::npos) << odd;
  EXPECT_EQ(odd.find('\x1b'), std::string::npos);
  EXPECT_EQ(count(odd, "\n"), count(plain, "\n") + 3);
  auto const bold = report::render_terminal(v, {report::colour_mode::ansi256, true});
  EXPECT_NE(bold.find("\x1b[1mdetection:\x1b[0m balanced accuracy n/a"), std::string::npos) << bold;
  EXPECT_EQ(bold.find("\x1b[2J"), std::string::npos);

  // No header, no score lines.
  v.scores = scored_view(*store, 1).scores;
  EXPECT_EQ(report::render_terminal(v, {report::colour_mode::none, false}).find("balanced accuracy"), std::string::npos);
}

#if defined(AUTOINTERP_CLI_EXE)
namespace {

using test_support::cli_result;

// Runs the tool without OPENROUTER_API_KEY (so nothing calls an LLM: the statistical explainer and
// the keyword scorers); stdout and stderr apart.
cli_result run_cli(std::filesystem::path const& scratch_dir, std::string const& args) {
  return test_support::run_cli(AUTOINTERP_CLI_EXE, args, scratch_dir / "stderr.txt", "env -u OPENROUTER_API_KEY");
}

std::string q(std::filesystem::path const& p) { return "'" + p.string() + "'"; }

}  // namespace

// The real thing: `explain --scorers detection,fuzz` on the sample, then `show --run` and
// `report --run` show what the score files say; without scores their output is what it was.
TEST(cli, show_and_report_take_scores_from_the_run_folder) {
  scratch tmp("report_cli");
  auto const cache = std::string(AUTOINTERP_SOURCE_DIR "/examples/data/cache");
  auto const run = tmp.path / "run";
  auto ex = run_cli(tmp.path, "explain " + q(cache) + " --module layers.6 --latents 69,119 --min-examples 10 --out " +
                                  q(run) + " --scorers detection,fuzz");
  ASSERT_EQ(ex.code, 0) << ex.err;
  // The same run without its scores.
  auto const bare = tmp.path / "bare";
  std::filesystem::create_directories(bare);
  std::filesystem::copy(run / "explanations", bare / "explanations");
  std::filesystem::copy_file(run / "run.jsonl", bare / "run.jsonl");

  auto store = pl::run_store::open(run, pl::store_mode::read);
  ASSERT_TRUE(store);
  ASSERT_EQ(sc::list_scorers(*store), (std::vector<std::string>{"detection", "fuzz"}));
  auto figures = [&](std::string const& scorer, std::uint32_t latent) {
    auto s = sc::read_latent_scores(*store, scorer, {"layers.6", latent});
    EXPECT_TRUE(s && *s) << scorer << " " << latent;
    return report::make_scorer_figures(scorer, s && *s ? std::span<sc::score_sample const>((**s).samples)
                                                         : std::span<sc::score_sample const>());
  };

  // show: the score lines, right after the explanation; nothing else changes.
  auto shown = run_cli(tmp.path, "show " + q(cache) + " --latent 69 --n 3 --run " + q(run));
  ASSERT_EQ(shown.code, 0) << shown.err;
  auto unscored = run_cli(tmp.path, "show " + q(cache) + " --latent 69 --n 3 --run " + q(bare));
  ASSERT_EQ(unscored.code, 0) << unscored.err;
  auto alias = run_cli(tmp.path, "show " + q(cache) + " --latent 69 --n 3 --explanations " + q(bare));
  EXPECT_EQ(alias.out, unscored.out);
  EXPECT_EQ(unscored.out.find("balanced accuracy"), std::string::npos);
  report::latent_view lines_only;
  lines_only.scores = {figures("detection", 69), figures("fuzz", 69)};
  auto const header = report::render_terminal(lines_only);  // the score lines, then "no activating windows"
  auto const first = header.find("detection:");
  auto const score_lines = header.substr(first, header.find("no activating windows") - first);
  auto const status = unscored.out.find("[explained]\n");
  ASSERT_NE(status, std::string::npos) << unscored.out;
  auto const after = status + std::string("[explained]\n").size();
  EXPECT_EQ(shown.out, unscored.out.substr(0, after) + score_lines + unscored.out.substr(after));
  // The planted " Python" latent scores well under the keyword baseline.
  EXPECT_GE(lines_only.scores[0].metrics.balanced_accuracy.value_or(0), 0.9) << shown.out;
  EXPECT_GE(lines_only.scores[1].metrics.balanced_accuracy.value_or(0), 0.9) << shown.out;

  // report: the columns hold the score files' figures; unscored latents have none.
  auto const page_path = tmp.path / "scored.html";
  auto rep = run_cli(tmp.path, "report " + q(cache) + " --latents 60-130 --run " + q(run) + " --out " + q(page_path));
  ASSERT_EQ(rep.code, 0) << rep.err;
  auto const page = slurp(page_path);
  auto list = boost::json::parse(between(page, "<script type=\"application/json\" id=\"ai-list\">", "</script>")).as_object();
  auto const& scorers = list.at("scorers").as_array();
  ASSERT_EQ(scorers.size(), 2u);
  std::size_t with_scores = 0;
  std::vector<int> det_hist(report::score_histogram_bins, 0);
  for (auto const& row : list.at("latents").as_array()) {
    auto const& r = row.as_array();
    auto const index = r[1].to_number<std::uint32_t>();
    if (index != 69 && index != 119) {
      EXPECT_EQ(r.size(), 8u) << index;
      continue;
    }
    ++with_scores;
    ASSERT_EQ(r.size(), 9u);
    for (std::size_t s = 0; s < 2; ++s) {
      auto const name = std::string(scorers[s].at("name").as_string());
      auto const want = figures(name, index);
      auto const& got = r[8].as_array()[s].as_array();
      ASSERT_TRUE(want.metrics.balanced_accuracy);
      EXPECT_NEAR(got[0].to_number<double>(), *want.metrics.balanced_accuracy, 1e-4) << name << " " << index;
      EXPECT_EQ(got[3].to_number<std::uint64_t>(), want.metrics.counts.true_positives);
      EXPECT_EQ(got[4].to_number<std::uint64_t>(), want.metrics.counts.true_negatives);
      EXPECT_EQ(got[5].to_number<std::uint64_t>(), want.metrics.counts.false_positives);
      EXPECT_EQ(got[6].to_number<std::uint64_t>(), want.metrics.counts.false_negatives);
      EXPECT_EQ(got[7].to_number<std::uint64_t>(), want.metrics.counts.failed);
      if (s == 0) ++det_hist[report::unit_interval_bin(*want.metrics.balanced_accuracy, report::score_histogram_bins)];
    }
  }
  EXPECT_EQ(with_scores, 2u);
  EXPECT_EQ(boost::json::value_to<std::vector<int>>(scorers[0].at("histogram")), det_hist);
  EXPECT_NE(page.find("explanations and scores from " + run.string()), std::string::npos);

  // Without scores: the page --run makes is the page --explanations makes, with nothing of scores.
  auto const bare_run = tmp.path / "bare_run.html", bare_alias = tmp.path / "bare_alias.html";
  ASSERT_EQ(run_cli(tmp.path, "report " + q(cache) + " --latents 60-130 --run " + q(bare) + " --out " + q(bare_run)).code, 0);
  ASSERT_EQ(
      run_cli(tmp.path, "report " + q(cache) + " --latents 60-130 --explanations " + q(bare) + " --out " + q(bare_alias)).code,
      0);
  auto const unscored_page = slurp(bare_run);
  EXPECT_EQ(unscored_page, slurp(bare_alias));
  EXPECT_EQ(unscored_page.find("scorers"), std::string::npos);
  EXPECT_EQ(unscored_page.find("scoreBlock"), std::string::npos);
  EXPECT_NE(unscored_page.find("explanations from " + bare.string()), std::string::npos);
}
#endif
