// Turns a message's failed recipients into a bounce: an RFC 3464 report (mail/dsn.h) from the null sender to
// the original sender, ready to spool. Deciding whether to bounce (never for <>) is the scheduler's job.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>

#include "mail/envelope.h"
#include "queue/stored_message.h"

namespace smarthost::queue {

struct Failure {
  std::string address;
  std::string reply;     // the last answer for this recipient ("550 5.1.1 ..."); may be empty
  bool expired = false;  // gave up after queue.max_lifetime of temporary failures
  std::string upstream;  // the upstream that answered last; may be empty
};

struct Bounce {
  mail::Envelope envelope;  // from <> to the original sender
  std::string content;      // the whole report, CRLF line ends
};

Bounce make_bounce(const StoredMessage& message, std::string_view original_headers, std::span<const Failure> failures,
                   std::string_view hostname, std::chrono::system_clock::time_point now);

}  // namespace smarthost::queue
