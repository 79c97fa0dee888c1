// Session behaviour beyond the command/state table: EHLO keywords, parameters, paths, recipients, policy hooks,
// require_tls/require_auth, error limits, DATA/BDAT outcomes, STARTTLS injection and the envelope.
#include "smtpd/session.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/unit/smtpd/session_fixture.h"

namespace smarthost::smtpd::test {
namespace {

class SessionTest : public ::testing::Test {
 protected:
  void start(SessionSettings settings = test_settings(), ClientInfo client = loopback_client()) {
    session_ = std::make_unique<Session>(std::move(settings), policy_, std::move(client));
    driver_ = std::make_unique<Driver>(*session_);
    driver_->greet();
  }
  // Sends one write and returns the last reply it produced ("" when none).
  std::string send(const std::string& bytes) {
    const size_t before = driver_->replies.size();
    driver_->input(bytes);
    return driver_->replies.size() > before ? driver_->replies.back() : std::string();
  }
  std::string line(const std::string& command) { return send(command + "\r\n"); }
  void transaction_ready() {
    ASSERT_EQ(code_of(line("EHLO client.test")), "250");
    ASSERT_EQ(code_of(line("MAIL FROM:<a@example.com>")), "250");
    ASSERT_EQ(code_of(line("RCPT TO:<b@example.net>")), "250");
  }

  FakePolicy policy_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<Driver> driver_;
};

TEST_F(SessionTest, GreetingNamesTheHost) {
  start();
  ASSERT_EQ(driver_->replies.size(), 1u);
  EXPECT_EQ(driver_->replies[0], "220 mx.test ESMTP smarthost\r\n");
  EXPECT_EQ(policy_.calls.front(), "connect");
}

TEST_F(SessionTest, RefusedConnectionGetsTheVerdictAndCloses) {
  policy_.connect = Verdict::deny("554 5.7.1 Access denied: 192.0.2.9", true);
  start();
  EXPECT_EQ(driver_->replies.back(), "554 5.7.1 Access denied: 192.0.2.9\r\n");
  EXPECT_TRUE(driver_->closed);
  EXPECT_EQ(session_->on_line("NOOP").next, Next::close);
}

TEST_F(SessionTest, EhloAdvertisesTheExtensions) {
  start();
  const std::string reply = line("EHLO client.test");
  EXPECT_EQ(reply,
            "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
            "250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250 STARTTLS\r\n");
  EXPECT_EQ(reply.find("DSN"), std::string::npos);
  EXPECT_EQ(reply.find("AUTH"), std::string::npos);  // not before TLS
}

TEST_F(SessionTest, EhloOffersAuthWithPlaintextAllowedAndNoStartTlsWithoutCertificate) {
  SessionSettings s = test_settings();
  s.allow_plaintext_auth = true;
  s.tls_available = false;
  start(s);
  const std::string reply = line("EHLO client.test");
  EXPECT_NE(reply.find("250 AUTH PLAIN LOGIN\r\n"), std::string::npos);
  EXPECT_EQ(reply.find("STARTTLS"), std::string::npos);
}

TEST_F(SessionTest, EhloWithoutUsersFileOffersNoAuth) {
  SessionSettings s = test_settings();
  s.auth_available = false;
  s.allow_plaintext_auth = true;
  start(s);
  EXPECT_EQ(line("EHLO client.test").find("AUTH"), std::string::npos);
  EXPECT_EQ(line("AUTH PLAIN"), "503 5.5.1 Error: authentication not enabled\r\n");
}

TEST_F(SessionTest, HeloAnswersWithoutExtensions) {
  start();
  EXPECT_EQ(line("HELO client.test"), "250 mx.test\r\n");
}

TEST_F(SessionTest, StartTlsThrowsAwayPipelinedPlaintext) {
  start();
  line("EHLO client.test");
  const size_t before = driver_->replies.size();
  driver_->input("STARTTLS\r\nNOOP\r\n");
  ASSERT_EQ(driver_->replies.size(), before + 1);  // the 220 only, never a 250 for the injected NOOP
  EXPECT_EQ(driver_->replies.back(), "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_EQ(driver_->tls_handshakes, 1);
  EXPECT_TRUE(session_->tls_active());
}

TEST_F(SessionTest, StartTlsResetsEhloAndIsNotOfferedAgain) {
  start();
  line("EHLO client.test");
  line("STARTTLS");
  EXPECT_EQ(code_of(line("MAIL FROM:<a@example.com>")), "503");
  const std::string ehlo = line("EHLO client.test");
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos);
  EXPECT_NE(ehlo.find("AUTH PLAIN LOGIN"), std::string::npos);
  EXPECT_EQ(line("STARTTLS"), "503 5.5.1 Error: TLS already active\r\n");
}

TEST_F(SessionTest, StartTlsForgetsAuthentication) {
  SessionSettings s = test_settings();
  s.allow_plaintext_auth = true;
  start(s);
  policy_.passwords["user"] = "secret";
  line("EHLO client.test");
  ASSERT_EQ(code_of(line("AUTH PLAIN AHVzZXIAc2VjcmV0")), "235");
  EXPECT_EQ(session_->auth_user(), "user");
  line("STARTTLS");
  EXPECT_EQ(session_->auth_user(), "");
  line("EHLO client.test");
  EXPECT_EQ(code_of(line("AUTH PLAIN AHVzZXIAc2VjcmV0")), "235");
}

TEST_F(SessionTest, StartTlsUnavailableWithoutCertificate) {
  SessionSettings s = test_settings();
  s.tls_available = false;
  start(s);
  line("EHLO client.test");
  EXPECT_EQ(line("STARTTLS"), "502 5.5.1 Error: command not implemented\r\n");
}

TEST_F(SessionTest, ImplicitTlsClientCountsAsTls) {
  SessionSettings s = test_settings();
  s.require_tls = true;
  ClientInfo c = loopback_client();
  c.tls = true;
  start(s, c);
  session_->tls_started("TLSv1.3", "TLS_AES_128_GCM_SHA256");
  const std::string ehlo = line("EHLO client.test");
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(code_of(line("MAIL FROM:<a@example.com>")), "250");
}

TEST_F(SessionTest, RequireTlsAndRequireAuthRefuseMail) {
  SessionSettings s = test_settings();
  s.require_tls = true;
  s.require_auth = true;
  start(s);
  policy_.passwords["user"] = "secret";
  line("EHLO client.test");
  EXPECT_EQ(line("MAIL FROM:<a@example.com>"), "530 5.7.0 Must issue a STARTTLS command first\r\n");
  line("STARTTLS");
  line("EHLO client.test");
  EXPECT_EQ(line("MAIL FROM:<a@example.com>"), "530 5.7.0 Authentication required\r\n");
  ASSERT_EQ(code_of(line("AUTH PLAIN AHVzZXIAc2VjcmV0")), "235");
  EXPECT_EQ(code_of(line("MAIL FROM:<a@example.com>")), "250");
}

TEST_F(SessionTest, MailParameters) {
  start();
  line("EHLO client.test");
  struct Case {
    const char* params;
    const char* code;
    const char* status;
  };
  const Case cases[] = {
      {" SIZE=1000", "250", "2.1.0"},        {" SIZE=1001", "552", "5.3.4"},
      {" SIZE=99999999999999999999999", "501", "5.5.4"}, {" SIZE=", "501", "5.5.4"},
      {" SIZE=12x", "501", "5.5.4"},         {" SIZE=1 SIZE=2", "501", "5.5.4"},
      {" BODY=7BIT", "250", "2.1.0"},        {" body=8bitmime", "250", "2.1.0"},
      {" BODY=BINARYMIME", "501", "5.5.4"},  {" SMTPUTF8", "250", "2.1.0"},
      {" SMTPUTF8=yes", "501", "5.5.4"},     {" AUTH=<>", "250", "2.1.0"},
      {" AUTH=user+40example.com", "250", "2.1.0"}, {" RET=FULL", "555", "5.5.4"},
      {" ENVID=x", "555", "5.5.4"},          {" FOO", "555", "5.5.4"},
      {" =x", "501", "5.5.4"},               {" SIZE=10  BODY=8BITMIME  SMTPUTF8 ", "250", "2.1.0"},
  };
  for (const auto& c : cases) {
    const std::string reply = line(std::string("MAIL FROM:<a@example.com>") + c.params);
    EXPECT_EQ(code_of(reply), c.code) << c.params << " -> " << reply;
    EXPECT_EQ(status_of(reply), c.status) << c.params << " -> " << reply;
    line("RSET");
  }
}

TEST_F(SessionTest, MailParametersSetTheEnvelope) {
  start();
  line("EHLO client.test");
  line("MAIL FROM:<a@example.com> BODY=8BITMIME SMTPUTF8");
  EXPECT_EQ(session_->envelope().body, mail::BodyType::eight_bit_mime);
  EXPECT_TRUE(session_->envelope().smtputf8);
  EXPECT_EQ(session_->envelope().mail_from, "a@example.com");
  EXPECT_EQ(session_->envelope().client_address, "127.0.0.1");
  EXPECT_EQ(session_->envelope().client_helo, "client.test");
  EXPECT_EQ(session_->envelope().received_at, fixed_time());
}

TEST_F(SessionTest, RcptParametersAreUnknown) {
  start();
  line("EHLO client.test");
  line("MAIL FROM:<a@example.com>");
  EXPECT_EQ(line("RCPT TO:<b@example.net> NOTIFY=NEVER"), "555 5.5.4 Unsupported option: NOTIFY\r\n");
  EXPECT_EQ(code_of(line("RCPT TO:<b@example.net> ORCPT=rfc822;b@example.net")), "555");
}

TEST_F(SessionTest, SenderPaths) {
  start();
  line("EHLO client.test");
  struct Case {
    std::string from;
    const char* code;
    const char* status;
  };
  const Case cases[] = {
      {"<>", "250", "2.1.0"},
      {"<a@example.com>", "250", "2.1.0"},
      {" <a@example.com>", "250", "2.1.0"},
      {"<\"quoted local\"@example.com>", "250", "2.1.0"},
      {"<@route.example:a@example.com>", "250", "2.1.0"},
      {"a@example.com", "501", "5.1.7"},
      {"<a@example.com", "501", "5.1.7"},
      {"<a b@example.com>", "501", "5.1.7"},
      {"<postmaster>", "501", "5.1.7"},
      {"<" + std::string(65, 'l') + "@example.com>", "553", "5.1.7"},
      {"<j\xc3\xb6rg@example.com>", "553", "5.6.7"},
      {"<j\xc3\xb6rg@example.com> SMTPUTF8", "250", "2.1.0"},
  };
  for (const auto& c : cases) {
    const std::string reply = line("MAIL FROM:" + c.from);
    EXPECT_EQ(code_of(reply), c.code) << c.from << " -> " << reply;
    EXPECT_EQ(status_of(reply), c.status) << c.from << " -> " << reply;
    line("RSET");
  }
}

TEST_F(SessionTest, NullSenderAndRouteAreRecorded) {
  start();
  line("EHLO client.test");
  line("MAIL FROM:<>");
  EXPECT_EQ(session_->envelope().mail_from, "");
  EXPECT_EQ(policy_.calls.back(), "mail ");
  line("RCPT TO:<@hop.example:b@example.net>");
  ASSERT_EQ(session_->envelope().recipients.size(), 1u);
  EXPECT_EQ(session_->envelope().recipients[0].address, "b@example.net");
}

TEST_F(SessionTest, RecipientPaths) {
  start();
  line("EHLO client.test");
  line("MAIL FROM:<a@example.com>");
  struct Case {
    std::string to;
    const char* code;
    const char* status;
  };
  const Case cases[] = {
      {"<b@example.net>", "250", "2.1.5"},
      {"<postmaster>", "250", "2.1.5"},
      {"<>", "501", "5.1.3"},
      {"b@example.net", "501", "5.1.3"},
      {"<b@exa_mple..net>", "501", "5.1.3"},
      {"<" + std::string(65, 'l') + "@example.com>", "553", "5.1.3"},
      {"<b@" + std::string(63, 'd') + "." + std::string(63, 'd') + "." + std::string(63, 'd') + "." +
           std::string(63, 'd') + ">",
       "553", "5.1.3"},
      {"<j\xc3\xb6rg@example.com>", "553", "5.6.7"},
  };
  for (const auto& c : cases) {
    const std::string reply = line("RCPT TO:" + c.to);
    EXPECT_EQ(code_of(reply), c.code) << c.to << " -> " << reply;
    EXPECT_EQ(status_of(reply), c.status) << c.to << " -> " << reply;
  }
  ASSERT_EQ(session_->envelope().recipients.size(), 2u);
  EXPECT_EQ(session_->envelope().recipients[1].address, "postmaster");
}

TEST_F(SessionTest, Utf8RecipientNeedsSmtputf8OnMail) {
  start();
  line("EHLO client.test");
  line("MAIL FROM:<a@example.com> SMTPUTF8");
  EXPECT_EQ(code_of(line("RCPT TO:<j\xc3\xb6rg@b\xc3\xbc\x63her.example>")), "250");
}

TEST_F(SessionTest, TooManyRecipientsGet452AndDoNotCountAsErrors) {
  SessionSettings s = test_settings();
  s.max_errors = 2;
  start(s);
  line("EHLO client.test");
  line("MAIL FROM:<a@example.com>");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(code_of(line("RCPT TO:<r" + std::to_string(i) + "@example.net>")), "250");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(line("RCPT TO:<x@example.net>"), "452 4.5.3 Error: too many recipients\r\n");
  EXPECT_FALSE(driver_->closed);
  EXPECT_EQ(session_->envelope().recipients.size(), 3u);
  EXPECT_EQ(code_of(line("DATA")), "354");
}

TEST_F(SessionTest, DuplicateRecipientIsKeptOnce) {
  start();
  transaction_ready();
  EXPECT_EQ(code_of(line("RCPT TO:<b@example.net>")), "250");
  EXPECT_EQ(session_->envelope().recipients.size(), 1u);
}

TEST_F(SessionTest, PolicyDenialsUseTheVerdict) {
  start();
  line("EHLO client.test");
  policy_.mail = Verdict::deny("554 5.7.1 Sender refused");
  EXPECT_EQ(line("MAIL FROM:<a@example.com>"), "554 5.7.1 Sender refused\r\n");
  policy_.mail = Verdict::allow();
  line("MAIL FROM:<a@example.com>");
  policy_.refused_rcpts["v@ext.example"] = Verdict::deny("554 5.7.1 Relay access denied");
  EXPECT_EQ(line("RCPT TO:<v@ext.example>"), "554 5.7.1 Relay access denied\r\n");
  EXPECT_EQ(line("DATA"), "554 5.5.1 Error: no valid recipients\r\n");
  line("RCPT TO:<ok@example.net>");
  policy_.end_of_data = Verdict::deny("550 5.7.1 Message refused");
  line("DATA");
  EXPECT_EQ(send("Subject: x\r\n\r\nbody\r\n.\r\n"), "550 5.7.1 Message refused\r\n");
  EXPECT_TRUE(driver_->messages.empty());
  EXPECT_EQ(code_of(line("RCPT TO:<ok@example.net>")), "503");  // the transaction is over
  EXPECT_EQ(policy_.calls.back(), "eod 1");
}

TEST_F(SessionTest, DenialWithDisconnectCloses) {
  start();
  line("EHLO client.test");
  policy_.mail = Verdict::deny("421 4.7.0 Go away", true);
  EXPECT_EQ(line("MAIL FROM:<a@example.com>"), "421 4.7.0 Go away\r\n");
  EXPECT_TRUE(driver_->closed);
  EXPECT_EQ(driver_->next, Next::close);
}

TEST_F(SessionTest, DataIsCommittedAndTheTransactionReset) {
  start();
  transaction_ready();
  EXPECT_EQ(line("DATA"), "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(send("Subject: x\r\n\r\n..dot\r\n.\r\n"), "250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(driver_->messages.size(), 1u);
  EXPECT_EQ(driver_->messages[0], "Subject: x\r\n\r\n.dot\r\n");
  EXPECT_EQ(code_of(line("RCPT TO:<b@example.net>")), "503");
  EXPECT_EQ(code_of(line("MAIL FROM:<a@example.com>")), "250");  // HELO is kept
}

TEST_F(SessionTest, PipelinedTransactionsAnswerInOrder) {
  start();
  const std::string out = driver_->input(
      "EHLO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nm1\r\n.\r\n"
      "MAIL FROM:<a@example.com>\r\nRCPT TO:<c@example.net>\r\nDATA\r\nm2\r\n.\r\nQUIT\r\n");
  ASSERT_EQ(driver_->messages.size(), 2u);
  EXPECT_EQ(driver_->messages[1], "m2\r\n");
  std::vector<std::string> codes;
  for (size_t i = 1; i < driver_->replies.size(); ++i) codes.push_back(code_of(driver_->replies[i]));
  EXPECT_EQ(codes, (std::vector<std::string>{"250", "250", "250", "354", "250", "250", "250", "354", "250", "221"}));
}

TEST_F(SessionTest, DataEndOutcomes) {
  start();
  struct Case {
    DataOutcome outcome;
    const char* reply;
  };
  const Case cases[] = {
      {DataOutcome{10, true, false, false}, "552 5.3.4 Message size exceeds fixed limit\r\n"},
      {DataOutcome{10, false, true, false},
       "550 5.5.2 Error: bare <CR> or <LF> received; line ends must be <CR><LF>\r\n"},
      {DataOutcome{10, false, false, true}, "451 4.3.0 Error: local error in processing\r\n"},
  };
  line("EHLO client.test");
  for (const auto& c : cases) {
    line("MAIL FROM:<a@example.com>");
    line("RCPT TO:<b@example.net>");
    ASSERT_EQ(session_->on_line("DATA").next, Next::read_data);
    const Step step = session_->data_end(c.outcome);
    EXPECT_EQ(step.reply, c.reply);
    EXPECT_EQ(step.next, Next::read_command);
    EXPECT_EQ(code_of(line("RCPT TO:<b@example.net>")), "503");  // reset
  }
  line("MAIL FROM:<a@example.com>");
  line("RCPT TO:<b@example.net>");
  session_->on_line("DATA");
  const Step step = session_->data_end(DataOutcome{10, false, false, false});
  EXPECT_EQ(step.reply, "");
  EXPECT_EQ(step.next, Next::commit);
  EXPECT_EQ(session_->committed(CommitOutcome{false, "", "452 4.3.1 Insufficient system storage"}).reply,
            "452 4.3.1 Insufficient system storage\r\n");
  EXPECT_EQ(code_of(line("RCPT TO:<b@example.net>")), "503");
}

TEST_F(SessionTest, FailedCommitWithoutReplyGetsALocalError) {
  start();
  transaction_ready();
  driver_->commit_result = CommitOutcome{false, "", ""};
  line("DATA");
  EXPECT_EQ(send("x\r\n.\r\n"), "451 4.3.0 Error: queue file write error\r\n");
}

TEST_F(SessionTest, TooBigDataThroughTheReader) {
  start();
  transaction_ready();
  line("DATA");
  EXPECT_EQ(code_of(send(std::string(2000, 'x') + "\r\n.\r\nNOOP\r\n")), "250");  // NOOP answered after the 552
  ASSERT_GE(driver_->replies.size(), 2u);
  EXPECT_EQ(driver_->replies[driver_->replies.size() - 2], "552 5.3.4 Message size exceeds fixed limit\r\n");
  EXPECT_TRUE(driver_->messages.empty());
}

TEST_F(SessionTest, BdatChunksMakeOneMessage) {
  start();
  transaction_ready();
  EXPECT_EQ(send("BDAT 9\r\nSubject: "), "250 2.0.0 9 octets received\r\n");
  EXPECT_EQ(send("BDAT 4\r\nx\r\n\r"), "250 2.0.0 4 octets received\r\n");
  EXPECT_EQ(send("BDAT 7 LAST\r\n\nbody\r\n"), "250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(driver_->messages.size(), 1u);
  EXPECT_EQ(driver_->messages[0], "Subject: x\r\n\r\nbody\r\n");
}

TEST_F(SessionTest, BdatWithBareLineEndIsRefusedAtLast) {
  start();
  transaction_ready();
  EXPECT_EQ(code_of(send("BDAT 3\r\na\nb")), "250");
  EXPECT_EQ(code_of(send("BDAT 0 LAST\r\n")), "550");
  EXPECT_TRUE(driver_->messages.empty());
}

TEST_F(SessionTest, BdatOverTheSizeLimitIsReadAndRefused) {
  start();
  transaction_ready();
  EXPECT_EQ(code_of(send("BDAT 600\r\n" + std::string(600, 'a'))), "250");
  // 600 + 500 > 1000: refused before anything is stored, and the 500 octets are skipped, not run as commands.
  EXPECT_EQ(send("BDAT 500\r\n" + std::string(492, 'b') + "QUIT\r\nXX"),
            "552 5.3.4 Message size exceeds fixed limit\r\n");
  EXPECT_FALSE(driver_->closed);
  // Later chunks of the failed transaction are refused too, until LAST.
  EXPECT_EQ(code_of(send("BDAT 2 LAST\r\nzz")), "503");
  EXPECT_EQ(code_of(line("MAIL FROM:<a@example.com>")), "250");
  EXPECT_TRUE(driver_->messages.empty());
}

TEST_F(SessionTest, BdatWithoutTransactionSkipsItsPayload) {
  start();
  line("EHLO client.test");
  EXPECT_EQ(send("BDAT 6\r\nQUIT\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_FALSE(driver_->closed);  // the QUIT inside the chunk was never a command
  EXPECT_EQ(code_of(line("NOOP")), "250");
}

TEST_F(SessionTest, BdatSyntaxErrorCloses) {
  start();
  transaction_ready();
  EXPECT_EQ(line("BDAT ten"), "501 5.5.4 Syntax: BDAT count [LAST]\r\n");
  EXPECT_TRUE(driver_->closed);
}

TEST_F(SessionTest, DataAfterBdatIsRefused) {
  start();
  transaction_ready();
  send("BDAT 1\r\nx");
  EXPECT_EQ(line("DATA"), "503 5.5.1 Error: DATA after BDAT in one transaction\r\n");
}

TEST_F(SessionTest, ErrorLimitEndsTheSession) {
  SessionSettings s = test_settings();
  s.max_errors = 3;
  start(s);
  EXPECT_EQ(line("FOO"), "500 5.5.2 Error: command not recognized\r\n");
  EXPECT_EQ(code_of(line("BAR")), "500");
  const std::string last = line("BAZ");
  EXPECT_EQ(last, "500 5.5.2 Error: command not recognized\r\n421 4.7.0 mx.test Error: too many errors\r\n");
  EXPECT_TRUE(driver_->closed);
}

TEST_F(SessionTest, TwentyErrorsByDefault) {
  start();
  for (int i = 0; i < 19; ++i) line("FOO");
  EXPECT_FALSE(driver_->closed);
  EXPECT_NE(line("FOO").find("421 4.7.0"), std::string::npos);
  EXPECT_TRUE(driver_->closed);
}

TEST_F(SessionTest, LongLinesAndNulBytesAreRefused) {
  start();
  EXPECT_EQ(line("NOOP " + std::string(505, 'x')), "250 2.0.0 Ok\r\n");  // 510 octets + CRLF = 512
  EXPECT_EQ(line("NOOP " + std::string(506, 'x')), "500 5.5.6 Error: line too long\r\n");
  EXPECT_EQ(session_->on_line_too_long().reply, "500 5.5.6 Error: line too long\r\n");
  EXPECT_EQ(line(std::string("NOOP\0x", 6)), "500 5.5.2 Error: NUL character in command refused\r\n");
  EXPECT_EQ(code_of(session_->on_line("NOOP\nQUIT").reply), "500");
}

TEST_F(SessionTest, HttpRequestsAreDroppedAtOnce) {
  start();
  EXPECT_EQ(code_of(line("GET / HTTP/1.1")), "221");
  EXPECT_TRUE(driver_->closed);
}

TEST_F(SessionTest, QuitCloses) {
  start();
  EXPECT_EQ(line("QUIT"), "221 2.0.0 Bye\r\n");
  EXPECT_TRUE(driver_->closed);
  EXPECT_EQ(session_->on_line("NOOP").next, Next::close);
}

TEST_F(SessionTest, TimeoutAndShutdown) {
  start();
  const Step t = session_->timeout();
  EXPECT_EQ(t.reply, "421 4.4.2 mx.test Error: timeout exceeded\r\n");
  EXPECT_EQ(t.next, Next::close);
  start();
  const Step d = session_->shutting_down();
  EXPECT_EQ(d.reply, "421 4.3.2 mx.test Service shutting down\r\n");
  EXPECT_EQ(d.next, Next::close);
}

TEST_F(SessionTest, Accessors) {
  start();
  EXPECT_EQ(session_->bare_lf(), BareLineEnd::reject);
  EXPECT_EQ(session_->max_message_size(), 1000u);
  EXPECT_FALSE(session_->tls_active());
  transaction_ready();
  session_->on_line("BDAT 12 LAST");
  EXPECT_EQ(session_->bdat_size(), 12u);
  EXPECT_TRUE(session_->bdat_last());
  EXPECT_TRUE(session_->bdat_first());
  EXPECT_FALSE(session_->bdat_discard());
}

}  // namespace
}  // namespace smarthost::smtpd::test
