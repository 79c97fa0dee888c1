// The SMTP client state machine with CHUNKING (RFC 3030): MAIL, RCPT and one "BDAT <n> LAST" chunk in one write,
// and what each reply then means.
#include <gtest/gtest.h>

#include "tests/unit/upstream/smtp/client_protocol_support.h"
#include "upstream/smtp/client_protocol.h"

namespace smarthost::upstream::smtp {
namespace {

constexpr std::string_view kEhloChunking = "250-mx.example.net|250-PIPELINING|250-CHUNKING|250 ENHANCEDSTATUSCODES";

// A session offering CHUNKING that has written `m`'s commands and its one chunk, and read no reply yet.
void send_chunked(ClientProtocol& p, const MessageParams& m) {
  establish(p, kEhloChunking);
  ASSERT_EQ(p.begin_message(m).next, Next::send_chunk);
  p.chunk_command(50);
  p.chunk_sent();
}

TEST(ClientChunking, CommandsAndTheChunkGoOutTogether) {
  ClientProtocol p(plain_settings());
  establish(p, kEhloChunking);
  Step s = p.begin_message(message());
  EXPECT_EQ(s.next, Next::send_chunk);
  EXPECT_EQ(s.output, "MAIL FROM:<sender@client.example>\r\nRCPT TO:<a@x.example>\r\nRCPT TO:<b@x.example>\r\n");
  EXPECT_EQ(p.chunk_command(1240), "BDAT 1240 LAST\r\n");
  EXPECT_EQ(p.chunk_sent().next, Next::read_reply);
  EXPECT_FALSE(p.data_started());  // nothing answered yet: the session may have been closed while idle
  EXPECT_EQ(p.on_reply(reply("250 2.1.0 Ok")).next, Next::read_reply);
  EXPECT_TRUE(p.data_started());
  EXPECT_EQ(p.on_reply(reply("250 2.1.5 Ok")).next, Next::read_reply);
  EXPECT_EQ(p.on_reply(reply("550 5.1.1 <b@x.example>: no such user")).next, Next::read_reply);
  EXPECT_EQ(p.on_reply(reply("250 2.0.0 Ok: queued as 4XyZ12")).next, Next::ready);
  DeliveryResult r = p.take_result();
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_EQ(r.recipients[0].outcome, Outcome::delivered);
  EXPECT_EQ(r.recipients[0].reply, "250 2.0.0 Ok: queued as 4XyZ12");
  EXPECT_EQ(r.recipients[1].outcome, Outcome::permanent);
  EXPECT_EQ(r.remote_id, "4XyZ12");
  EXPECT_TRUE(p.transaction_clear());  // the next message needs no RSET

  std::vector<std::string> trace = p.take_trace();
  EXPECT_NE(std::find(trace.begin(), trace.end(), "C: BDAT 1240 LAST"), trace.end());
  EXPECT_NE(std::find(trace.begin(), trace.end(), "C: <message body>"), trace.end());
}

TEST(ClientChunking, ManyMessagesOnOneSession) {
  ClientProtocol p(plain_settings());
  establish(p, kEhloChunking);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(p.begin_message(message({"a@x.example"})).next, Next::send_chunk);
    p.chunk_command(100);
    p.chunk_sent();
    p.on_reply(reply("250 ok"));
    p.on_reply(reply("250 ok"));
    EXPECT_EQ(p.on_reply(reply("250 ok")).next, Next::ready);
    EXPECT_EQ(p.take_result().outcome, Outcome::delivered);
  }
}

TEST(ClientChunking, OnlyWithPipeliningAndForMessagesThatFitOneChunk) {
  {
    ClientProtocol p(plain_settings());
    establish(p, "250-mx|250 CHUNKING");  // without PIPELINING each command would wait for its reply
    EXPECT_EQ(p.begin_message(message({"a@x.example"})).output, "MAIL FROM:<sender@client.example>\r\n");
  }
  {
    ClientProtocol p(plain_settings());
    establish(p, kEhloChunking);
    MessageParams big = message({"a@x.example"});
    big.size = ClientProtocol::kMaxChunk + 1;
    Step s = p.begin_message(big);
    EXPECT_EQ(s.next, Next::read_reply);
    EXPECT_TRUE(s.output.ends_with("DATA\r\n"));
  }
  {
    ClientSettings settings = plain_settings();
    settings.chunking = false;
    ClientProtocol p(settings);
    establish(p, kEhloChunking);
    EXPECT_TRUE(p.begin_message(message()).output.ends_with("DATA\r\n"));
  }
}

TEST(ClientChunking, RefusedMailKeepsItsReplyNotTheChunks) {
  ClientProtocol p(plain_settings());
  send_chunked(p, message());
  p.on_reply(reply("553 5.1.8 sender domain does not exist"));
  p.on_reply(reply("503 5.5.1 need MAIL"));
  p.on_reply(reply("503 5.5.1 need MAIL"));
  EXPECT_EQ(p.on_reply(reply("503 5.5.1 No valid recipients")).next, Next::ready);
  DeliveryResult r = p.take_result();
  EXPECT_EQ(r.outcome, Outcome::permanent);
  EXPECT_EQ(r.reply, "553 5.1.8 sender domain does not exist");
  for (const auto& rcpt : r.recipients) EXPECT_EQ(rcpt.reply, "553 5.1.8 sender domain does not exist");
  EXPECT_FALSE(p.transaction_clear());  // a refused BDAT leaves the reset to RSET
  EXPECT_EQ(p.probe().output, "RSET\r\n");
}

TEST(ClientChunking, RefusedChunkFailsTheAcceptedRecipients) {
  ClientProtocol p(plain_settings());
  send_chunked(p, message());
  p.on_reply(reply("250 ok"));
  p.on_reply(reply("250 ok"));
  p.on_reply(reply("450 4.2.1 mailbox busy"));
  EXPECT_EQ(p.on_reply(reply("452 4.3.1 Insufficient system storage")).next, Next::ready);
  DeliveryResult r = p.take_result();
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_EQ(r.recipients[0].reply, "452 4.3.1 Insufficient system storage");
  EXPECT_EQ(r.recipients[1].reply, "450 4.2.1 mailbox busy");
  EXPECT_FALSE(p.transaction_clear());
}

TEST(ClientChunking, ConnectionLostBeforeAnyReplyMeansNothingArrived) {
  ClientProtocol p(plain_settings());
  send_chunked(p, message({"a@x.example"}));
  p.io_failed("connection lost: closed by the upstream");
  EXPECT_FALSE(p.data_started());  // the pool may send it again on another session at once
  EXPECT_EQ(p.take_result().outcome, Outcome::temporary);
}

TEST(ClientChunking, Reply421ToMailMeansNothingArrived) {
  ClientProtocol p(plain_settings());
  send_chunked(p, message({"a@x.example"}));
  EXPECT_EQ(p.on_reply(reply("421 4.4.2 fake.example Error: timeout exceeded")).next, Next::close);
  EXPECT_FALSE(p.data_started());  // the server closes without a transaction: the chunk went nowhere
  EXPECT_EQ(p.take_result().outcome, Outcome::temporary);
}

TEST(ClientChunking, Reply421AfterTheChunkEndsTheSession) {
  ClientProtocol p(plain_settings());
  send_chunked(p, message({"a@x.example"}));
  p.on_reply(reply("250 ok"));
  p.on_reply(reply("250 ok"));
  EXPECT_EQ(p.on_reply(reply("421 4.3.2 shutting down")).next, Next::close);
  EXPECT_TRUE(p.data_started());
  EXPECT_EQ(p.take_result().outcome, Outcome::temporary);
}

}  // namespace
}  // namespace smarthost::upstream::smtp
