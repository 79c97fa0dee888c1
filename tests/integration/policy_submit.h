// Submits one message over SMTP for the policy integration tests and keeps every reply, so a test can say which
// step was refused and how. Header-only; used by tests/integration/policy_*_test.cpp.
#pragma once

#include <string>
#include <vector>

#include "tests/support/smtp_wire.h"

namespace smarthost::test {

struct Submission {
  std::string greeting;
  std::string mail;                 // reply to MAIL FROM
  std::vector<std::string> rcpts;   // replies to each RCPT TO
  std::string data;                 // reply to DATA (354), empty when not sent
  std::string end;                  // reply after the final dot, empty when not sent
  bool accepted() const { return reply_code(end) == 250; }
};

struct Letter {
  std::string from = "app@example.com";
  std::vector<std::string> to{"user@example.net"};
  std::string message_id;  // empty: no Message-ID header
  std::string subject = "policy test";
  std::string body = "Hello.\r\n";
  std::string auth_plain;  // base64 of "\0user\0password": AUTH PLAIN first
};

inline Submission submit(SmtpWire& wire, const Letter& l) {
  Submission s;
  s.mail = wire.command("MAIL FROM:<" + l.from + ">");
  if (reply_code(s.mail) != 250) return s;
  bool any = false;
  for (const auto& to : l.to) {
    s.rcpts.push_back(wire.command("RCPT TO:<" + to + ">"));
    any = any || reply_code(s.rcpts.back()) == 250;
  }
  if (!any) {
    wire.command("RSET");
    return s;
  }
  s.data = wire.command("DATA");
  if (reply_code(s.data) != 354) return s;
  std::string text = "From: <" + l.from + ">\r\nTo: <" + l.to.front() + ">\r\nSubject: " + l.subject + "\r\n";
  if (!l.message_id.empty()) text += "Message-ID: " + l.message_id + "\r\n";
  text += "\r\n" + l.body + ".\r\n";
  wire.send(text);
  s.end = wire.reply(std::chrono::seconds(10));
  return s;
}

// A whole session: greeting, EHLO, optional AUTH, one message, QUIT.
inline Submission submit(int port, const Letter& l) {
  SmtpWire wire(port);
  Submission s;
  s.greeting = wire.reply();
  if (reply_code(s.greeting) != 220) return s;
  wire.command("EHLO client.test");
  if (!l.auth_plain.empty() && reply_code(wire.command("AUTH PLAIN " + l.auth_plain)) != 235) {
    s.mail = "AUTH failed";
    return s;
  }
  std::string greeting = s.greeting;
  s = submit(wire, l);
  s.greeting = greeting;
  wire.command("QUIT");
  return s;
}

}  // namespace smarthost::test
