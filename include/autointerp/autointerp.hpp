#pragma once
// Everything autointerp offers, in one include. Prefer the one-concept headers in your own
// translation units: they compile faster.

#include <autointerp/config.hpp>
#include <autointerp/error.hpp>
#include <autointerp/run_on.hpp>
#include <autointerp/cache/latent_activations.hpp>
#include <autointerp/cache/token_matrix.hpp>
#include <autointerp/cache/convert.hpp>
#include <autointerp/cache/dataset.hpp>
#include <autointerp/cache/latent_spec.hpp>
#include <autointerp/cache/native_format.hpp>
#include <autointerp/records/latent_record.hpp>
#include <autointerp/records/build_record.hpp>
#include <autointerp/records/record_json.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>
#include <autointerp/tokenizer/find_tokenizer.hpp>
#include <autointerp/tokenizer/str_tokens.hpp>
#include <autointerp/report/html_report.hpp>
#include <autointerp/report/load_view.hpp>
#include <autointerp/report/run_results.hpp>
#include <autointerp/report/terminal_view.hpp>
#include <autointerp/llm/client.hpp>
