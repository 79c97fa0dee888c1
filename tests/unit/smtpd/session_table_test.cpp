// The session state machine as a table: every command in every state, and the reply code and enhanced status
// that must come back. States are reached by replaying a short script through the in-memory Driver.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "smtpd/session.h"
#include "tests/unit/smtpd/session_fixture.h"

namespace smarthost::smtpd::test {
namespace {

struct StateScript {
  const char* name;
  std::vector<std::string> writes;  // each element is one write; "" in the list means "nothing"
};

// How to reach each state from a new connection. Settings: TLS and AUTH available, no plaintext AUTH.
const std::vector<StateScript> kStates = {
    {"fresh", {}},
    {"helo", {"HELO client.test\r\n"}},
    {"ehlo", {"EHLO client.test\r\n"}},
    {"mail", {"EHLO client.test\r\n", "MAIL FROM:<a@example.com>\r\n"}},
    {"rcpt", {"EHLO client.test\r\n", "MAIL FROM:<a@example.com>\r\n", "RCPT TO:<b@example.net>\r\n"}},
    {"tls", {"EHLO client.test\r\n", "STARTTLS\r\n"}},
    {"tls_ehlo", {"EHLO client.test\r\n", "STARTTLS\r\n", "EHLO client.test\r\n"}},
    {"authed",
     {"EHLO client.test\r\n", "STARTTLS\r\n", "EHLO client.test\r\n", "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n"}},
    {"bdat",
     {"EHLO client.test\r\n", "MAIL FROM:<a@example.com>\r\n", "RCPT TO:<b@example.net>\r\n", "BDAT 3\r\nabc"}},
};

struct Row {
  const char* state;
  const char* command;  // one write, CRLF added
  const char* code;
  const char* status;  // "" when the reply carries none (greeting-like replies, 334, 354)
};

// clang-format off
const std::vector<Row> kTable = {
    // fresh connection
    {"fresh", "EHLO client.test", "250", ""},
    {"fresh", "HELO client.test", "250", ""},
    {"fresh", "ehlo client.test", "250", ""},
    {"fresh", "MAIL FROM:<a@example.com>", "503", "5.5.1"},
    {"fresh", "RCPT TO:<b@example.net>", "503", "5.5.1"},
    {"fresh", "DATA", "503", "5.5.1"},
    {"fresh", "BDAT 0 LAST", "503", "5.5.1"},
    {"fresh", "RSET", "250", "2.0.0"},
    {"fresh", "NOOP", "250", "2.0.0"},
    {"fresh", "noop", "250", "2.0.0"},
    {"fresh", "QUIT", "221", "2.0.0"},
    {"fresh", "VRFY someone", "252", "2.5.0"},
    {"fresh", "VRFY", "501", "5.5.4"},
    {"fresh", "HELP", "214", "2.0.0"},
    {"fresh", "STARTTLS", "220", "2.0.0"},
    {"fresh", "AUTH PLAIN", "538", "5.7.11"},
    {"fresh", "EXPN list", "502", "5.5.1"},
    {"fresh", "FROB", "500", "5.5.2"},
    {"fresh", "EHLO", "501", "5.5.4"},
    {"fresh", "HELO", "501", "5.5.4"},
    // after HELO
    {"helo", "MAIL FROM:<a@example.com>", "250", "2.1.0"},
    {"helo", "RCPT TO:<b@example.net>", "503", "5.5.1"},
    {"helo", "DATA", "503", "5.5.1"},
    {"helo", "BDAT 0 LAST", "503", "5.5.1"},
    {"helo", "RSET", "250", "2.0.0"},
    {"helo", "STARTTLS", "220", "2.0.0"},
    {"helo", "AUTH PLAIN", "538", "5.7.11"},
    {"helo", "EHLO client.test", "250", ""},
    {"helo", "QUIT", "221", "2.0.0"},
    // after EHLO
    {"ehlo", "MAIL FROM:<a@example.com>", "250", "2.1.0"},
    {"ehlo", "MAIL FROM:<>", "250", "2.1.0"},
    {"ehlo", "MAIL TO:<a@example.com>", "501", "5.5.4"},
    {"ehlo", "RCPT TO:<b@example.net>", "503", "5.5.1"},
    {"ehlo", "DATA", "503", "5.5.1"},
    {"ehlo", "BDAT 10\r\n0123456789", "503", "5.5.1"},
    {"ehlo", "RSET", "250", "2.0.0"},
    {"ehlo", "RSET now", "501", "5.5.4"},
    {"ehlo", "NOOP", "250", "2.0.0"},
    {"ehlo", "STARTTLS", "220", "2.0.0"},
    {"ehlo", "STARTTLS now", "501", "5.5.4"},
    {"ehlo", "AUTH PLAIN", "538", "5.7.11"},
    {"ehlo", "HELO client.test", "250", ""},
    {"ehlo", "QUIT", "221", "2.0.0"},
    // in a transaction, no recipient yet
    {"mail", "MAIL FROM:<a@example.com>", "503", "5.5.1"},
    {"mail", "RCPT TO:<b@example.net>", "250", "2.1.5"},
    {"mail", "RCPT FROM:<b@example.net>", "501", "5.5.4"},
    {"mail", "DATA", "503", "5.5.1"},
    {"mail", "BDAT 0 LAST", "503", "5.5.1"},
    {"mail", "STARTTLS", "503", "5.5.1"},
    {"mail", "AUTH PLAIN", "538", "5.7.11"},
    {"mail", "RSET", "250", "2.0.0"},
    {"mail", "NOOP", "250", "2.0.0"},
    {"mail", "VRFY x", "252", "2.5.0"},
    {"mail", "EHLO client.test", "250", ""},
    {"mail", "QUIT", "221", "2.0.0"},
    // with a recipient
    {"rcpt", "DATA", "354", ""},
    {"rcpt", "DATA now", "501", "5.5.4"},
    {"rcpt", "BDAT 0 LAST", "250", "2.0.0"},
    {"rcpt", "BDAT 5 LAST\r\nhello", "250", "2.0.0"},
    {"rcpt", "RCPT TO:<c@example.net>", "250", "2.1.5"},
    {"rcpt", "MAIL FROM:<a@example.com>", "503", "5.5.1"},
    {"rcpt", "STARTTLS", "503", "5.5.1"},
    {"rcpt", "RSET", "250", "2.0.0"},
    {"rcpt", "QUIT", "221", "2.0.0"},
    // after STARTTLS: EHLO again, no second STARTTLS
    {"tls", "MAIL FROM:<a@example.com>", "503", "5.5.1"},
    {"tls", "RCPT TO:<b@example.net>", "503", "5.5.1"},
    {"tls", "DATA", "503", "5.5.1"},
    {"tls", "STARTTLS", "503", "5.5.1"},
    {"tls", "AUTH PLAIN", "503", "5.5.1"},
    {"tls", "EHLO client.test", "250", ""},
    {"tls", "NOOP", "250", "2.0.0"},
    {"tls_ehlo", "AUTH PLAIN", "334", ""},
    {"tls_ehlo", "AUTH LOGIN", "334", ""},
    {"tls_ehlo", "AUTH CRAM-MD5", "504", "5.5.4"},
    {"tls_ehlo", "AUTH", "501", "5.5.4"},
    {"tls_ehlo", "STARTTLS", "503", "5.5.1"},
    {"tls_ehlo", "MAIL FROM:<a@example.com>", "250", "2.1.0"},
    // authenticated
    {"authed", "AUTH PLAIN", "503", "5.5.1"},
    {"authed", "AUTH LOGIN", "503", "5.5.1"},
    {"authed", "MAIL FROM:<a@example.com> AUTH=<>", "250", "2.1.0"},
    {"authed", "EHLO client.test", "250", ""},
    // in a BDAT transaction
    {"bdat", "DATA", "503", "5.5.1"},
    {"bdat", "RCPT TO:<c@example.net>", "503", "5.5.1"},
    {"bdat", "MAIL FROM:<a@example.com>", "503", "5.5.1"},
    {"bdat", "BDAT 0 LAST", "250", "2.0.0"},
    {"bdat", "BDAT 2\r\nde", "250", "2.0.0"},
    {"bdat", "RSET", "250", "2.0.0"},
    {"bdat", "NOOP", "250", "2.0.0"},
    {"bdat", "QUIT", "221", "2.0.0"},
};
// clang-format on

const StateScript& script_for(const std::string& name) {
  for (const auto& s : kStates)
    if (name == s.name) return s;
  throw std::runtime_error("no such state " + name);
}

class CommandInState : public ::testing::TestWithParam<Row> {};

TEST_P(CommandInState, RepliesWithTheExpectedCode) {
  const Row& row = GetParam();
  FakePolicy policy;
  policy.passwords["user"] = "secret";
  Session session(test_settings(), policy, loopback_client());
  Driver driver(session);
  driver.greet();
  for (const auto& write : script_for(row.state).writes) driver.input(write);
  ASSERT_FALSE(driver.closed) << "state " << row.state << " could not be reached";
  const size_t before = driver.replies.size();
  // A command that carries its own chunk ("BDAT 2\r\nde") is sent as is.
  const std::string command = row.command;
  driver.input(command.find("\r\n") == std::string::npos ? command + "\r\n" : command);
  ASSERT_GT(driver.replies.size(), before) << row.state << " / " << row.command << ": no reply";
  const std::string& reply = driver.replies.back();
  EXPECT_EQ(code_of(reply), row.code) << row.state << " / " << row.command << " -> " << reply;
  EXPECT_EQ(status_of(reply), row.status) << row.state << " / " << row.command << " -> " << reply;
  EXPECT_EQ(reply.substr(reply.size() - 2), "\r\n");
}

INSTANTIATE_TEST_SUITE_P(EveryCommandAndState, CommandInState, ::testing::ValuesIn(kTable));

// Commands whose answer does not depend on the state, checked in every state (the full cross product).
struct StatelessCommand {
  const char* command;
  const char* code;
  const char* status;
};
const std::vector<StatelessCommand> kStateless = {
    {"NOOP", "250", "2.0.0"},        {"NOOP anything", "250", "2.0.0"}, {"HELP", "214", "2.0.0"},
    {"VRFY postmaster", "252", "2.5.0"}, {"EXPN staff", "502", "5.5.1"},   {"FROB", "500", "5.5.2"},
    {"XCLIENT ADDR=1.2.3.4", "500", "5.5.2"}, {"", "500", "5.5.2"},     {"QUIT", "221", "2.0.0"},
    {"RSET", "250", "2.0.0"},        {"EHLO again.test", "250", ""},    {"HELO again.test", "250", ""},
};

class StatelessInEveryState : public ::testing::TestWithParam<std::tuple<size_t, size_t>> {};

TEST_P(StatelessInEveryState, SameAnswerEverywhere) {
  const StateScript& state = kStates[std::get<0>(GetParam())];
  const StatelessCommand& cmd = kStateless[std::get<1>(GetParam())];
  FakePolicy policy;
  policy.passwords["user"] = "secret";
  Session session(test_settings(), policy, loopback_client());
  Driver driver(session);
  driver.greet();
  for (const auto& write : state.writes) driver.input(write);
  const size_t before = driver.replies.size();
  driver.input(std::string(cmd.command) + "\r\n");
  ASSERT_EQ(driver.replies.size(), before + 1) << state.name << " / " << cmd.command;
  EXPECT_EQ(code_of(driver.replies.back()), cmd.code) << state.name << " / " << cmd.command;
  EXPECT_EQ(status_of(driver.replies.back()), cmd.status) << state.name << " / " << cmd.command;
  EXPECT_EQ(driver.closed, std::string(cmd.command) == "QUIT");
}

INSTANTIATE_TEST_SUITE_P(CrossProduct, StatelessInEveryState,
                         ::testing::Combine(::testing::Range(size_t{0}, kStates.size()),
                                            ::testing::Range(size_t{0}, kStateless.size())));

// Every state reaches its expected shape (guards the table against a broken script).
TEST(StateScripts, AllStatesAreReachableWithoutErrors) {
  for (const auto& state : kStates) {
    FakePolicy policy;
    policy.passwords["user"] = "secret";
    Session session(test_settings(), policy, loopback_client());
    Driver driver(session);
    driver.greet();
    for (const auto& write : state.writes) driver.input(write);
    for (const auto& reply : driver.replies) {
      EXPECT_TRUE(reply[0] == '2' || reply[0] == '3') << state.name << ": " << reply;
    }
    EXPECT_FALSE(driver.closed) << state.name;
  }
}

}  // namespace
}  // namespace smarthost::smtpd::test
