// 02_build_record: a latent's record, the windows an explainer is shown, with their token strings.
//   02_build_record CACHE TOKENIZER_JSON MODULE LATENT
//
// records::async_load_record is the one record source of the SDK (explain, score, show and report
// all use it): it loads the latent, cuts and samples windows as delphi does, and with a tokenizer
// fills each example's `str_tokens`. Below, each train example prints as one line with its
// strongest token marked << >>.
#include <autointerp/cache/dataset.hpp>
#include <autointerp/records/load_record.hpp>
#include <autointerp/tokenizer/tokenizer.hpp>
#include <autointerp/with_diagnostics.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <iostream>
#include <string>

namespace asio = boost::asio;
using namespace autointerp;

asio::awaitable<void> show(asio::thread_pool::executor_type cpu, std::filesystem::path root,
                           std::filesystem::path tokenizer_file, cache::latent_id id) {
  cache::dataset data = co_await cache::dataset::async_open(cpu, root);
  tokenizer::tokenizer tok = co_await tokenizer::async_load_tokenizer(cpu, tokenizer_file);

  records::load_options options;  // delphi's defaults, made smaller for a terminal
  options.records.min_examples = 1;
  options.records.n_examples_train = 8;
  options.records.train_type = records::train_sampler::top;
  options.records.n_examples_test = 0;
  options.records.n_non_activating = 0;
  // with_diagnostics: a failure (say, a latent past the width) throws autointerp::exception with
  // our message, not only the error code's name. (Wrap use_awaitable: Boost 1.81 cannot co_await
  // a deferred operation that completes with an exception_ptr.)
  records::latent_record record =
      co_await records::async_load_record(data, id, options, &tok, cpu, with_diagnostics(asio::use_awaitable));

  std::cout << id.module << " latent " << id.index << ": " << record.n_examples << " activating windows, "
            << record.train.size() << " shown\n";
  for (records::activating_example const& ex : record.train) {
    auto strongest = std::max_element(ex.activations.begin(), ex.activations.end()) - ex.activations.begin();
    std::string line;
    for (std::size_t i = 0; i < ex.str_tokens.size(); ++i) {
      std::string text = ex.str_tokens[i];
      std::replace(text.begin(), text.end(), '\n', ' ');  // one window, one line
      line += static_cast<std::ptrdiff_t>(i) == strongest ? "<<" + text + ">>" : text;
    }
    std::cout << "  max " << ex.max_activation() << " | " << line << "\n";
  }
}

int main(int argc, char** argv) try {
  if (argc != 5) return std::cerr << "usage: 02_build_record CACHE TOKENIZER_JSON MODULE LATENT\n", 2;
  asio::io_context io;
  asio::thread_pool cpu(2);
  cache::latent_id id{argv[3], static_cast<std::uint32_t>(std::stoul(argv[4]))};
  auto done = asio::co_spawn(io, show(cpu.get_executor(), argv[1], argv[2], id), asio::use_future);
  io.run();
  done.get();
  return 0;
} catch (std::exception const& e) {
  std::cerr << "02_build_record: " << e.what() << "\n";
  return 1;
}
