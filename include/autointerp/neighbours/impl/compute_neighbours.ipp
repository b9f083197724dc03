#pragma once
// Out-of-line parts of compute_neighbours.hpp.

#include <autointerp/neighbours/compute_neighbours.hpp>
#include <autointerp/neighbours/sae_weights.hpp>

namespace autointerp::neighbours {

AUTOINTERP_DECL result<computed_neighbours> compute_neighbours(cache::dataset const& data, std::string const& module,
                                                               compute_options const& options) {
  if (options.k == 0) return make_error(errc::bad_option, "compute_options::k is 0; ask for at least one neighbour");
  auto info = data.module(module);
  if (!info) return info.error();
  computed_neighbours out;
  if (options.method == method::cooccurrence) {
    cooccurrence_options co;
    co.k = options.k;
    co.memory_budget = options.memory_budget;
    co.threads = options.threads;
    auto sets = read_token_sets(data, module, co, options.progress);
    if (!sets) return sets.error();
    auto lists = cooccurrence_neighbours(*sets, co, options.progress);
    if (!lists) return lists.error();
    out.lists = std::move(*lists);
    out.source = "co-occurrence over " + std::to_string(sets->n_tokens) + " tokens of module " + module;
    return out;
  }
  if (options.sae.empty())
    return make_error(errc::bad_option, std::string(file_type(options.method)) +
                                            " needs the SAE's weights: set compute_options::sae to its .safetensors file or folder");
  auto w = load_sae_weights(options.sae, module,
                            options.method == method::encoder ? weight_kind::encoder : weight_kind::decoder);
  if (!w) return w.error();
  if (w->latents != (*info)->width)
    return make_error(errc::bad_shape, w->file.string() + ": " + w->tensor + " has " + std::to_string(w->latents) +
                                           " latents but module " + module + " of the cache has " +
                                           std::to_string((*info)->width) + "; name the SAE trained for this module");
  out.source = w->describe();
  similarity_options so;
  so.k = options.k;
  so.threads = options.threads;
  so.gemm = options.gemm;
  auto lists = similarity_neighbours(*w, so, options.progress);
  if (!lists) return lists.error();
  out.lists = std::move(*lists);
  return out;
}

}  // namespace autointerp::neighbours
