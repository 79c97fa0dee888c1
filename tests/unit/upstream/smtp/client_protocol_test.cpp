// The SMTP client state machine without sockets: replies in, commands and next actions out.
#include <gtest/gtest.h>

#include <openssl/evp.h>

#include "tests/unit/upstream/smtp/client_protocol_support.h"
#include "upstream/smtp/client_protocol.h"

namespace smarthost::upstream::smtp {
namespace {

std::string b64(std::string_view s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  out.resize(static_cast<size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                                 reinterpret_cast<const unsigned char*>(s.data()),
                                                 static_cast<int>(s.size()))));
  return out;
}

TEST(ClientProtocol, ParsesExtensions) {
  ClientProtocol p(plain_settings());
  establish(p);
  const Extensions& e = p.extensions();
  EXPECT_TRUE(e.esmtp);
  EXPECT_TRUE(e.pipelining);
  EXPECT_TRUE(e.eight_bit_mime);
  EXPECT_TRUE(e.smtputf8);
  EXPECT_TRUE(e.enhanced_status_codes);
  EXPECT_TRUE(e.starttls);
  EXPECT_EQ(e.size_limit, 10240000u);
  EXPECT_TRUE(e.auth.contains("XOAUTH2"));
}

TEST(ClientProtocol, PipelinesMailRcptAndDataInOneWrite) {
  ClientProtocol p(plain_settings());
  establish(p);
  Step s = p.begin_message(message());
  EXPECT_EQ(s.output,
            "MAIL FROM:<sender@client.example> SIZE=1234\r\nRCPT TO:<a@x.example>\r\nRCPT TO:<b@x.example>\r\n"
            "DATA\r\n");
  EXPECT_EQ(p.on_reply(reply("250 2.1.0 Ok")).next, Next::read_reply);
  EXPECT_EQ(p.on_reply(reply("250 2.1.5 Ok")).next, Next::read_reply);
  EXPECT_EQ(p.on_reply(reply("550 5.1.1 <b@x.example>: no such user")).next, Next::read_reply);
  EXPECT_EQ(p.on_reply(reply("354 End data with <CR><LF>.<CR><LF>")).next, Next::send_body);
  EXPECT_EQ(p.body_sent().next, Next::read_reply);
  EXPECT_EQ(p.on_reply(reply("250 2.0.0 Ok: queued as 4XyZ12")).next, Next::ready);
  ASSERT_TRUE(p.has_result());
  DeliveryResult r = p.take_result();
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_EQ(r.recipients[0].outcome, Outcome::delivered);
  EXPECT_EQ(r.recipients[0].reply, "250 2.0.0 Ok: queued as 4XyZ12");
  EXPECT_EQ(r.recipients[1].outcome, Outcome::permanent);
  EXPECT_EQ(r.recipients[1].reply, "550 5.1.1 <b@x.example>: no such user");
  EXPECT_EQ(r.outcome, Outcome::permanent);
  EXPECT_EQ(r.remote_id, "4XyZ12");
  EXPECT_TRUE(p.is_ready());
}

TEST(ClientProtocol, WithoutPipeliningSendsOneCommandAtATime) {
  ClientProtocol p(plain_settings());
  establish(p, "250-mx|250 8BITMIME");
  Step s = p.begin_message(message({"a@x.example"}));
  EXPECT_EQ(s.output, "MAIL FROM:<sender@client.example>\r\n");  // no SIZE= when SIZE was not offered
  s = p.on_reply(reply("250 ok"));
  EXPECT_EQ(s.output, "RCPT TO:<a@x.example>\r\n");
  s = p.on_reply(reply("250 ok"));
  EXPECT_EQ(s.output, "DATA\r\n");
  EXPECT_EQ(p.on_reply(reply("354 go")).next, Next::send_body);
  p.body_sent();
  EXPECT_EQ(p.on_reply(reply("250 ok")).next, Next::ready);
  EXPECT_EQ(p.take_result().outcome, Outcome::delivered);
}

TEST(ClientProtocol, WithoutPipeliningSkipsDataWhenNoRecipientIsAccepted) {
  ClientProtocol p(plain_settings());
  establish(p, "250-mx|250 8BITMIME");
  p.begin_message(message({"a@x.example"}));
  p.on_reply(reply("250 ok"));
  Step s = p.on_reply(reply("450 4.2.1 try later"));
  EXPECT_EQ(s.next, Next::ready);
  EXPECT_EQ(s.output, "");
  DeliveryResult r = p.take_result();
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_EQ(r.recipients[0].reply, "450 4.2.1 try later");
}

TEST(ClientProtocol, MailRefusedFailsEveryRecipient) {
  ClientProtocol p(plain_settings());
  establish(p);
  p.begin_message(message());
  p.on_reply(reply("553 5.1.8 sender domain does not exist"));
  p.on_reply(reply("503 5.5.1 need MAIL"));
  p.on_reply(reply("503 5.5.1 need MAIL"));
  EXPECT_EQ(p.on_reply(reply("554 5.5.1 no valid recipients")).next, Next::ready);
  DeliveryResult r = p.take_result();
  EXPECT_EQ(r.outcome, Outcome::permanent);
  for (auto& rcpt : r.recipients) EXPECT_EQ(rcpt.reply, "553 5.1.8 sender domain does not exist");
}

TEST(ClientProtocol, DataAcceptedWithoutRecipientsIsEndedWithTheDotAlone) {
  ClientProtocol p(plain_settings());
  establish(p);
  p.begin_message(message({"a@x.example"}));
  p.on_reply(reply("250 ok"));
  p.on_reply(reply("550 5.1.1 no"));
  Step s = p.on_reply(reply("354 go ahead anyway"));
  EXPECT_EQ(s.output, ".\r\n");
  EXPECT_EQ(s.next, Next::read_reply);
  EXPECT_EQ(p.on_reply(reply("554 no recipients")).next, Next::ready);
  EXPECT_EQ(p.take_result().recipients[0].reply, "550 5.1.1 no");
}

TEST(ClientProtocol, TemporaryAndPermanentEndOfData) {
  for (auto [text, outcome] : {std::pair{"451 4.3.0 local error", Outcome::temporary},
                               std::pair{"554 5.6.0 content rejected", Outcome::permanent}}) {
    ClientProtocol p(plain_settings());
    establish(p);
    p.begin_message(message({"a@x.example"}));
    p.on_reply(reply("250 ok"));
    p.on_reply(reply("250 ok"));
    p.on_reply(reply("354 go"));
    p.body_sent();
    EXPECT_EQ(p.on_reply(reply(text)).next, Next::ready);
    DeliveryResult r = p.take_result();
    EXPECT_EQ(r.outcome, outcome);
    EXPECT_EQ(r.reply, text);
  }
}

TEST(ClientProtocol, SizeOverTheLimitFailsBeforeAnyData) {
  ClientProtocol p(plain_settings());
  establish(p);
  MessageParams m = message();
  m.size = 20'000'000;
  Step s = p.begin_message(m);
  EXPECT_EQ(s.output, "");
  EXPECT_EQ(s.next, Next::ready);
  DeliveryResult r = p.take_result();
  EXPECT_EQ(r.outcome, Outcome::permanent);
  EXPECT_NE(r.reply.find("552 5.3.4"), std::string::npos);
  EXPECT_NE(r.reply.find("10240000"), std::string::npos);
  EXPECT_TRUE(p.is_ready());
}

TEST(ClientProtocol, EightBitMessageToASevenBitServerIsRefusedWithAReason) {
  ClientProtocol p(plain_settings());
  establish(p, "250-mx|250 PIPELINING");
  MessageParams m = message();
  m.body = mail::BodyType::eight_bit_mime;
  Step s = p.begin_message(m);
  EXPECT_EQ(s.output, "");
  DeliveryResult r = p.take_result();
  EXPECT_EQ(r.outcome, Outcome::permanent);
  EXPECT_NE(r.reply.find("8BITMIME"), std::string::npos);
  EXPECT_NE(r.reply.find("5.6.3"), std::string::npos);
}

TEST(ClientProtocol, EightBitAndUtf8ParametersWhenOffered) {
  ClientProtocol p(plain_settings());
  establish(p);
  MessageParams m = message({"ü@x.example"});
  m.body = mail::BodyType::eight_bit_mime;
  m.smtputf8 = true;
  Step s = p.begin_message(m);
  EXPECT_TRUE(s.output.starts_with("MAIL FROM:<sender@client.example> SIZE=1234 BODY=8BITMIME SMTPUTF8\r\n"));
}

TEST(ClientProtocol, Utf8AddressesNeedSmtputf8) {
  ClientProtocol p(plain_settings());
  establish(p, "250-mx|250 8BITMIME");
  MessageParams m = message({"ü@x.example"});
  m.smtputf8 = true;
  p.begin_message(m);
  DeliveryResult r = p.take_result();
  EXPECT_EQ(r.outcome, Outcome::permanent);
  EXPECT_NE(r.reply.find("SMTPUTF8"), std::string::npos);
}

TEST(ClientProtocol, FallsBackToHelo) {
  ClientProtocol p(plain_settings());
  p.start();
  p.on_reply(reply("220 old.example"));
  Step s = p.on_reply(reply("502 5.5.2 command not recognized"));
  EXPECT_EQ(s.output, "HELO relay.example.com\r\n");
  EXPECT_EQ(p.on_reply(reply("250 old.example")).next, Next::ready);
  EXPECT_FALSE(p.extensions().esmtp);
  s = p.begin_message(message({"a@x.example"}));
  EXPECT_EQ(s.output, "MAIL FROM:<sender@client.example>\r\n");
}

TEST(ClientProtocol, StarttlsThenEhloAgain) {
  ClientSettings settings = plain_settings();
  settings.require_tls = true;
  ClientProtocol p(settings);
  p.start();
  p.on_reply(reply("220 mx"));
  Step s = p.on_reply(reply("250-mx|250-PIPELINING|250 STARTTLS"));
  EXPECT_EQ(s.output, "STARTTLS\r\n");
  s = p.on_reply(reply("220 2.0.0 Ready to start TLS"));
  EXPECT_EQ(s.next, Next::start_tls);
  s = p.tls_started();
  EXPECT_EQ(s.output, "EHLO relay.example.com\r\n");
  EXPECT_FALSE(p.extensions().pipelining);  // forgotten until the new EHLO
  EXPECT_EQ(p.on_reply(reply("250-mx|250 8BITMIME")).next, Next::ready);
  EXPECT_TRUE(p.tls_active());
  EXPECT_TRUE(p.extensions().eight_bit_mime);
}

TEST(ClientProtocol, UseTlsWithoutStarttlsIsRefusedNeverPlaintext) {
  ClientSettings settings = plain_settings();
  settings.require_tls = true;
  ClientProtocol p(settings);
  p.start();
  p.on_reply(reply("220 mx"));
  Step s = p.on_reply(reply("250-mx|250 PIPELINING"));
  EXPECT_EQ(s.next, Next::close);
  EXPECT_EQ(s.output, "QUIT\r\n");
  ASSERT_TRUE(p.failure());
  EXPECT_EQ(p.failure()->classification.outcome, Outcome::upstream_refused);
  EXPECT_NE(p.failure()->reply.to_string().find("STARTTLS"), std::string::npos);
}

TEST(ClientProtocol, StarttlsRefused) {
  ClientSettings settings = plain_settings();
  settings.require_tls = true;
  ClientProtocol p(settings);
  p.start();
  p.on_reply(reply("220 mx"));
  p.on_reply(reply("250-mx|250 STARTTLS"));
  EXPECT_EQ(p.on_reply(reply("454 4.7.0 TLS not available")).next, Next::close);
  EXPECT_EQ(p.failure()->classification.outcome, Outcome::temporary);
}

ClientSettings tls_credentials(std::string user, std::string password) {
  ClientSettings s = plain_settings();
  s.tls_active = true;
  s.username = std::move(user);
  s.password = std::move(password);
  return s;
}

TEST(ClientProtocol, AuthPlainIsPreferredAndMaskedInTheTrace) {
  ClientProtocol p(tls_credentials("user@example.com", "s3cret"));
  p.start();
  p.on_reply(reply("220 mx"));
  Step s = p.on_reply(reply("250-mx|250 AUTH LOGIN PLAIN"));
  std::string expected = "AUTH PLAIN " + b64(std::string("\0user@example.com\0s3cret", 24)) + "\r\n";
  EXPECT_EQ(s.output, expected);
  EXPECT_EQ(p.on_reply(reply("235 2.7.0 Authentication successful")).next, Next::ready);
  for (const auto& line : p.take_trace()) {
    EXPECT_EQ(line.find(b64(std::string("\0user@example.com\0s3cret", 24))), std::string::npos) << line;
    EXPECT_EQ(line.find("s3cret"), std::string::npos) << line;
  }
}

TEST(ClientProtocol, AuthLoginWhenPlainIsNotOffered) {
  ClientProtocol p(tls_credentials("user", "pw"));
  p.start();
  p.on_reply(reply("220 mx"));
  EXPECT_EQ(p.on_reply(reply("250-mx|250 AUTH=LOGIN")).output, "AUTH LOGIN\r\n");
  EXPECT_EQ(p.on_reply(reply("334 VXNlcm5hbWU6")).output, b64("user") + "\r\n");
  EXPECT_EQ(p.on_reply(reply("334 UGFzc3dvcmQ6")).output, b64("pw") + "\r\n");
  EXPECT_EQ(p.on_reply(reply("235 ok")).next, Next::ready);
  std::vector<std::string> trace = p.take_trace();
  EXPECT_NE(std::find(trace.begin(), trace.end(), "C: ***"), trace.end());
  for (const auto& line : trace) EXPECT_EQ(line.find(b64("pw")), std::string::npos) << line;
}

TEST(ClientProtocol, AuthFailureIsTheUpstreamsRefusal) {
  ClientProtocol p(tls_credentials("user", "bad"));
  p.start();
  p.on_reply(reply("220 mx"));
  p.on_reply(reply("250-mx|250 AUTH PLAIN"));
  Step s = p.on_reply(reply("535 5.7.8 Authentication credentials invalid"));
  EXPECT_EQ(s.next, Next::close);
  EXPECT_EQ(p.failure()->stage, SmtpStage::auth);
  EXPECT_EQ(p.failure()->classification.outcome, Outcome::upstream_refused);
}

TEST(ClientProtocol, NoUsableMechanism) {
  ClientProtocol p(tls_credentials("user", "pw"));
  p.start();
  p.on_reply(reply("220 mx"));
  EXPECT_EQ(p.on_reply(reply("250-mx|250 AUTH CRAM-MD5")).next, Next::close);
  EXPECT_NE(p.failure()->reply.to_string().find("CRAM-MD5"), std::string::npos);
}

TEST(ClientProtocol, CredentialsNeverGoOutInPlaintext) {
  ClientSettings settings = tls_credentials("user", "pw");
  settings.tls_active = false;
  ClientProtocol p(settings);
  p.start();
  p.on_reply(reply("220 mx"));
  Step s = p.on_reply(reply("250-mx|250 AUTH PLAIN"));
  EXPECT_EQ(s.next, Next::close);
  EXPECT_EQ(s.output.find("AUTH"), std::string::npos);
  EXPECT_EQ(p.failure()->classification.outcome, Outcome::upstream_refused);
}

TEST(ClientProtocol, Xoauth2RefreshesOnceOnFailure) {
  ClientSettings settings = tls_credentials("user@gmail.example", "");
  settings.oauth2 = true;
  ClientProtocol p(settings);
  p.start("tok-1");
  p.on_reply(reply("220 mx"));
  Step s = p.on_reply(reply("250-mx|250 AUTH LOGIN PLAIN XOAUTH2"));
  EXPECT_EQ(s.output, "AUTH XOAUTH2 " + b64("user=user@gmail.example\x01" "auth=Bearer tok-1\x01\x01") + "\r\n");
  s = p.on_reply(reply("334 eyJzdGF0dXMiOiI0MDEifQ=="));
  EXPECT_EQ(s.output, "\r\n");  // the empty answer to the error challenge
  s = p.on_reply(reply("535 5.7.8 Username and Password not accepted"));
  EXPECT_EQ(s.next, Next::refresh_token);
  s = p.token_refreshed("tok-2");
  EXPECT_EQ(s.output, "AUTH XOAUTH2 " + b64("user=user@gmail.example\x01" "auth=Bearer tok-2\x01\x01") + "\r\n");
  EXPECT_EQ(p.on_reply(reply("235 2.7.0 Accepted")).next, Next::ready);
  for (const auto& line : p.take_trace()) EXPECT_EQ(line.find("tok-"), std::string::npos) << line;
}

TEST(ClientProtocol, Xoauth2GivesUpAfterOneRetry) {
  ClientSettings settings = tls_credentials("u", "");
  settings.oauth2 = true;
  ClientProtocol p(settings);
  p.start("tok-1");
  p.on_reply(reply("220 mx"));
  p.on_reply(reply("250-mx|250 AUTH XOAUTH2"));
  EXPECT_EQ(p.on_reply(reply("535 5.7.8 no")).next, Next::refresh_token);
  p.token_refreshed("tok-2");
  EXPECT_EQ(p.on_reply(reply("535 5.7.8 still no")).next, Next::close);
  EXPECT_EQ(p.failure()->classification.outcome, Outcome::upstream_refused);
}

TEST(ClientProtocol, ReplyCode421EndsTheSessionAndTheMessageTemporarily) {
  ClientProtocol p(plain_settings());
  establish(p);
  p.begin_message(message());
  p.on_reply(reply("250 ok"));
  Step s = p.on_reply(reply("421 4.3.2 Service shutting down"));
  EXPECT_EQ(s.next, Next::close);
  EXPECT_EQ(s.output, "");  // no QUIT after a 421
  DeliveryResult r = p.take_result();
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_TRUE(r.upstream_unhealthy);
  for (auto& rcpt : r.recipients) EXPECT_EQ(rcpt.outcome, Outcome::temporary);
}

TEST(ClientProtocol, ConnectionLostDuringDataKeepsFinalAnswers) {
  ClientProtocol p(plain_settings());
  establish(p);
  p.begin_message(message());
  p.on_reply(reply("250 ok"));
  p.on_reply(reply("550 5.1.1 no such user"));
  p.on_reply(reply("250 ok"));
  EXPECT_EQ(p.on_reply(reply("354 go")).next, Next::send_body);
  p.body_sent();
  p.io_failed("connection lost: end of file");
  EXPECT_EQ(p.failure()->reply.to_string(), "451 4.4.2 smarthost: connection lost: end of file");
  DeliveryResult r = p.take_result();
  EXPECT_EQ(r.recipients[0].outcome, Outcome::permanent);
  EXPECT_EQ(r.recipients[1].outcome, Outcome::temporary);
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_TRUE(r.upstream_unhealthy);
  EXPECT_EQ(p.failure()->stage, SmtpStage::data_end);
}

TEST(ClientProtocol, SeveralMessagesWithAProbeBetween) {
  ClientProtocol p(plain_settings());
  establish(p);
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      EXPECT_EQ(p.probe().output, "RSET\r\n");
      EXPECT_EQ(p.on_reply(reply("250 2.0.0 Ok")).next, Next::ready);
    }
    p.begin_message(message({"a@x.example"}));
    p.on_reply(reply("250 ok"));
    p.on_reply(reply("250 ok"));
    p.on_reply(reply("354 go"));
    p.body_sent();
    EXPECT_EQ(p.on_reply(reply("250 ok")).next, Next::ready);
    EXPECT_EQ(p.take_result().outcome, Outcome::delivered);
  }
  EXPECT_EQ(p.quit().output, "QUIT\r\n");
  EXPECT_EQ(p.on_reply(reply("221 bye")).next, Next::close);
}

TEST(ClientProtocol, FailedProbeClosesTheSession) {
  ClientProtocol p(plain_settings());
  establish(p);
  p.probe();
  EXPECT_EQ(p.on_reply(reply("500 what")).next, Next::close);
  EXPECT_TRUE(p.failure()->classification.upstream_unhealthy);
}

TEST(ClientProtocol, GreetingRefusalAndMalformedReplies) {
  ClientProtocol p(plain_settings());
  p.start();
  EXPECT_EQ(p.on_reply(reply("554 5.7.1 go away")).next, Next::close);
  EXPECT_EQ(p.failure()->classification.outcome, Outcome::upstream_refused);
  ClientProtocol q(plain_settings());
  q.start();
  EXPECT_EQ(q.on_malformed_reply("HTTP/1.1 400 Bad Request").next, Next::close);
  EXPECT_EQ(q.failure()->classification.outcome, Outcome::temporary);
}

TEST(ClientProtocol, TraceShowsTheExchange) {
  ClientProtocol p(plain_settings());
  establish(p, "250-mx|250 PIPELINING");
  std::vector<std::string> trace = p.take_trace();
  ASSERT_GE(trace.size(), 4u);
  EXPECT_EQ(trace[0], "S: 220 mx.example.net ESMTP");
  EXPECT_EQ(trace[1], "C: EHLO relay.example.com");
  EXPECT_EQ(trace[2], "S: 250-mx");
  EXPECT_EQ(trace[3], "S: 250 PIPELINING");
}

}  // namespace
}  // namespace smarthost::upstream::smtp
