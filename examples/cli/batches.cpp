// `autointerp batches OUT [--cancel]`: the OpenAI batches an `--provider openai-batch` job
// submitted (OUT/batches.jsonl), with their latest status; `--cancel` cancels those still running
// (requests that ran stay in their output files, and `--resume` collects them).
#include "cache_selection.hpp"
#include "commands.hpp"

#include <autointerp/batch/batch_api.hpp>
#include <autointerp/batch/batch_log.hpp>
#include <autointerp/llm/client.hpp>
#include <autointerp/llm/endpoint.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace ai = autointerp;

namespace {

struct batches_args {
  std::string out, base_url;
  bool cancel = false;
};

// Cancels each running batch and records what the API answered. A named type: g++ 12 and lambdas
// in coroutine frames do not mix.
struct cancel_all {
  ai::llm::client* client;
  ai::batch::batch_log* log;
  boost::asio::awaitable<ai::result<std::size_t>> operator()() const {
    std::size_t n = 0;
    for (auto const& b : log->unfinished()) {
      auto op = ai::batch::detail::cancel_batch(*client, b.batch_id);
      auto got = co_await std::move(op);
      if (!got) co_return got.error();
      if (auto r = log->record_status(b.batch_id, got->status, got->output_file_id, got->error_file_id); !r)
        co_return r.error();
      std::cout << b.batch_id << ": " << ai::batch::to_string(got->status) << "\n";
      ++n;
    }
    co_return n;
  }
};

int run_batches(batches_args const& a) {
  auto const path = std::filesystem::path(a.out) / "batches.jsonl";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return cli::fail("batches", path.string() + " does not exist; give the --out folder of an --provider openai-batch job");
  auto log = ai::batch::batch_log::open(path);
  if (!log) return cli::fail("batches", log.error().what());
  std::size_t running = 0;
  for (auto const& b : log->batches()) {
    std::cout << b.batch_id << "  " << b.stage << "  " << b.requests << " requests  " << ai::batch::to_string(b.status)
              << "\n";
    running += !ai::batch::is_terminal(b.status);
  }
  if (!a.cancel) {
    std::cout << log->batches().size() << " batches, " << running << " running\n";
    return 0;
  }
  if (running == 0) {
    std::cout << "nothing to cancel\n";
    return 0;
  }
  auto ep = ai::llm::preset("openai", a.base_url);
  if (!ep) return cli::fail("batches", ep.error().what());
  boost::asio::io_context io;
  ai::llm::client_options co;
  co.endpoint = std::move(*ep);
  ai::llm::client client(io.get_executor(), std::move(co));
  if (auto const* e = client.config_error()) return cli::fail("batches", e->what());
  std::optional<ai::result<std::size_t>> done;
  cancel_all const job{&client, &*log};  // outlives the coroutine, which refers to it
  boost::asio::co_spawn(io, job(), [&](std::exception_ptr ep2, ai::result<std::size_t> r) {
    done = ep2 ? ai::result<std::size_t>(ai::internal_error("batches --cancel")) : std::move(r);
  });
  io.run();
  if (!done || !*done) return cli::fail("batches", done ? done->error().what() : "cancelling did not complete", 1);
  std::cout << **done << " batches cancelled; `--resume` collects what they answered\n";
  return 0;
}

}  // namespace

void cli::add_batches_command(CLI::App& app, cli::action& run) {
  auto a = std::make_shared<batches_args>();
  auto* cmd = app.add_subcommand("batches", "list the OpenAI batches an openai-batch job submitted; --cancel cancels the running ones");
  cmd->add_option("out", a->out, "the --out folder of an --provider openai-batch job")->required();
  cmd->add_flag("--cancel", a->cancel, "cancel every batch still running (OPENAI_API_KEY)");
  cmd->add_option("--base-url", a->base_url, "the Batch API's base URL (default OpenAI's)");
  cmd->callback([a, &run] { run = [a] { return run_batches(*a); }; });
}
