// Helpers for the client state machine tests: replies from text, a session driven to ready, a message.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "upstream/smtp/client_protocol.h"

namespace smarthost::upstream::smtp {

// "250-a|250 b" -> one Reply.
inline Reply reply(std::string_view text) {
  ReplyReader reader;
  size_t pos = 0;
  while (true) {
    size_t bar = text.find('|', pos);
    auto status = reader.feed(text.substr(pos, bar == std::string_view::npos ? std::string_view::npos : bar - pos));
    if (status != ReplyReader::Status::incomplete) break;
    pos = bar + 1;
  }
  return reader.take();
}

inline constexpr std::string_view kEhloFull =
    "250-mx.example.net|250-PIPELINING|250-SIZE 10240000|250-8BITMIME|250-SMTPUTF8|250-ENHANCEDSTATUSCODES|"
    "250-AUTH PLAIN LOGIN XOAUTH2|250 STARTTLS";

inline ClientSettings plain_settings() {
  ClientSettings s;
  s.local_hostname = "relay.example.com";
  s.trace = true;
  return s;
}

// Drives a session to `ready` with the given EHLO answer.
inline void establish(ClientProtocol& p, std::string_view ehlo = kEhloFull) {
  ASSERT_EQ(p.start().next, Next::read_reply);
  Step s = p.on_reply(reply("220 mx.example.net ESMTP"));
  ASSERT_EQ(s.output, "EHLO relay.example.com\r\n");
  s = p.on_reply(reply(ehlo));
  ASSERT_EQ(s.next, Next::ready);
}

inline MessageParams message(std::vector<std::string> rcpts = {"a@x.example", "b@x.example"}) {
  MessageParams m;
  m.mail_from = "sender@client.example";
  m.recipients = std::move(rcpts);
  m.size = 1234;
  return m;
}

}  // namespace smarthost::upstream::smtp
