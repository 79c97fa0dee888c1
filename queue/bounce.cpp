// Builds the bounce for a message's failed recipients: DSN fields from the last replies, expiry as 4.4.7.
#include "queue/bounce.h"

#include <algorithm>

#include "mail/dsn.h"

namespace smarthost::queue {

Bounce make_bounce(const StoredMessage& message, std::string_view original_headers, std::span<const Failure> failures,
                   std::string_view hostname, std::chrono::system_clock::time_point now) {
  mail::DsnReport report;
  report.reporting_mta = std::string(hostname);
  report.sender = message.envelope.mail_from;
  report.original_queue_id = message.id;
  report.arrival_date = message.envelope.received_at;
  report.date = now;
  report.original_headers = std::string(original_headers);
  bool any_expired = false;
  for (const auto& failure : failures) {
    mail::DsnRecipient recipient;
    recipient.address = failure.address;
    recipient.action = "failed";
    recipient.diagnostic = failure.reply;
    recipient.remote_mta = failure.upstream;
    recipient.status = mail::enhanced_status(failure.reply);
    if (failure.expired) {
      any_expired = true;
      // The last temporary answer says why; without one, RFC 3463's "delivery time expired".
      if (recipient.status.empty() || recipient.status[0] != '4') recipient.status = "4.4.7";
    }
    report.recipients.push_back(std::move(recipient));
  }
  if (any_expired) {
    report.reason = "Your message could not be delivered to one or more recipients before its time in the queue "
                    "ran out. It is attached below (headers only).";
  }

  Bounce bounce;
  bounce.content = mail::build_dsn(report);
  bounce.envelope.mail_from.clear();
  mail::Recipient sender;
  sender.address = message.envelope.mail_from;
  bounce.envelope.recipients.push_back(std::move(sender));
  bool eight_bit = std::any_of(bounce.content.begin(), bounce.content.end(),
                               [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  bounce.envelope.body = eight_bit ? mail::BodyType::eight_bit_mime : mail::BodyType::seven_bit;
  bounce.envelope.smtputf8 = message.envelope.smtputf8;
  bounce.envelope.client_address = "local";
  bounce.envelope.client_helo = std::string(hostname);
  bounce.envelope.received_at = now;
  return bounce;
}

}  // namespace smarthost::queue
