// Connects the SMTP server to the spool: queue mode makes each message durable (group commit) before the 250;
// passthrough mode spools it to a private file, delivers it at once, and answers with the upstream's verdict.
// With [caching] enable_response_caching, a re-submission of a message already queued within cache_ttl
// (same fingerprint: Message-ID, sender, recipients, body) gets the 250 again and is not queued twice.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "queue/fs_spool.h"
#include "smtpd/message_sink.h"
#include "policy/cache.h"
#include "upstream/transport.h"

namespace smarthost::app {

// Where dedup fingerprints are remembered; no cache = no dedup.
struct Dedup {
  policy::Cache* cache = nullptr;  // must outlive the sink
  std::string key_prefix;          // caching.cache_key_prefix
  std::chrono::seconds ttl{3600};  // caching.cache_ttl
};

class QueueSink final : public smtpd::MessageSink {
 public:
  explicit QueueSink(queue::FsSpool& spool, Dedup dedup = {}) : spool_(spool), dedup_(std::move(dedup)) {}
  std::unique_ptr<queue::SpoolWriter> begin(std::error_code& error) override;
  boost::asio::awaitable<smtpd::CommitOutcome> finish(std::unique_ptr<queue::SpoolWriter> writer,
                                                      const mail::Envelope& envelope) override;

 private:
  queue::FsSpool& spool_;
  Dedup dedup_;
};

// The reply for a spool failure: 452 4.3.1 when storage is full, 451 4.3.0 otherwise.
std::string spool_failure_reply(std::error_code error);

}  // namespace smarthost::app
