// Sender identity rewriting: from_mode missing / always, Reply-To rules, folded fields, name encoding.
#include <gtest/gtest.h>

#include "upstream/header_rewrite.h"

namespace smarthost::upstream {
namespace {

SenderIdentity identity(conf::FromMode mode, std::string reply_to = {}) {
  return {"noreply@example.com", "Example Service", std::move(reply_to), mode};
}

TEST(HeaderRewrite, MissingAddsFromOnlyWhenAbsent) {
  std::string headers = "Received: by x\r\nSubject: hi\r\n\r\n";
  EXPECT_EQ(rewrite_headers(headers, identity(conf::FromMode::missing)),
            "Received: by x\r\nSubject: hi\r\nFrom: Example Service <noreply@example.com>\r\n\r\n");
  std::string with_from = "From: Alice <alice@client.example>\r\nSubject: hi\r\n\r\n";
  EXPECT_EQ(rewrite_headers(with_from, identity(conf::FromMode::missing)), with_from);
}

TEST(HeaderRewrite, MissingAddsReplyToOnlyWhenAbsent) {
  std::string headers = "From: a@b.example\r\n\r\n";
  EXPECT_EQ(rewrite_headers(headers, identity(conf::FromMode::missing, "support@example.com")),
            "From: a@b.example\r\nReply-To: support@example.com\r\n\r\n");
  std::string with = "From: a@b.example\r\nReply-To: c@d.example\r\n\r\n";
  EXPECT_EQ(rewrite_headers(with, identity(conf::FromMode::missing, "support@example.com")), with);
}

TEST(HeaderRewrite, AlwaysRewritesFromAndKeepsTheOriginalInReplyTo) {
  std::string headers = "Received: by x\r\nFrom: Alice\r\n <alice@client.example>\r\nSubject: hi\r\n\r\n";
  EXPECT_EQ(rewrite_headers(headers, identity(conf::FromMode::always)),
            "Received: by x\r\nFrom: Example Service <noreply@example.com>\r\nSubject: hi\r\n"
            "Reply-To: Alice <alice@client.example>\r\n\r\n");
}

TEST(HeaderRewrite, AlwaysWithReplyToReplacesReplyTo) {
  std::string headers = "From: a@b.example\r\nReply-To: old@b.example\r\n\r\n";
  EXPECT_EQ(rewrite_headers(headers, identity(conf::FromMode::always, "support@example.com")),
            "From: Example Service <noreply@example.com>\r\nReply-To: support@example.com\r\n\r\n");
}

TEST(HeaderRewrite, AlwaysKeepsAnExistingReplyToWhenNoneIsConfigured) {
  std::string headers = "From: a@b.example\r\nreply-to: keep@b.example\r\n\r\n";
  EXPECT_EQ(rewrite_headers(headers, identity(conf::FromMode::always)),
            "From: Example Service <noreply@example.com>\r\nreply-to: keep@b.example\r\n\r\n");
}

TEST(HeaderRewrite, KeepsTheSectionShape) {
  EXPECT_EQ(rewrite_headers("Subject: x\r\n", identity(conf::FromMode::missing)),
            "Subject: x\r\nFrom: Example Service <noreply@example.com>\r\n");
  EXPECT_EQ(rewrite_headers("\r\n", identity(conf::FromMode::missing)),
            "From: Example Service <noreply@example.com>\r\n\r\n");
}

TEST(HeaderRewrite, FindsTheHeaderSection) {
  EXPECT_EQ(header_section_length("A: b\r\n\r\nbody"), 8u);
  EXPECT_EQ(header_section_length("\r\nbody"), 2u);
  EXPECT_EQ(header_section_length("A: b\r\n"), std::string_view::npos);
}

TEST(HeaderRewrite, FormatsMailboxes) {
  EXPECT_EQ(format_mailbox("", "a@b.example"), "a@b.example");
  EXPECT_EQ(format_mailbox("Plain Name", "a@b.example"), "Plain Name <a@b.example>");
  EXPECT_EQ(format_mailbox("Doe, John", "a@b.example"), "\"Doe, John\" <a@b.example>");
  EXPECT_EQ(format_mailbox("Say \"hi\"", "a@b.example"), "\"Say \\\"hi\\\"\" <a@b.example>");
  EXPECT_EQ(format_mailbox("Zoë", "a@b.example"), "=?UTF-8?B?Wm/Dqw==?= <a@b.example>");
}

}  // namespace
}  // namespace smarthost::upstream
