// The delivery interface every upstream implements (smtp, mailgun, sendgrid, postmark, ses, file).
// Transports are built only by the factory (factory.h); the rest of the program sees this interface alone.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mail/content_file.h"
#include "mail/envelope.h"

namespace smarthost::upstream {

// How a delivery attempt ended. Decided in one place: outcome_classifier.h.
enum class Outcome {
  delivered,    // the upstream took responsibility for the message
  temporary,    // try again later (4xx, 429, 5xx HTTP, timeouts, dropped connections)
  permanent,    // the message itself is refused (bad recipient, rejected content): bounce it
  upstream_refused,  // refused for reasons of this upstream (credentials, unverified sender, quota):
                     // permanent for this upstream only; another upstream may take it
};

std::string_view to_string(Outcome);

struct RecipientResult {
  std::string address;
  Outcome outcome = Outcome::temporary;
  std::string reply;  // e.g. "550 5.1.1 no such user" or "HTTP 400: 'to' parameter is not a valid address"
  std::string upstream;  // the upstream that gave this answer, when a router chose among several
};

struct DeliveryResult {
  Outcome outcome = Outcome::temporary;   // for the message as a whole
  std::vector<RecipientResult> recipients;  // one per recipient handed in, same order
  std::string reply;                      // the upstream's answer, for logs and DSNs
  std::string remote_id;                  // the provider's message id, when it gives one
  bool upstream_unhealthy = false;        // 421, dropped or timed-out connection, 5xx: feeds the breaker
  bool throttled = false;                 // 429, 454 throttling, SES ThrottlingException: feeds adaptive rate
  std::optional<std::chrono::system_clock::time_point> retry_after;  // Retry-After / X-RateLimit-Reset
};

// One message handed to a transport: its envelope (only the recipients to attempt) and its content on disk.
struct OutboundMessage {
  std::string queue_id;
  mail::Envelope envelope;
  std::string content_path;   // the spool file holding the message
  uint64_t content_offset = 0;  // where the RFC 5322 message starts in that file (CRLF line ends, not dot-stuffed)
  uint64_t size = 0;            // bytes of message from content_offset to the end of the file
  // The spool file already open (mail/content_file.h), when the spool kept it; null: open content_path.
  std::shared_ptr<const mail::ContentFile> content_file;
};

// What a health probe found (see Transport::probe).
struct ProbeResult {
  bool ok = false;
  std::string detail;  // what was checked ("EHLO, STARTTLS, AUTH ok"), or why it failed ("HTTP 401: ...")
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Never throws for remote failures: every outcome comes back in the result, one per recipient.
  virtual boost::asio::awaitable<DeliveryResult> deliver(const OutboundMessage& message) = 0;
  // Sends several messages in one exchange where the upstream allows it; the default sends them one by one.
  virtual boost::asio::awaitable<std::vector<DeliveryResult>> deliver_batch(std::span<const OutboundMessage> batch);
  // The upstream's name from the configuration, for logs and metrics.
  virtual const std::string& name() const = 0;
  // A cheap read-only check that the upstream is reachable and takes our credentials, for health checks and
  // `validate`: SMTP connects, says EHLO, STARTTLS where configured, AUTH, QUIT; HTTP providers make one
  // authenticated GET. Sends no mail. Never throws; each wait is bounded by `timeout`. The default has nothing to
  // check and says ok.
  virtual boost::asio::awaitable<ProbeResult> probe(std::chrono::milliseconds timeout);
  // An administrator asked for queued mail to go now (`smarthost queue flush`, `queue retry`): forget what was
  // inferred about the upstreams' health (open circuit breakers), so the next delivery tries them at once.
  // Pauses and rate limits a provider asked for stay. Thread-safe. The default has nothing to forget.
  virtual void retry_now() {}
};

}  // namespace smarthost::upstream
