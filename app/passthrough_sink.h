// server.delivery_mode = "passthrough": the client waits at end of data while the upstream delivers, and the
// upstream's verdict becomes the reply. The message is staged in the spool's tmp/ (never committed, never
// fsynced) only so the transport can read it; nothing stays queued and nothing is retried or bounced here.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "queue/fs_spool.h"
#include "smtpd/message_sink.h"
#include "upstream/transport.h"

namespace smarthost::app {

class PassthroughSink final : public smtpd::MessageSink {
 public:
  // `transport` is the one the scheduler uses (the router, or test mode in front of it); `deadline` bounds the
  // wait for its verdict. Both the spool and the transport must outlive the sink and every running delivery.
  PassthroughSink(queue::FsSpool& spool, upstream::Transport& transport, std::chrono::milliseconds deadline)
      : spool_(spool), transport_(transport), deadline_(deadline) {}

  std::unique_ptr<queue::SpoolWriter> begin(std::error_code& error) override;
  // Every recipient delivered: 250. Any temporary failure, refusal by every upstream, or the deadline passing:
  // 451 4.4.1. Otherwise (a permanent failure): the upstream's 5xx reply, or 554 5.0.0 with its text. A delivery
  // still running at the deadline finishes in the background; its result is logged only.
  boost::asio::awaitable<smtpd::CommitOutcome> finish(std::unique_ptr<queue::SpoolWriter> writer,
                                                      const mail::Envelope& envelope) override;

 private:
  queue::FsSpool& spool_;
  upstream::Transport& transport_;
  std::chrono::milliseconds deadline_;
};

// The client's reply for a passthrough delivery result (empty for success). No I/O; for tests.
std::string passthrough_reply(const upstream::DeliveryResult& result);

}  // namespace smarthost::app
