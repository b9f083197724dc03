#pragma once
// autointerp's out-of-line parts, for programs built with AUTOINTERP_SEPARATE_COMPILATION: include
// this in exactly one translation unit; every other one then sees declarations only.
//
// It compiles autointerp's own code only, not Asio's, Beast's or their SSL parts. Those can be
// compiled once as well, which is your choice and independent of this one: define
// BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION for the whole program, and
// include these in exactly one translation unit (this header's or another):
//   #include <boost/asio/impl/src.hpp>
//   #include <boost/asio/ssl/impl/src.hpp>
//   #include <boost/beast/src.hpp>

#include <autointerp/config.hpp>

#if !defined(AUTOINTERP_SEPARATE_COMPILATION)
#  error "autointerp/src.hpp is for AUTOINTERP_SEPARATE_COMPILATION builds only"
#endif

// Each area lists its impl/*.ipp files here.
#include <autointerp/cache/impl/safetensors.ipp>
#include <autointerp/cache/impl/shard.ipp>
#include <autointerp/cache/impl/tokens_file.ipp>
#include <autointerp/cache/impl/native_format.ipp>
#include <autointerp/cache/impl/dataset.ipp>
#include <autointerp/cache/impl/convert.ipp>
#include <autointerp/explain/impl/highlight.ipp>
#include <autointerp/explain/impl/build_prompt.ipp>
#include <autointerp/explain/impl/parse_answer.ipp>
#include <autointerp/explain/impl/statistical.ipp>
#include <autointerp/report/impl/escape.ipp>
#include <autointerp/report/impl/terminal_view.ipp>
#include <autointerp/report/impl/html_report.ipp>
#include <autointerp/records/impl/example_windows.ipp>
#include <autointerp/records/impl/samplers.ipp>
#include <autointerp/records/impl/non_activating.ipp>
#include <autointerp/records/impl/build_record.ipp>
#include <autointerp/records/impl/record_json.ipp>
#include <autointerp/neighbours/impl/torch_topk.ipp>
#include <autointerp/neighbours/impl/cooccurrence.ipp>
#include <autointerp/neighbours/impl/sae_weights.ipp>
#include <autointerp/neighbours/impl/weight_similarity.ipp>
#include <autointerp/neighbours/impl/neighbour_file.ipp>
#include <autointerp/neighbours/impl/compute_neighbours.ipp>
#include <autointerp/tokenizer/impl/tokenizer.ipp>
#include <autointerp/tokenizer/impl/find_tokenizer.ipp>
#include <autointerp/llm/impl/wire.ipp>
#include <autointerp/llm/impl/client.ipp>
#include <autointerp/batch/impl/batch_api.ipp>
