// TestModeTransport: redirect to test_email with X-Original-To on a copy (the spool file untouched, the copy
// removed afterwards), skip_delivery and log_only deliver nothing.
#include "policy/test_mode_transport.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"
#include "tests/unit/policy/policy_fakes.h"

namespace smarthost::policy {
namespace {

using test::FakeTransport;
using test::run;
using upstream::Outcome;

struct Fixture {
  smarthost::test::TempDir tmp;
  std::string content;
  std::string copy_seen;
  std::string copy_path;
  FakeTransport inner{"inner", [this](const upstream::OutboundMessage& m, int) {
                        copy_path = m.content_path;
                        std::string all = smarthost::test::read_file(m.content_path);
                        copy_seen = all.substr(m.content_offset, m.size);
                        return test::result_for(m, Outcome::delivered, "250 2.0.0 sent");
                      }};

  upstream::OutboundMessage spooled(std::vector<std::string> rcpts) {
    const std::string prefix = "ENVELOPE-RECORD\n";
    content = "Subject: hello\r\n  world\r\nFrom: a@example.org\r\n\r\nbody\r\n";
    auto path = tmp.write("spool/Q1", prefix + content);
    auto m = test::message("Q1", std::move(rcpts));
    m.content_path = path.string();
    m.content_offset = prefix.size();
    m.size = content.size();
    return m;
  }
};

TEST(TestMode, RedirectsEveryRecipientWithXOriginalTo) {
  Fixture f;
  conf::TestModeConfig c;
  c.enabled = true;
  c.test_email = "qa@example.test";
  TestModeTransport t(c, f.inner, f.tmp.path() / "scratch");
  auto m = f.spooled({"a@example.net", "b@example.net"});
  auto before = smarthost::test::read_file(m.content_path);
  auto r = run(t.deliver(m));
  auto seen = f.inner.seen();
  ASSERT_EQ(seen.size(), 1u);
  ASSERT_EQ(seen[0].envelope.recipients.size(), 1u);
  EXPECT_EQ(seen[0].envelope.recipients[0].address, "qa@example.test");
  EXPECT_EQ(f.copy_seen, "X-Original-To: a@example.net, b@example.net\r\n" + f.content);
  // Each original recipient gets the redirected recipient's answer.
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_EQ(r.recipients[0].address, "a@example.net");
  EXPECT_EQ(r.recipients[1].outcome, Outcome::delivered);
  EXPECT_EQ(r.recipients[1].reply, "250 2.0.0 sent");
  // The spool file is unchanged and the copy is gone.
  EXPECT_EQ(smarthost::test::read_file(m.content_path), before);
  EXPECT_NE(f.copy_path, m.content_path);
  EXPECT_FALSE(std::filesystem::exists(f.copy_path));
  EXPECT_EQ(t.name(), "inner");
}

TEST(TestMode, ARedirectedFailureIsEveryRecipientsFailure) {
  Fixture f;
  conf::TestModeConfig c;
  c.test_email = "qa@example.test";
  FakeTransport failing("inner", FakeTransport::always(Outcome::temporary, "451 4.4.1 later"));
  TestModeTransport t(c, failing, f.tmp.path() / "scratch");
  auto r = run(t.deliver(f.spooled({"a@example.net", "b@example.net"})));
  EXPECT_EQ(r.outcome, Outcome::temporary);
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_EQ(r.recipients[0].outcome, Outcome::temporary);
  EXPECT_EQ(r.recipients[1].reply, "451 4.4.1 later");
}

TEST(TestMode, SkipDeliveryAndLogOnlySendNothing) {
  for (int mode = 0; mode < 2; ++mode) {
    Fixture f;
    conf::TestModeConfig c;
    c.enabled = true;
    c.skip_delivery = mode == 0;
    c.log_only = mode == 1;
    c.test_email = "qa@example.test";  // ignored: nothing is sent at all
    TestModeTransport t(c, f.inner, f.tmp.path() / "scratch");
    auto r = run(t.deliver(f.spooled({"a@example.net", "b@example.net"})));
    EXPECT_EQ(f.inner.calls(), 0);
    EXPECT_EQ(r.outcome, Outcome::delivered);
    ASSERT_EQ(r.recipients.size(), 2u);
    EXPECT_EQ(r.recipients[1].outcome, Outcome::delivered);
  }
}

TEST(TestMode, WithoutARedirectMessagesPassThrough) {
  Fixture f;
  conf::TestModeConfig c;
  c.enabled = true;
  TestModeTransport t(c, f.inner, f.tmp.path() / "scratch");
  auto m = f.spooled({"a@example.net"});
  run(t.deliver(m));
  ASSERT_EQ(f.inner.seen().size(), 1u);
  EXPECT_EQ(f.copy_path, m.content_path);
  EXPECT_EQ(f.copy_seen, f.content);
}

TEST(TestMode, OriginalToHeaderFoldsLongLists) {
  mail::Envelope e;
  for (int i = 0; i < 10; ++i)
    e.recipients.push_back({"recipient" + std::to_string(i) + "@example.net", mail::RecipientState::pending, {}});
  std::string h = TestModeTransport::original_to_header(e);
  EXPECT_TRUE(h.starts_with("X-Original-To: recipient0@example.net,"));
  EXPECT_TRUE(h.ends_with("recipient9@example.net\r\n"));
  size_t start = 0;
  while (start < h.size()) {
    size_t end = h.find("\r\n", start);
    EXPECT_LE(end - start, 78u);
    if (start > 0) {
      EXPECT_EQ(h[start], ' ');  // continuation lines start with white space
    }
    start = end + 2;
  }
}

}  // namespace
}  // namespace smarthost::policy
