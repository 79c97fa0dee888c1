// SMTP smuggling through the whole protocol core (Session + DataReader): each of "\n.\n", "\n.\r\n", "\r.\n",
// "\r.\r\n", "\r\n\0.\r\n" must neither end the message nor let the bytes after it run as commands, in both
// bare_lf modes and whatever the read boundaries. Also STARTTLS command injection.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "smtpd/session.h"
#include "tests/unit/smtpd/session_fixture.h"

namespace smarthost::smtpd::test {
namespace {

using namespace std::string_literals;

class SmugglingThroughSession
    : public ::testing::TestWithParam<std::tuple<std::string, BareLineEnd, size_t>> {};

TEST_P(SmugglingThroughSession, InjectedTransactionNeverRuns) {
  const auto& [seq, mode, split] = GetParam();
  SessionSettings s = test_settings();
  s.bare_lf = mode;
  s.max_message_size = 100000;
  FakePolicy policy;
  Session session(s, policy, loopback_client());
  Driver driver(session, split);
  driver.greet();
  const std::string wire = "EHLO attacker.test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
                           "From: a@example.com\r\n\r\nhello" +
                           seq +
                           "MAIL FROM:<admin@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n"
                           "From: admin@example.com\r\n\r\nspoofed\r\n.\r\nNOOP\r\n";
  driver.input(wire);

  // The smuggled MAIL and RCPT were never seen by the policy: they were message text.
  for (const auto& call : policy.calls) {
    EXPECT_EQ(call.find("admin@example.com"), std::string::npos) << call;
    EXPECT_EQ(call.find("victim@example.org"), std::string::npos) << call;
  }
  const bool has_bare = seq.find('\0') == std::string::npos;
  if (mode == BareLineEnd::reject && has_bare) {
    EXPECT_TRUE(driver.messages.empty());
    EXPECT_NE(driver.replies[driver.replies.size() - 2].find("550 5.5.2"), std::string::npos);
  } else {
    ASSERT_EQ(driver.messages.size(), 1u);
    EXPECT_NE(driver.messages[0].find("MAIL FROM:<admin@example.com>\r\n"), std::string::npos);
    EXPECT_NE(driver.messages[0].find("spoofed\r\n"), std::string::npos);
  }
  // Replies: greeting, EHLO, MAIL, RCPT, 354, one end-of-data reply, NOOP.
  ASSERT_EQ(driver.replies.size(), 7u);
  EXPECT_EQ(code_of(driver.replies[4]), "354");
  EXPECT_EQ(driver.replies.back(), "250 2.0.0 Ok\r\n");
}

INSTANTIATE_TEST_SUITE_P(
    EverySequenceModeAndSplit, SmugglingThroughSession,
    ::testing::Combine(::testing::Values("\n.\n"s, "\n.\r\n"s, "\r.\n"s, "\r.\r\n"s, "\r\n\0.\r\n"s),
                       ::testing::Values(BareLineEnd::reject, BareLineEnd::normalize),
                       ::testing::Values(size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{5})));

TEST(StartTlsInjection, PipelinedCommandAfterStartTlsGetsNoReply) {
  FakePolicy policy;
  Session session(test_settings(), policy, loopback_client());
  Driver driver(session);
  driver.greet();
  driver.input("EHLO c\r\n");
  const size_t before = driver.replies.size();
  driver.input("STARTTLS\r\nNOOP\r\nMAIL FROM:<a@example.com>\r\n");
  ASSERT_EQ(driver.replies.size(), before + 1);
  EXPECT_EQ(code_of(driver.replies.back()), "220");
  EXPECT_TRUE(policy.calls.size() == 1 && policy.calls[0] == "connect");  // no MAIL hook ran
  // The injected commands did not survive into the TLS session either.
  driver.input("NOOP\r\n");
  EXPECT_EQ(driver.replies.size(), before + 2);
}

}  // namespace
}  // namespace smarthost::smtpd::test
