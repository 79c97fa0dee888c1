// The part every provider API transport shares: reading the message, enforcing the provider's limits, running the
// planned HTTP calls one after the other, classifying each answer (outcome_classifier.h) and turning it all into
// one DeliveryResult with an answer per recipient. Each provider only plans its calls and reads its answers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conf/config.h"
#include "upstream/header_rewrite.h"
#include "upstream/http/http_client.h"
#include "upstream/http/payload_budget.h"
#include "upstream/outcome_classifier.h"
#include "upstream/transport.h"

namespace smarthost::upstream::http {

// What one provider accepts; checked before anything is sent.
struct ProviderLimits {
  uint64_t max_message_bytes = 25ull << 20;    // the raw message
  uint64_t max_request_bytes = 30ull << 20;    // one request body as sent
  std::size_t max_recipients_per_call = 1000;  // larger envelopes are split into several calls
};

// Knobs that are not in the configuration model (or are, but tests override them).
struct HttpTransportOptions {
  bool allow_control_headers = false;  // pass client X-Mailgun-*, X-SES-*, X-PM-* headers through
  bool gzip_requests = false;          // compress request bodies (only for accounts / providers that accept it)
  std::optional<ProviderLimits> limits;  // default: the provider's documented limits
  std::size_t max_response_bytes = 1 << 20;
  std::function<std::chrono::system_clock::time_point()> clock;  // default: system_clock::now (SigV4 dates)
  std::shared_ptr<PayloadBudget> budget;  // default: PayloadBudget::process_wide()
  std::chrono::milliseconds max_budget_wait{600000};  // then the attempt is deferred
};

// The answer to one planned unit (a request, or one element of a Postmark batch).
struct UnitAnswer {
  Classification classification;
  std::string reply;      // "HTTP 400: 'to' parameter is not a valid address"
  std::string remote_id;  // the provider's message id
  std::optional<std::chrono::system_clock::time_point> retry_after;  // from Retry-After / X-RateLimit-*
};

// One HTTP call and the recipients each of its units covers (one unit per request, several for a batch).
struct PlannedCall {
  HttpRequest request;
  std::vector<std::vector<std::size_t>> units;  // envelope recipient indices per unit
};

// What a provider makes of one message before sending: the calls, or a reason it cannot be sent.
struct DeliveryPlan {
  std::vector<PlannedCall> calls;
  // Recipients refused before sending (e.g. a non-ASCII address for SES): index and reason; permanent.
  std::vector<std::pair<std::size_t, std::string>> refused;
  // The whole message cannot go to this upstream: outcome (permanent or upstream_refused) and reason.
  std::optional<std::pair<Outcome, std::string>> failure;
};

class HttpTransport : public Transport {
 public:
  boost::asio::awaitable<DeliveryResult> deliver(const OutboundMessage& message) override;
  const std::string& name() const override { return name_; }
  // The provider's probe_request(): ok on a 2xx answer, else the answer described ("HTTP 401: ...").
  boost::asio::awaitable<ProbeResult> probe(std::chrono::milliseconds timeout) override;

 protected:
  // A cheap authenticated read-only call (Mailgun domain info, SendGrid scopes, Postmark server, SES account);
  // nullopt when the provider has none. The timeout is set by probe().
  virtual std::optional<HttpRequest> probe_request() const { return std::nullopt; }

  HttpTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                const conf::TestModeConfig& test_mode, std::shared_ptr<HttpClient> client,
                HttpTransportOptions options, ProviderLimits defaults);

  // Plans the calls for one message (its raw content, CRLF line ends, which the plan may consume to save a copy).
  virtual DeliveryPlan plan(const OutboundMessage& message, std::string content) = 0;
  // The most memory planning and sending a message of `size` bytes takes at once (content, MIME view, request
  // bodies), reserved from the payload budget before the message is read; measured per provider. The default
  // fits the JSON APIs: the message while it is parsed, then its decoded parts and the request (2.75x measured
  // with a 16 MB attachment).
  virtual uint64_t payload_estimate(uint64_t size) const { return 3 * size + kPayloadOverhead; }
  static constexpr uint64_t kPayloadOverhead = 256 * 1024;
  // A reservation for `message` from the payload budget; nullopt (the attempt is deferred) after max_budget_wait.
  boost::asio::awaitable<std::optional<PayloadBudget::Reservation>> reserve_payload(const OutboundMessage& message);
  // Reads one answer: one UnitAnswer per unit of the call (or a single one that stands for all of them).
  virtual std::vector<UnitAnswer> read_answer(const PlannedCall& call, const HttpResponse& response);
  // The text passed to classify_http for an error answer (SES puts its error type in a header).
  virtual std::string classification_text(const HttpResponse& response) const { return response.body; }
  // A short human reason from an error body ("message" of the JSON, or the start of the body).
  virtual std::string error_text(const HttpResponse& response) const;
  // The message id in a success answer.
  virtual std::string success_id(const HttpResponse& response) const;

  // Runs the calls in order; after a call that fails, the calls after it are not made (their units get the same
  // outcome, or "temporary" after a permanent failure, since that failure may be about one part only).
  // Each call's request body is moved out when it is sent.
  // `stopped`, when given, receives the answer the calls after a failure got (nullopt when none failed).
  boost::asio::awaitable<std::vector<std::vector<UnitAnswer>>> run_calls(std::vector<PlannedCall>& calls,
                                                                          std::optional<UnitAnswer>* stopped = nullptr);

  // A standard request: URL, timeout, response cap and gzip as configured.
  HttpRequest base_request(std::string url) const;
  // "HTTP 400: <reason>" or "no answer: <error>".
  static std::string describe(const HttpResponse& response, std::string_view reason);

  // The answer for every recipient of `message`: units, refusals and the plan's failure folded together.
  static DeliveryResult assemble(const OutboundMessage& message, const DeliveryPlan& plan,
                                 const std::vector<std::vector<UnitAnswer>>& answers);
  static DeliveryResult fail_all(const OutboundMessage& message, Outcome outcome, const std::string& reason);

  std::chrono::system_clock::time_point now() const;
  // One structured log line per delivery.
  void log_result(const OutboundMessage& message, const DeliveryResult& result, std::size_t calls,
                  std::chrono::steady_clock::duration took) const;

  std::string name_;
  conf::ProviderKind kind_;
  conf::CommonProviderConfig common_;
  SenderIdentity identity_;
  conf::UpstreamOptions upstream_options_;
  conf::TestModeConfig test_mode_;
  std::shared_ptr<HttpClient> client_;
  HttpTransportOptions options_;
  ProviderLimits limits_;
  std::shared_ptr<PayloadBudget> budget_;
};

// A client with the [security] TLS settings and the upstream's connection pool size, for transports built
// without a shared one.
std::shared_ptr<HttpClient> make_http_client(boost::asio::any_io_executor executor,
                                             const conf::SecurityConfig& security,
                                             const conf::UpstreamOptions& options);

// Refuses (throws std::invalid_argument at start-up) a configured value that would break a header or JSON field.
void require_header_safe(std::string_view what, std::string_view value);

// The base URL without a trailing slash: `endpoint` when set, else `fallback`.
std::string base_url(const conf::CommonProviderConfig& common, std::string_view fallback);

}  // namespace smarthost::upstream::http
