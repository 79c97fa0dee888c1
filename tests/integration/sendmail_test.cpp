// The sendmail drop-in as cron and PHP use it: `smarthost sendmail -t` (and a `sendmail` symlink) submits to the
// running relay, falls back to the spool when the relay is down, and its exit status tells success from failure.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/relay.h"

using namespace smarthost::test;
namespace fs = std::filesystem;

namespace {

RunResult sendmail(const Relay& relay, const std::vector<std::string>& args, const std::string& input,
                   const std::string& program = "") {
  std::vector<std::string> argv;
  if (program.empty()) {
    argv = {smarthost_bin().string(), "sendmail"};
  } else {
    argv = {program};
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, input, std::chrono::seconds(30), {{"SMARTHOST_CONFIG", relay.config_path().string()}});
}

}  // namespace

TEST(Sendmail, DashTTakesRecipientsFromHeadersAndStripsBcc) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  auto r = sendmail(relay, {"-t", "-i"},
                    "To: First <to@example.net>\nCc: cc@example.net\nBcc: hidden@example.net\nSubject: hi\n\nbody\n"
                    ".\nnot the end\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(relay.wait_delivered(1)) << relay.log();
  std::string message = read_file(relay.delivered()[0]);
  std::string envelope = read_file(relay.delivered(".json")[0]);
  for (const char* rcpt : {"to@example.net", "cc@example.net", "hidden@example.net"})
    EXPECT_NE(envelope.find(rcpt), std::string::npos) << rcpt << " " << envelope;
  EXPECT_EQ(message.find("Bcc:"), std::string::npos) << message;
  EXPECT_EQ(message.find("hidden@example.net"), std::string::npos) << message;
  EXPECT_NE(message.find("\r\n.\r\nnot the end\r\n"), std::string::npos) << "-i keeps a lone dot line";
  EXPECT_NE(message.find("Message-ID: <"), std::string::npos) << "Message-ID added";
  EXPECT_NE(message.find("\r\nDate: "), std::string::npos) << "Date added";
}

TEST(Sendmail, TheIssueExampleDelivers) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  auto r = sendmail(relay, {"-t"}, "To: someone@example.net\nSubject: hi\n\nbody\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(relay.wait_delivered(1)) << relay.log();
  EXPECT_NE(read_file(relay.delivered()[0]).find("Subject: hi\r\n"), std::string::npos);
}

TEST(Sendmail, WorksThroughASendmailSymlinkWithArgumentRecipientsAndDashF) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  auto link = relay.dir() / "sendmail";
  fs::create_symlink(smarthost_bin(), link);
  auto r = sendmail(relay, {"-f", "cron@example.org", "-F", "Cron Daemon", "-odi", "-oem", "admin@example.net"},
                    "Subject: cron output\n\nall good\n", link.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(relay.wait_delivered(1)) << relay.log();
  EXPECT_NE(read_file(relay.delivered(".json")[0]).find("\"mail_from\":\"cron@example.org\""), std::string::npos);
  EXPECT_NE(read_file(relay.delivered()[0]).find("From: \"Cron Daemon\" <cron@example.org>"), std::string::npos);
}

TEST(Sendmail, RefusalAndUsageErrorsExitNonZero) {
  RelayOptions o;
  o.server_extra = "allowed_recipient_domains = [\"example.net\"]\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  auto refused = sendmail(relay, {"someone@elsewhere.org"}, "Subject: x\n\nbody\n");
  EXPECT_EQ(refused.exit_code, 65) << refused.err;
  EXPECT_NE(refused.err.find("554 5.7.1"), std::string::npos) << refused.err;
  auto none = sendmail(relay, {"-t"}, "Subject: no recipients\n\nbody\n");
  EXPECT_EQ(none.exit_code, 2) << none.err;
  auto bad_option = sendmail(relay, {"-Z"}, "");
  EXPECT_EQ(bad_option.exit_code, 2);
}

TEST(Sendmail, RelayDownMeansSpooledAndDeliveredWhenItStarts) {
  Relay relay;
  auto r = sendmail(relay, {"-t"}, "To: later@example.net\nSubject: while down\n\nqueued offline\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(relay.delivered().empty());
  ASSERT_TRUE(relay.start()) << relay.log();
  ASSERT_TRUE(relay.wait_delivered(1)) << relay.log();
  EXPECT_NE(read_file(relay.delivered()[0]).find("queued offline"), std::string::npos);
}

TEST(Sendmail, DashBsSpeaksSmtpOnStdio) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  auto r = sendmail(relay, {"-bs"},
                    "EHLO local\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
                    "Subject: bs\r\n\r\nvia -bs\r\n.\r\nQUIT\r\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("250 2.0.0 Ok: queued as"), std::string::npos) << r.out;
  ASSERT_TRUE(relay.wait_delivered(1)) << relay.log();
}
