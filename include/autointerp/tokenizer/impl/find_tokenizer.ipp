#pragma once
// Out-of-line parts of find_tokenizer.hpp.

#include <autointerp/tokenizer/find_tokenizer.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

namespace autointerp::tokenizer {

namespace detail {

inline bool is_file(std::filesystem::path const& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec);
}

inline bool is_dir(std::filesystem::path const& p) {
  std::error_code ec;
  return std::filesystem::is_directory(p, ec);
}

// config.json's model_name, or "" when the file is absent, not JSON or has none.
inline std::string model_name_in(std::filesystem::path const& config) {
  std::ifstream in(config, std::ios::binary);
  if (!in) return {};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  boost::system::error_code ec;
  auto const v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return {};
  auto const* name = v.get_object().if_contains("model_name");
  return name && name->is_string() ? std::string(name->get_string()) : std::string();
}

inline std::string model_name_of_cache(tokenizer_search const& s) {
  if (!s.module_dir.empty()) {
    if (auto n = model_name_in(s.module_dir / "config.json"); !n.empty()) return n;
  }
  if (s.cache_root.empty() || !is_dir(s.cache_root)) return {};
  if (auto n = model_name_in(s.cache_root / "config.json"); !n.empty()) return n;
  std::vector<std::filesystem::path> modules;
  std::error_code ec;
  for (auto const& e : std::filesystem::directory_iterator(s.cache_root, ec)) modules.push_back(e.path());
  std::sort(modules.begin(), modules.end());
  for (auto const& m : modules) {
    if (auto n = model_name_in(m / "config.json"); !n.empty()) return n;
  }
  return {};
}

inline std::string quoted_list(std::vector<std::string> const& places) {
  std::string out;
  for (auto const& p : places) out += (out.empty() ? "" : ", ") + p;
  return out;
}

}  // namespace detail

AUTOINTERP_DECL std::vector<std::filesystem::path> default_hub_caches() {
  std::vector<std::filesystem::path> out;
  auto const env = [](char const* name) -> std::string {
    char const* v = std::getenv(name);
    return v ? std::string(v) : std::string();
  };
  auto const add = [&](std::filesystem::path p) {
    if (p.empty()) return;
    p = p.lexically_normal();
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(std::move(p));
  };
  if (auto v = env("HF_HUB_CACHE"); !v.empty()) add(v);
  if (auto v = env("HF_HOME"); !v.empty()) add(std::filesystem::path(v) / "hub");
  if (auto v = env("XDG_CACHE_HOME"); !v.empty()) add(std::filesystem::path(v) / "huggingface" / "hub");
  if (auto v = env("HOME"); !v.empty()) add(std::filesystem::path(v) / ".cache" / "huggingface" / "hub");
  return out;
}

AUTOINTERP_DECL result<std::filesystem::path> find_tokenizer(tokenizer_search const& search) {
  namespace fs = std::filesystem;
  if (!search.explicit_path.empty()) {
    fs::path const& p = search.explicit_path;
    if (detail::is_dir(p)) {
      if (detail::is_file(p / "tokenizer.json")) return p / "tokenizer.json";
      return make_error(errc::file_not_found, "the tokenizer folder " + p.string() +
                                                  " has no tokenizer.json; pass the file itself as tokenizer_search::explicit_path");
    }
    if (detail::is_file(p)) return p;
    return make_error(errc::file_not_found,
                      "the tokenizer " + p.string() + " does not exist; check tokenizer_search::explicit_path");
  }

  std::vector<std::string> tried;
  auto const check = [&](fs::path const& candidate) {
    tried.push_back(candidate.string());
    return detail::is_file(candidate);
  };
  if (!search.module_dir.empty() && check(search.module_dir / "tokenizer.json")) return search.module_dir / "tokenizer.json";
  if (!search.cache_root.empty()) {
    bool const same = !search.module_dir.empty() && search.cache_root.lexically_normal() == search.module_dir.lexically_normal();
    if (!same && check(search.cache_root / "tokenizer.json")) return search.cache_root / "tokenizer.json";
    // Beside the cache folder (as in examples/data: cache/ and tokenizer.json side by side).
    std::error_code ec;
    fs::path root = fs::absolute(search.cache_root, ec).lexically_normal();
    if (root.filename().empty() && root.has_parent_path()) root = root.parent_path();
    if (!ec && root.has_parent_path() && root.parent_path() != root) {
      fs::path const beside = root.parent_path() / "tokenizer.json";
      if (check(beside)) return beside;
    }
  }

  std::string const model = search.model_name.empty() ? detail::model_name_of_cache(search) : search.model_name;
  if (!model.empty()) {
    if (detail::is_dir(model) && check(fs::path(model) / "tokenizer.json")) return fs::path(model) / "tokenizer.json";
    // models--ORG--NAME: the hub cache replaces each "/" of the repo id with "--".
    std::string folder = "models--";
    for (char c : model) {
      if (c == '/') folder += "--";
      else folder += c;
    }
    auto const hubs = search.hub_caches.empty() ? default_hub_caches() : search.hub_caches;
    for (auto const& hub : hubs) {
      fs::path const repo = hub / folder;
      fs::path const snapshots = repo / "snapshots";
      std::string main_commit;
      if (std::ifstream ref(repo / "refs" / "main"); ref) std::getline(ref, main_commit);
      if (!main_commit.empty() && main_commit.find('/') == std::string::npos &&
          check(snapshots / main_commit / "tokenizer.json"))
        return snapshots / main_commit / "tokenizer.json";
      std::vector<std::pair<fs::file_time_type, fs::path>> others;
      std::error_code ec;
      for (auto const& e : fs::directory_iterator(snapshots, ec)) {
        fs::path const f = e.path() / "tokenizer.json";
        if (!detail::is_file(f)) continue;
        std::error_code tec;
        auto const t = fs::last_write_time(f, tec);
        others.emplace_back(tec ? fs::file_time_type::min() : t, f);
      }
      if (!others.empty()) {  // the newest snapshot that has the file
        std::sort(others.begin(), others.end(), [](auto const& a, auto const& b) { return a.first > b.first; });
        return others.front().second;
      }
      tried.push_back((snapshots / "*" / "tokenizer.json").string());
    }
  }

  std::string message = "no tokenizer.json found";
  if (!model.empty()) message += " for model \"" + model + "\"";
  message += " (tried: " + (tried.empty() ? std::string("nothing") : detail::quoted_list(tried)) + "); ";
  if (!model.empty())
    message += "get it with `huggingface-cli download " + model + " tokenizer.json` or set tokenizer_search::explicit_path";
  else
    message += "the cache's config.json names no model_name: set tokenizer_search::explicit_path";
  return make_error(errc::tokenizer_not_found, std::move(message));
}

AUTOINTERP_DECL result<std::filesystem::path> find_tokenizer_for_cache(std::filesystem::path const& cache,
                                                                       std::string_view model_name,
                                                                       std::filesystem::path const& explicit_path) {
  tokenizer_search search;
  search.explicit_path = explicit_path;
  search.model_name = std::string(model_name);
  std::filesystem::path dir = cache.lexically_normal();
  if (dir.filename().empty() && dir.has_parent_path()) dir = dir.parent_path();  // "cache/" -> "cache"
  // A module folder holds config.json; its parent is the cache root.
  if (detail::is_file(dir / "config.json")) {
    search.module_dir = dir;
    search.cache_root = dir.has_parent_path() ? dir.parent_path() : std::filesystem::path(".");
  } else {
    search.cache_root = dir;
  }
  return find_tokenizer(search);
}

AUTOINTERP_DECL result<std::filesystem::path> find_tokenizer_for_module(std::filesystem::path const& cache_root,
                                                                        cache::module_info const& module,
                                                                        std::filesystem::path const& explicit_path) {
  tokenizer_search search;
  search.explicit_path = explicit_path;
  search.module_dir = module.path;
  search.cache_root = cache_root;
  search.model_name = module.model_name;
  return find_tokenizer(search);
}

}  // namespace autointerp::tokenizer
