#pragma once
// Out-of-line parts of <autointerp/cache/dataset.hpp>.

#include <autointerp/cache/dataset.hpp>
#include <autointerp/cache/detail/file_io.hpp>
#include <autointerp/cache/native_format.hpp>
#include <autointerp/cache/impl/safetensors.ipp>  // detail::json_u64
#include <autointerp/cache/safetensors.hpp>
#include <autointerp/cache/shard.hpp>
#include <autointerp/cache/tokens_file.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <optional>

namespace autointerp::cache {

AUTOINTERP_DECL result<module_config> parse_module_config(std::string_view json, std::filesystem::path const& file) {
  std::string const f = file.string();
  boost::system::error_code ec;
  auto v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return make_error(errc::bad_config, f + ": not a JSON object (" + ec.message() + ")");
  auto const& o = v.get_object();
  module_config c;
  auto const* ctx = o.if_contains("cache_ctx_len");
  if (!ctx) ctx = o.if_contains("ctx_len");  // older delphi caches
  std::uint64_t n = 0;
  if (!ctx || !(ctx->is_uint64() || ctx->is_int64()) || (n = ctx->is_uint64() ? ctx->get_uint64() : std::uint64_t(ctx->get_int64())) == 0 ||
      (ctx->is_int64() && ctx->get_int64() < 0) || n > 0xffffffffu)
    return make_error(errc::bad_config, f + ": needs \"cache_ctx_len\" (or \"ctx_len\" in older caches) as a positive integer");
  c.ctx_len = static_cast<std::uint32_t>(n);
  if (auto const* t = o.if_contains("n_tokens"); t && t->is_int64() && t->get_int64() > 0)
    c.n_tokens = static_cast<std::uint64_t>(t->get_int64());
  if (auto const* m = o.if_contains("model_name")) {
    if (!m->is_string()) return make_error(errc::bad_config, f + ": \"model_name\" is not a string");
    c.model_name = std::string(m->get_string());
  }
  return c;
}

namespace detail {

struct module_state {
  std::optional<native_shard> native;  // native caches only
  mutable std::mutex tokens_mutex;
  mutable std::shared_ptr<token_matrix const> tokens;
};

struct dataset_state {
  std::filesystem::path root;
  cache_format format = cache_format::delphi;
  open_options options;
  std::vector<module_info> infos;
  std::vector<std::unique_ptr<module_state>> states;  // parallel to infos
  std::unique_ptr<shard_cache> cache;
  std::shared_ptr<token_matrix const> user_tokens;  // from open_options::tokens_file, read at open
};

// "{start}_{end}.safetensors[.zst]" -> range, or nullopt for any other name.
inline std::optional<shard_info> parse_shard_name(std::filesystem::path const& p) {
  std::string name = p.filename().string();
  bool zstd = false;
  auto strip = [&](std::string_view suffix) {
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      name.resize(name.size() - suffix.size());
      return true;
    }
    return false;
  };
  if (strip(".zst")) zstd = true;
  if (!strip(".safetensors")) return std::nullopt;
  auto us = name.find('_');
  if (us == std::string::npos) return std::nullopt;
  std::uint32_t a = 0, b = 0;
  auto r1 = std::from_chars(name.data(), name.data() + us, a);
  auto r2 = std::from_chars(name.data() + us + 1, name.data() + name.size(), b);
  if (us == 0 || r1.ec != std::errc{} || r1.ptr != name.data() + us || us + 1 == name.size() || r2.ec != std::errc{} ||
      r2.ptr != name.data() + name.size() || b < a)
    return std::nullopt;
  shard_info s;
  s.first_latent = a;
  s.last_latent = b;
  s.path = p;
  s.zstd = zstd;
  return s;
}

inline std::vector<shard_info> list_shards(std::filesystem::path const& dir) {
  std::vector<shard_info> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    if (auto s = parse_shard_name(it->path())) {
      s->file_size = it->file_size(ec);
      out.push_back(std::move(*s));
    }
  }
  std::sort(out.begin(), out.end(), [](auto const& x, auto const& y) {
    return std::tie(x.first_latent, x.last_latent, x.zstd) < std::tie(y.first_latent, y.last_latent, y.zstd);
  });
  // A range stored both plain and compressed: keep the plain file (sorted first).
  out.erase(std::unique(out.begin(), out.end(),
                        [](auto const& x, auto const& y) {
                          return x.first_latent == y.first_latent && x.last_latent == y.last_latent;
                        }),
            out.end());
  return out;
}

inline std::string join_names(std::vector<std::string> const& names, std::size_t limit = 12) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < limit; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > limit) s += ", ... (" + std::to_string(names.size()) + " in all)";
  return s.empty() ? "none" : s;
}

inline result<module_config> read_module_config(std::filesystem::path const& file) {
  auto text = read_small_file(file);
  if (!text) return text.error();
  return parse_module_config(*text, file);
}

inline error module_not_found(dataset_state const& s, std::string_view name) {
  std::vector<std::string> names;
  for (auto const& m : s.infos) names.push_back(m.name);
  return make_error(errc::unknown_module, "module \"" + std::string(name) + "\" is not in cache " + s.root.string() +
                                              " (modules: " + join_names(names) + ")");
}

inline result<std::shared_ptr<token_matrix const>> check_tokens(std::shared_ptr<token_matrix const> t,
                                                                module_info const& m, std::string const& from) {
  if (t->ctx != m.ctx_len || (m.rows != 0 && t->rows != m.rows))
    return make_error(errc::bad_shape, from + ": token matrix is " + std::to_string(t->rows) + " x " +
                                           std::to_string(t->ctx) + " but module " + m.name + " needs " +
                                           (m.rows ? std::to_string(m.rows) : std::string("any")) + " x " +
                                           std::to_string(m.ctx_len));
  return t;
}

inline result<void> open_delphi_module(module_info& m, std::filesystem::path const& config, open_options const& opts,
                                       std::vector<std::string> const& all_modules) {
  std::error_code ec;
  if (!std::filesystem::exists(config, ec))
    return make_error(errc::config_missing,
                      config.string() + " not found: each module folder needs delphi's config.json (with cache_ctx_len "
                                        "or ctx_len) beside its shards; module folders found: " +
                          join_names(all_modules));
  auto cfg = read_module_config(config);
  if (!cfg) return cfg.error();
  m.ctx_len = cfg->ctx_len;
  m.model_name = cfg->model_name;
  for (std::size_t i = 1; i < m.shards.size(); ++i)
    if (m.shards[i].first_latent <= m.shards[i - 1].last_latent)
      return make_error(errc::bad_shape, m.shards[i].path.string() + ": latents " +
                                             std::to_string(m.shards[i].first_latent) + "-" +
                                             std::to_string(m.shards[i].last_latent) + " overlap shard " +
                                             m.shards[i - 1].path.filename().string());
  if (m.shards.back().last_latent == 0xffffffffu)
    return make_error(errc::bad_shape, m.shards.back().path.string() + ": latent range too large");
  m.width = m.shards.back().last_latent + 1;
  auto const& first = m.shards.front();
  auto h = safetensors_file::read_header(first.path);
  if (!h) return h.error();
  auto const* act = h->find("activations");
  if (!act) return make_error(errc::bad_header, first.path.string() + ": no \"activations\" tensor (not a delphi latent cache shard?)");
  switch (act->dtype) {
    case tensor_dtype::f16: m.dtype = activation_dtype::f16; break;
    case tensor_dtype::bf16: m.dtype = activation_dtype::bf16; break;
    case tensor_dtype::f32: m.dtype = activation_dtype::f32; break;
    default:
      return make_error(errc::bad_dtype, first.path.string() + ": activations has dtype " +
                                             std::string(dtype_name(act->dtype)) + "; expected F16, BF16 or F32");
  }
  if (auto const* tok = h->find("tokens")) {
    if (tok->shape.size() != 2 || tok->shape[1] != m.ctx_len)
      return make_error(errc::bad_shape, first.path.string() + ": tokens " + tok->describe() + " disagree with " +
                                             config.string() + " (context length " + std::to_string(m.ctx_len) + ")");
    m.rows = tok->shape[0];
    m.has_tokens = true;
  } else if (opts.tokens_file.empty() && cfg->n_tokens % m.ctx_len == 0) {
    m.rows = cfg->n_tokens / m.ctx_len;
  }
  return {};
}

inline result<std::shared_ptr<dataset_state>> open_native(std::filesystem::path const& root, open_options const& opts) {
  auto marker = root / native_marker;
  auto text = read_small_file(marker);
  if (!text) return text.error();
  boost::system::error_code ec;
  auto v = boost::json::parse(*text, ec);
  auto bad = [&](std::string const& why) { return make_error(errc::bad_header, marker.string() + ": " + why); };
  if (ec || !v.is_object()) return bad("not a JSON object");
  auto const& o = v.get_object();
  auto const* version = o.if_contains("version");
  std::uint64_t v_number = 0;
  if (!version || !json_u64(*version, v_number) || v_number == 0) return bad("no format version");
  if (v_number > native_version)
    return make_error(errc::unsupported_version, marker.string() + ": written by format version " +
                                                     std::to_string(v_number) + "; this autointerp reads " +
                                                     std::to_string(native_version) +
                                                     " (upgrade autointerp or convert the cache again)");
  auto const* modules = o.if_contains("modules");
  if (!modules || !modules->is_array()) return bad("no modules array");
  auto state = std::make_shared<dataset_state>();
  state->root = root;
  state->format = cache_format::native;
  state->options = opts;
  for (auto const& mv : modules->get_array()) {
    auto const* mo = mv.if_object();
    auto const* name = mo ? mo->if_contains("name") : nullptr;
    if (!name || !name->is_string()) return bad("a module entry has no name");
    module_info m;
    m.name = std::string(name->get_string());
    if (m.name.empty() || m.name == "." || m.name == ".." || m.name.find('/') != std::string::npos)
      return bad("module name \"" + m.name + "\" is not a folder name");
    if (auto const* mn = mo->if_contains("model_name"); mn && mn->is_string()) m.model_name = std::string(mn->get_string());
    m.path = root / m.name;
    m.format = cache_format::native;
    auto file = m.path / native_file_name;
    auto shard = native_shard::open(file);
    if (!shard) return shard.error();
    auto const& h = shard->header();
    if (h.first_latent != 0 || h.latent_count == 0)
      return make_error(errc::bad_header, file.string() + ": a module file must hold latents 0 to width - 1");
    m.width = h.latent_count;
    m.ctx_len = h.ctx_len;
    m.rows = h.rows;
    m.dtype = h.dtype;
    m.has_tokens = h.tokens_offset != 0;
    std::error_code sec;
    m.shards.push_back(shard_info{0, h.latent_count - 1, file, false, std::filesystem::file_size(file, sec)});
    auto ms = std::make_unique<module_state>();
    ms->native = std::move(*shard);
    state->infos.push_back(std::move(m));
    state->states.push_back(std::move(ms));
  }
  if (state->infos.empty()) return bad("lists no modules");
  return state;
}

inline result<std::shared_ptr<dataset_state>> open_delphi(std::filesystem::path const& root, open_options const& opts) {
  std::error_code ec;
  std::vector<std::filesystem::path> dirs;
  std::vector<std::string> subfolders;
  if (!list_shards(root).empty()) {
    dirs.push_back(root);  // the root is itself a module folder
  } else {
    for (std::filesystem::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_directory(ec)) continue;
      subfolders.push_back(it->path().filename().string());
      if (!list_shards(it->path()).empty()) dirs.push_back(it->path());
    }
    if (ec) return make_error(errc::unreadable_file, root.string() + ": cannot list the folder: " + ec.message());
  }
  std::sort(dirs.begin(), dirs.end());
  std::sort(subfolders.begin(), subfolders.end());
  if (dirs.empty())
    return make_error(errc::no_shards, root.string() + ": no module folder with shards named {start}_{end}.safetensors "
                                                       "(or .safetensors.zst); subfolders: " +
                                           join_names(subfolders));
  std::vector<std::string> names;
  for (auto const& d : dirs) names.push_back(d.filename().string());
  auto state = std::make_shared<dataset_state>();
  state->root = root;
  state->format = cache_format::delphi;
  state->options = opts;
  for (auto const& d : dirs) {
    module_info m;
    m.name = d.filename().string();
    m.path = d;
    m.format = cache_format::delphi;
    m.shards = list_shards(d);
    if (auto r = open_delphi_module(m, d / "config.json", opts, names); !r) return r.error();
    state->infos.push_back(std::move(m));
    state->states.push_back(std::make_unique<module_state>());
  }
  return state;
}

inline result<std::shared_ptr<decoded_shard const>> load_delphi_shard(dataset_state const& s, module_info const& m,
                                                                      shard_info const& shard) {
  return s.cache->get(shard.path.string(), [&]() -> result<std::shared_ptr<decoded_shard const>> {
    auto f = safetensors_file::open(shard.path, s.options.memory_budget);
    if (!f) return f.error();
    shard_limits limits{shard.first_latent, shard.last_latent, m.rows, m.ctx_len};
    auto need = decoded_shard_bytes(f->header(), limits);
    if (need > s.options.memory_budget)
      return make_error(errc::memory_budget, shard.path.string() + ": decodes to " + std::to_string(need) +
                                                 " bytes, over the memory budget of " +
                                                 std::to_string(s.options.memory_budget) + " (raise the memory budget)");
    auto d = decode_shard(*f, limits);
    if (!d) return d.error();
    return std::make_shared<decoded_shard const>(std::move(*d));
  });
}

}  // namespace detail

AUTOINTERP_DECL result<dataset> dataset::open(std::filesystem::path root, open_options opts) {
  std::error_code ec;
  auto st = std::filesystem::status(root, ec);
  if (!std::filesystem::exists(st))
    return make_error(errc::file_not_found, root.string() + ": no such cache folder");
  if (!std::filesystem::is_directory(st))
    return make_error(errc::file_not_found, root.string() + ": not a folder (name the cache folder, not a file in it)");
  auto state = std::filesystem::exists(root / native_marker, ec) ? detail::open_native(root, opts)
                                                                 : detail::open_delphi(root, opts);
  if (!state) return state.error();
  auto& s = **state;
  s.cache = std::make_unique<shard_cache>(opts.memory_budget);
  if (!opts.tokens_file.empty()) {
    // The user's token matrix replaces the shards' for every module: read it now so its shape is
    // checked before any latent is loaded.
    auto t = read_tokens_file(opts.tokens_file);
    if (!t) return t.error();
    for (auto& m : s.infos) {
      if (t->ctx != m.ctx_len)
        return make_error(errc::bad_shape, opts.tokens_file.string() + ": token matrix is " + std::to_string(t->rows) +
                                               " x " + std::to_string(t->ctx) + " but module " + m.name +
                                               " has context length " + std::to_string(m.ctx_len));
      m.rows = t->rows;
      m.has_tokens = true;
    }
    s.user_tokens = std::make_shared<token_matrix const>(std::move(*t));
  }
  dataset d;
  d.state_ = std::move(*state);
  return d;
}

AUTOINTERP_DECL std::filesystem::path const& dataset::root() const noexcept { return state_->root; }
AUTOINTERP_DECL cache_format dataset::format() const noexcept { return state_->format; }
AUTOINTERP_DECL std::span<module_info const> dataset::modules() const noexcept { return state_->infos; }

AUTOINTERP_DECL result<module_info const*> dataset::module(std::string_view name) const {
  for (auto const& m : state_->infos)
    if (m.name == name) return &m;
  return detail::module_not_found(*state_, name);
}

AUTOINTERP_DECL result<std::shared_ptr<token_matrix const>> dataset::tokens(std::string_view module) const {
  auto const& s = *state_;
  auto mi = this->module(module);
  if (!mi) return mi.error();
  auto const& m = **mi;
  auto const& ms = *s.states[static_cast<std::size_t>(*mi - s.infos.data())];
  std::lock_guard lock(ms.tokens_mutex);
  if (ms.tokens) return ms.tokens;
  std::shared_ptr<token_matrix const> t;
  std::string from;
  if (s.user_tokens) {
    t = s.user_tokens;
    from = s.options.tokens_file.string();
  } else if (!m.has_tokens) {
    return make_error(errc::tokens_missing, m.path.string() + ": the shards of module " + m.name +
                                                " carry no tokens; name a tokens file (.npy or .safetensors: "
                                                "open_options::tokens_file)");
  } else if (ms.native) {
    auto r = ms.native->read_tokens();
    if (!r) return r.error();
    t = std::make_shared<token_matrix const>(std::move(*r));
    from = ms.native->name();
  } else {
    auto const& first = m.shards.front();
    auto f = safetensors_file::open(first.path, s.options.memory_budget);
    if (!f) return f.error();
    auto const* tt = f->header().find("tokens");
    if (!tt) return make_error(errc::tokens_missing, first.path.string() + ": no \"tokens\" tensor");
    auto r = read_token_tensor(f->tensor(*tt), *tt, first.path.string());
    if (!r) return r.error();
    t = std::make_shared<token_matrix const>(std::move(*r));
    from = first.path.string();
  }
  auto checked = detail::check_tokens(std::move(t), m, from);
  if (!checked) return checked.error();
  ms.tokens = *checked;
  return ms.tokens;
}

AUTOINTERP_DECL result<latent_activations> dataset::load_latent(std::string_view module, std::uint32_t latent) const {
  auto const& s = *state_;
  auto mi = this->module(module);
  if (!mi) return mi.error();
  auto const& m = **mi;
  if (latent >= m.width)
    return make_error(errc::latent_out_of_range, "latent " + std::to_string(latent) + " is past the width " +
                                                     std::to_string(m.width) + " of module " + m.name + " in " +
                                                     s.root.string() + " (latents are 0-" +
                                                     std::to_string(m.width - 1) + ")");
  auto const& ms = *s.states[static_cast<std::size_t>(*mi - s.infos.data())];
  if (ms.native) return ms.native->read_latent(latent, m.name);
  auto it = std::upper_bound(m.shards.begin(), m.shards.end(), latent,
                             [](std::uint32_t l, shard_info const& sh) { return l < sh.first_latent; });
  if (it == m.shards.begin() || (it - 1)->last_latent < latent)
    return make_error(errc::no_shards, m.path.string() + ": no shard holds latent " + std::to_string(latent) +
                                           " (the shard files leave a gap there)");
  auto const& shard = *(it - 1);
  auto d = detail::load_delphi_shard(s, m, shard);
  if (!d) return d.error();
  latent_activations out;
  out.latent = latent_id{m.name, latent};
  out.dtype = (*d)->dtype;
  (*d)->copy_latent(latent, out);
  return out;
}

AUTOINTERP_DECL result<std::vector<latent_summary>> dataset::summaries(std::string_view module) const {
  auto const& s = *state_;
  auto mi = this->module(module);
  if (!mi) return mi.error();
  auto const& m = **mi;
  auto const& ms = *s.states[static_cast<std::size_t>(*mi - s.infos.data())];
  std::vector<latent_summary> out(m.width);
  if (ms.native) {
    auto index = ms.native->index();
    for (std::size_t i = 0; i < index.size() && i < out.size(); ++i) out[i] = {index[i].count, index[i].max};
    return out;
  }
  for (auto const& shard : m.shards) {
    auto d = detail::load_delphi_shard(s, m, shard);
    if (!d) return d.error();
    auto const& ds = **d;
    for (std::uint32_t l = shard.first_latent; l <= shard.last_latent; ++l) {
      auto b = ds.offsets[l - shard.first_latent], e = ds.offsets[l - shard.first_latent + 1];
      latent_summary sum;
      sum.count = static_cast<std::uint32_t>(e - b);
      if (e > b) sum.max = *std::max_element(ds.values.begin() + static_cast<std::ptrdiff_t>(b), ds.values.begin() + static_cast<std::ptrdiff_t>(e));
      out[l] = sum;
      if (l == shard.last_latent) break;
    }
  }
  return out;
}

AUTOINTERP_DECL shard_cache_stats dataset::cache_stats() const { return state_->cache->stats(); }

AUTOINTERP_DECL std::uint64_t dataset::native_bytes_read() const {
  std::uint64_t n = 0;
  for (auto const& ms : state_->states)
    if (ms->native) n += ms->native->bytes_read();
  return n;
}

}  // namespace autointerp::cache
