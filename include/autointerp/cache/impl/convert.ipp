#pragma once
// Out-of-line parts of <autointerp/cache/convert.hpp>.

#include <autointerp/cache/convert.hpp>
#include <autointerp/cache/detail/file_io.hpp>
#include <autointerp/cache/native_format.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace autointerp::cache {

namespace detail {

// Whether `out` may be removed to convert again: it holds only the marker and module folders with
// native shards, delphi's config.json and temporary files, and it neither is nor holds the source.
inline result<void> check_replaceable(std::filesystem::path const& out, std::filesystem::path const& source) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto resolved = [&ec](fs::path const& p) {
    auto r = fs::weakly_canonical(p, ec).lexically_normal();
    return r.has_filename() ? r : r.parent_path();  // no trailing separator
  };
  auto const o = resolved(out), s = resolved(source);
  auto inside = [](fs::path const& a, fs::path const& b) {  // a is b or below it
    return std::mismatch(a.begin(), a.end(), b.begin(), b.end()).second == b.end();
  };
  if (inside(o, s) || inside(s, o))
    return make_error(errc::bad_option, out.string() + ": is or holds the source cache; name another output folder");
  auto foreign = [&](fs::path const& p) {
    return make_error(errc::bad_option, p.string() + ": not written by convert, so " + out.string() +
                                            " is not replaced; remove it yourself or name a new folder");
  };
  auto temporary = [](std::string const& name) { return name.find(".tmp") != std::string::npos; };
  // Listed without exceptions: a folder changing underneath ends the check with an error.
  for (fs::directory_iterator it(out, ec), end; !ec && it != end; it.increment(ec)) {
    auto const& e = *it;
    auto name = e.path().filename().string();
    std::error_code fec;
    if (e.is_regular_file(fec) && (name == native_marker || temporary(name))) continue;
    if (!e.is_directory(fec) || e.is_symlink(fec)) return foreign(e.path());
    for (fs::directory_iterator jt(e.path(), ec); !ec && jt != end; jt.increment(ec)) {
      auto fname = jt->path().filename().string();
      bool const ours = fname == native_file_name || fname == "config.json" || temporary(fname);
      if (!jt->is_regular_file(fec) || jt->is_symlink(fec) || !ours) return foreign(jt->path());
    }
  }
  if (ec) return make_error(errc::unreadable_file, out.string() + ": cannot list the folder: " + ec.message());
  return {};
}

}  // namespace detail

AUTOINTERP_DECL result<convert_report> convert_cache(dataset const& in, std::filesystem::path const& out,
                                                     convert_options const& opts) {
  std::error_code ec;
  if (std::filesystem::exists(out, ec) && !std::filesystem::is_empty(out, ec)) {
    if (!opts.replace)
      return make_error(errc::bad_option, out.string() +
                                              ": the output folder exists and is not empty; name a new folder "
                                              "(or replace an earlier conversion: convert_options::replace)");
    if (auto ok = detail::check_replaceable(out, in.root()); !ok) return ok.error();
    std::filesystem::remove_all(out, ec);
    if (ec) return make_error(errc::write_failed, out.string() + ": cannot remove the earlier conversion: " + ec.message());
  }
  std::filesystem::create_directories(out, ec);
  if (ec) return make_error(errc::write_failed, out.string() + ": cannot create the folder: " + ec.message());

  convert_report report;
  boost::json::array modules;
  std::size_t const threads = std::max<std::size_t>(1, opts.threads);
  for (auto const& m : in.modules()) {
    for (auto const& s : m.shards) report.bytes_in += s.file_size;
    auto dir = out / m.name;
    std::filesystem::create_directories(dir, ec);
    if (ec) return make_error(errc::write_failed, dir.string() + ": cannot create the folder: " + ec.message());
    auto tokens = in.tokens(m.name);
    if (!tokens && !(tokens.error() == errc::tokens_missing)) return tokens.error();
    native_header meta;
    meta.first_latent = 0;
    meta.latent_count = m.width;
    meta.ctx_len = m.ctx_len;
    meta.rows = tokens ? (*tokens)->rows : m.rows;
    meta.dtype = m.dtype;
    if (meta.rows == 0)
      return make_error(errc::tokens_missing, m.path.string() + ": the number of token rows is unknown (no tokens, no "
                                                                "n_tokens in config.json); name a tokens file");
    auto writer = native_shard_writer::create(dir / native_file_name, meta);
    if (!writer) return writer.error();

    // Latents are loaded and compressed in chunks by `threads` workers, then appended in order.
    std::uint32_t const chunk = 256;
    std::vector<result<native_block>> blocks(chunk, native_block{});
    for (std::uint32_t begin = 0; begin < m.width; begin += chunk) {
      std::uint32_t const n = std::min<std::uint32_t>(chunk, m.width - begin);
      std::atomic<std::uint32_t> next{0};
      auto work = [&] {
        for (std::uint32_t i; (i = next.fetch_add(1)) < n;) {
          auto a = in.load_latent(m.name, begin + i);
          blocks[i] = a ? encode_native_block(*a, opts.zstd_level) : result<native_block>(a.error());
        }
      };
      std::vector<std::thread> team;
      for (std::size_t t = 1; t < std::min<std::size_t>(threads, n); ++t) team.emplace_back(work);
      work();
      for (auto& t : team) t.join();
      for (std::uint32_t i = 0; i < n; ++i) {
        if (!blocks[i]) return blocks[i].error();
        report.activations += blocks[i]->count;
        if (auto r = writer->add(*blocks[i]); !r) return r.error();
      }
      report.latents += n;
      if (opts.progress) opts.progress(m.name, begin + n, m.width);
    }
    if (tokens)
      if (auto r = writer->set_tokens(**tokens, opts.zstd_level); !r) return r.error();
    if (auto r = writer->finish(); !r) return r.error();
    report.bytes_out += std::filesystem::file_size(dir / native_file_name, ec);
    if (m.format == cache_format::delphi) {
      auto cfg = detail::read_small_file(m.path / "config.json");
      if (!cfg) return cfg.error();
      if (auto r = detail::write_file_atomically(dir / "config.json", *cfg); !r) return r.error();
    }
    boost::json::object entry;
    entry["name"] = m.name;
    entry["file"] = m.name + "/" + std::string(native_file_name);
    entry["model_name"] = m.model_name;
    entry["width"] = m.width;
    entry["ctx_len"] = m.ctx_len;
    entry["rows"] = meta.rows;
    modules.push_back(std::move(entry));
    ++report.modules;
  }
  boost::json::object marker;
  marker["format"] = "autointerp-native";
  marker["version"] = native_version;
  marker["source"] = in.root().string();
  marker["modules"] = std::move(modules);
  if (auto r = detail::write_file_atomically(out / native_marker, boost::json::serialize(marker) + "\n"); !r)
    return r.error();
  return report;
}

}  // namespace autointerp::cache
