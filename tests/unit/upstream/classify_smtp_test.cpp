// The SMTP half of the outcome classifier, as a table: stage, reply, and what it must mean.
#include <gtest/gtest.h>

#include "upstream/outcome_classifier.h"

namespace smarthost::upstream {
namespace {

struct Row {
  SmtpStage stage;
  int code;
  const char* enhanced;
  const char* text;
  Outcome outcome;
  bool unhealthy;
  bool throttled;
};

class ClassifySmtp : public ::testing::TestWithParam<Row> {};

TEST_P(ClassifySmtp, Table) {
  const Row& row = GetParam();
  Classification c = classify_smtp(row.stage, row.code, row.enhanced, row.text);
  EXPECT_EQ(c.outcome, row.outcome) << row.code << " " << row.text;
  EXPECT_EQ(c.upstream_unhealthy, row.unhealthy) << row.code << " " << row.text;
  EXPECT_EQ(c.throttled, row.throttled) << row.code << " " << row.text;
}

using S = SmtpStage;
using O = Outcome;

INSTANTIATE_TEST_SUITE_P(
    Replies, ClassifySmtp,
    ::testing::Values(
        Row{S::data_end, 250, "2.0.0", "Ok: queued as 4ABC", O::delivered, false, false},
        Row{S::rcpt, 250, "2.1.5", "Ok", O::delivered, false, false},
        Row{S::data, 354, "", "End data with <CR><LF>.<CR><LF>", O::delivered, false, false},
        Row{S::rcpt, 450, "4.2.0", "Mailbox unavailable", O::temporary, false, false},
        Row{S::rcpt, 550, "5.1.1", "No such user", O::permanent, false, false},
        Row{S::rcpt, 554, "5.7.1", "Relay access denied", O::upstream_refused, false, false},
        Row{S::rcpt, 550, "5.7.1", "Message rejected by recipient policy", O::permanent, false, false},
        Row{S::rcpt, 452, "4.5.3", "Too many recipients", O::temporary, false, false},
        Row{S::data_end, 452, "4.3.1", "Too many messages, slow down", O::temporary, false, true},
        Row{S::data_end, 451, "4.3.0", "Local error in processing", O::temporary, false, false},
        Row{S::data_end, 554, "5.6.0", "Message content rejected", O::permanent, false, false},
        Row{S::data_end, 554, "", "Message rejected: Email address is not verified.", O::upstream_refused, false,
            false},
        Row{S::data_end, 552, "5.3.4", "Message size exceeds fixed limit", O::permanent, false, false},
        Row{S::mail, 553, "5.7.1", "Sender address rejected: not owned by user", O::upstream_refused, false, false},
        Row{S::mail, 553, "5.1.8", "Sender domain does not exist", O::permanent, false, false},
        Row{S::mail, 552, "5.3.4", "Message size exceeds fixed maximum message size", O::permanent, false, false},
        Row{S::mail, 451, "4.3.0", "Try again", O::temporary, false, false},
        // SES throttling, Gmail rate limits, O365 busy: temporary and throttled.
        Row{S::mail, 454, "", "Throttling failure: Maximum sending rate exceeded.", O::temporary, false, true},
        Row{S::data_end, 454, "", "Throttling failure: Daily message quota exceeded.", O::temporary, false, true},
        Row{S::data_end, 421, "4.7.28", "Our system has detected an unusual rate of mail", O::temporary, true, false},
        Row{S::rcpt, 421, "4.7.0", "Too many connections, slow down", O::temporary, true, true},
        Row{S::mail, 451, "4.7.500", "Server busy. Please try again later", O::temporary, false, true},
        // 421 at any stage: temporary and unhealthy.
        Row{S::greeting, 421, "4.3.2", "Service shutting down", O::temporary, true, false},
        Row{S::mail, 421, "4.4.2", "Timeout", O::temporary, true, false},
        // Session set-up: the upstream's refusal, never the message's.
        Row{S::greeting, 554, "5.3.2", "No SMTP service here", O::upstream_refused, true, false},
        Row{S::ehlo, 550, "", "Not accepting", O::upstream_refused, true, false},
        Row{S::starttls, 454, "4.7.0", "TLS not available due to temporary reason", O::temporary, true, false},
        Row{S::auth, 535, "5.7.8", "Username and Password not accepted", O::upstream_refused, true, false},
        Row{S::auth, 535, "5.7.3", "Authentication unsuccessful", O::upstream_refused, true, false},
        Row{S::auth, 454, "4.7.0", "Temporary authentication failure", O::temporary, true, false},
        Row{S::mail, 530, "5.7.0", "Authentication required", O::upstream_refused, true, false},
        Row{S::rcpt, 530, "5.7.0", "Must issue a STARTTLS command first", O::upstream_refused, true, false},
        Row{S::rset, 500, "", "Unknown command", O::temporary, true, false},
        Row{S::quit, 500, "", "whatever", O::delivered, false, false},
        // Not an SMTP reply at all.
        Row{S::mail, 0, "", "garbage", O::temporary, true, false},
        Row{S::mail, 699, "", "garbage", O::temporary, true, false}));

TEST(ClassifySmtpIo, DroppedOrTimedOutIsTemporaryAndUnhealthy) {
  for (SmtpStage stage : {S::connect, S::greeting, S::ehlo, S::starttls, S::auth, S::mail, S::rcpt, S::data,
                          S::data_end, S::rset}) {
    Classification c = classify_smtp_io_failure(stage);
    EXPECT_EQ(c.outcome, O::temporary);
    EXPECT_TRUE(c.upstream_unhealthy);
    EXPECT_FALSE(c.throttled);
  }
  EXPECT_FALSE(classify_smtp_io_failure(S::quit).upstream_unhealthy);
}

}  // namespace
}  // namespace smarthost::upstream
