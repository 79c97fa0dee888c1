// Where the SMTP server hands accepted messages: the queue (store and forward) or a passthrough delivery.
// The server streams the body into the writer from begin(), then awaits finish() before answering end of data.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <system_error>

#include "mail/envelope.h"
#include "queue/spool.h"
#include "smtpd/session.h"

namespace smarthost::smtpd {

class MessageSink {
 public:
  virtual ~MessageSink() = default;
  // Starts a message; null with `error` set when the spool cannot take one (the client gets 452 4.3.1).
  virtual std::unique_ptr<queue::SpoolWriter> begin(std::error_code& error) = 0;
  // Makes the message durable (queue mode) or delivers it now (passthrough). The outcome's reply, when set,
  // overrides the default "250 2.0.0 Ok: queued as <id>". Never throws for I/O or upstream failures.
  virtual boost::asio::awaitable<CommitOutcome> finish(std::unique_ptr<queue::SpoolWriter> writer,
                                                       const mail::Envelope& envelope) = 0;
};

}  // namespace smarthost::smtpd
