#pragma once
// Settings of an LLM client: endpoint, timeouts per phase, pool, TLS, proxy, retries and budgets.

#include <autointerp/error.hpp>
#include <autointerp/llm/chat_router.hpp>
#include <autointerp/llm/endpoint.hpp>
#include <autointerp/llm/price_table.hpp>
#include <autointerp/llm/proxy.hpp>
#include <autointerp/llm/rate_limiter.hpp>
#include <autointerp/llm/retry_policy.hpp>
#include <autointerp/llm/spend_budget.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace autointerp::llm {

/// One timeout per phase of an attempt; 0 disables that timeout. A phase that runs out fails the
/// attempt with `errc::timeout`, which is retried like a connection error.
struct timeouts {
  std::chrono::milliseconds resolve{10'000};        ///< host name lookup
  std::chrono::milliseconds connect{10'000};        ///< TCP connect, and the proxy's CONNECT answer
  std::chrono::milliseconds tls_handshake{10'000};  ///< TLS handshake and certificate checks
  std::chrono::milliseconds request{300'000};       ///< writing the request and reading the whole answer
};

/// Reported before each retry (for logs and progress): which attempt failed, why, and the wait.
/// Holds no secrets: error texts never contain the key.
struct retry_event {
  std::uint32_t attempt = 0;          ///< the attempt that failed (1-based)
  std::chrono::milliseconds delay{0}; ///< the wait before the next attempt
  bool server_delay = false;          ///< the wait is the server's retry-after-ms / Retry-After (capped)
  autointerp::error error;            ///< why the attempt failed
};

/// Client settings. Plain data with documented defaults.
struct client_options {
  llm::endpoint endpoint;   ///< where to send requests (see `openrouter()`, `openai()`, `local()`)
  llm::timeouts timeouts;
  std::size_t max_connections = 64;             ///< keep-alive pool size for the endpoint
  std::chrono::milliseconds idle_timeout{30'000}; ///< idle pooled connections older than this are closed, not reused
  std::size_t max_response_bytes = 8u << 20;    ///< larger answers fail with `errc::response_too_large`
  std::string ca_file;                          ///< extra trusted CA certificates (PEM), e.g. a private CA
  bool default_ca_paths = true;                 ///< also trust OpenSSL's defaults (SSL_CERT_FILE / SSL_CERT_DIR apply)
  /// Unset: from HTTPS_PROXY / HTTP_PROXY / NO_PROXY. Set (even empty) to ignore the environment.
  std::optional<proxy_settings> proxy;
  retry_policy retry;
  rate_limits limits;
  std::function<void(retry_event const&)> on_retry;  ///< called on the client's executor; may be empty
  std::string user_agent = "autointerp/0.1";
  std::uint64_t seed = 0;  ///< seed of the backoff jitter; 0 = from std::random_device
  /// Prices that cost the calls whose answer has no `usage.cost`; null = such calls cost 0 (unknown).
  std::shared_ptr<price_table const> prices;
  /// The job's spending budget, shared by its clients: every call is admitted against it first and
  /// refused with `errc::budget_exhausted` when it would pass it. Null = no budget.
  std::shared_ptr<spend_budget> budget;
  /// Takes over chat calls (the OpenAI Batch API); null = one HTTP request per call. Budget and
  /// prices still apply.
  std::shared_ptr<chat_router> router;
};

}  // namespace autointerp::llm
