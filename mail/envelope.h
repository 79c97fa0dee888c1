// The SMTP envelope of one message: who sent it, to whom, and what the client said about it.
// A plain value type shared by smtpd/, queue/ and upstream/; it does no I/O and knows no transport.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace smarthost::mail {

enum class BodyType { seven_bit, eight_bit_mime };

// What became of one recipient so far.
enum class RecipientState { pending, delivered, failed };

struct Recipient {
  std::string address;  // the forward-path without angle brackets, e.g. "user@example.net"
  RecipientState state = RecipientState::pending;
  std::string last_reply;  // the last upstream answer for this recipient, e.g. "451 4.4.1 timeout"
};

struct Envelope {
  std::string mail_from;  // the reverse-path without angle brackets; empty for the null sender <>
  std::vector<Recipient> recipients;
  BodyType body = BodyType::seven_bit;
  bool smtputf8 = false;
  std::string client_address;  // "203.0.113.5" or "unix"
  std::string client_helo;
  std::string auth_user;  // empty when the client did not authenticate
  std::chrono::system_clock::time_point received_at{};
};

}  // namespace smarthost::mail
