// Connects the SMTP server to the spool: queue mode makes each message durable (group commit) before the 250;
// passthrough mode spools it to a private file, delivers it at once, and answers with the upstream's verdict.
#pragma once

#include <memory>

#include "queue/fs_spool.h"
#include "smtpd/message_sink.h"
#include "upstream/transport.h"

namespace smarthost::app {

class QueueSink final : public smtpd::MessageSink {
 public:
  explicit QueueSink(queue::FsSpool& spool) : spool_(spool) {}
  std::unique_ptr<queue::SpoolWriter> begin(std::error_code& error) override;
  boost::asio::awaitable<smtpd::CommitOutcome> finish(std::unique_ptr<queue::SpoolWriter> writer,
                                                      const mail::Envelope& envelope) override;

 private:
  queue::FsSpool& spool_;
};

// The reply for a spool failure: 452 4.3.1 when storage is full, 451 4.3.0 otherwise.
std::string spool_failure_reply(std::error_code error);

}  // namespace smarthost::app
