// The shared message preparation of the HTTP transports: raw header edits, recipient routing, the sender per
// from_mode, and which custom headers a JSON API may carry.
#include "upstream/http/outbound_content.h"

#include <fcntl.h>

#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <fstream>
#include <memory>

#include "tests/support/temp_dir.h"

namespace smarthost::upstream::http {
namespace {

MimeView view_of(std::string_view message) {
  auto parsed = parse_mime(message);
  EXPECT_TRUE(parsed.view);
  return parsed.view ? *parsed.view : MimeView{};
}

TEST(PrepareRawMessage, RemovesBccAndControlHeadersKeepsTheRest) {
  std::string message =
      "From: a@example.com\r\nBcc: hidden@example.net,\r\n  other@example.net\r\nX-PM-Tag: x\r\n"
      "X-SES-CONFIGURATION-SET: y\r\nx-mailgun-variables: {}\r\nX-SMTPAPI: {}\r\nSubject: s\r\n\r\nBcc: in body\r\n";
  EXPECT_EQ(prepare_raw_message(message, {}, false), "From: a@example.com\r\nSubject: s\r\n\r\nBcc: in body\r\n");
  EXPECT_EQ(prepare_raw_message(message, {}, true),
            "From: a@example.com\r\nX-PM-Tag: x\r\nX-SES-CONFIGURATION-SET: y\r\nx-mailgun-variables: {}\r\n"
            "X-SMTPAPI: {}\r\nSubject: s\r\n\r\nBcc: in body\r\n");
}

TEST(PrepareRawMessage, AppliesTheSenderIdentity) {
  SenderIdentity identity{"noreply@example.com", "Service", "", conf::FromMode::missing};
  EXPECT_EQ(prepare_raw_message("To: b@example.net\r\n\r\nbody\r\n", identity, false),
            "To: b@example.net\r\nFrom: Service <noreply@example.com>\r\n\r\nbody\r\n");
  EXPECT_EQ(prepare_raw_message("From: a@example.com\r\n\r\nbody\r\n", identity, false),
            "From: a@example.com\r\n\r\nbody\r\n");
}

TEST(PrepareRawMessage, InPlaceMovesOnlyTheHeaderSection) {
  std::string message = "From: a@example.com\r\nBcc: hidden@example.net\r\nSubject: s\r\n\r\n" +
                        std::string(200000, 'x') + "\r\n";
  std::string expected = prepare_raw_message(message, {}, false);
  message.reserve(message.size() + kContentSlack);
  const char* buffer = message.data();
  prepare_raw_message_in_place(message, {}, false);
  EXPECT_TRUE(message == expected);
  EXPECT_EQ(message.data(), buffer) << "the message was copied to a new buffer";

  SenderIdentity identity{"noreply@example.com", "Service", "", conf::FromMode::always};
  std::string grows = "From: a@example.com\r\n\r\nbody\r\n";
  grows.reserve(grows.size() + kContentSlack);
  buffer = grows.data();
  prepare_raw_message_in_place(grows, identity, false);
  EXPECT_EQ(grows, prepare_raw_message("From: a@example.com\r\n\r\nbody\r\n", identity, false));
  EXPECT_EQ(grows.data(), buffer);
}

TEST(Base64, AppendsInSlicesWithoutReallocatingAReservedBody) {
  std::string data;
  for (int i = 0; i < (3 << 20) + 5; ++i) data += static_cast<char>((i * 131) % 251);  // over one 3 MiB slice
  std::string out = "{\"Data\":\"";
  std::size_t prefix = out.size();
  out.reserve(prefix + 4 * ((data.size() + 2) / 3));
  const char* buffer = out.data();
  base64_append(out, data);
  EXPECT_EQ(out.data(), buffer);
  ASSERT_EQ(out.size(), prefix + 4 * ((data.size() + 2) / 3));
  EXPECT_EQ(out.substr(prefix, 8), base64_encode(data.substr(0, 6)));
  // Decoded back, slice by slice (4 MiB of base64 per 3 MiB of input), it is the input.
  std::string decoded(data.size() + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                          reinterpret_cast<const unsigned char*>(out.data() + prefix), static_cast<int>(out.size() - prefix));
  ASSERT_GT(n, 0);
  decoded.resize(data.size());  // EVP_DecodeBlock counts the padding as zero bytes
  EXPECT_TRUE(decoded == data);
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("Cat"), "Q2F0");
  EXPECT_EQ(base64_encode("Ca"), "Q2E=");
}

TEST(RouteRecipients, RolesNamesAndDuplicates) {
  auto view = view_of("From: a@example.com\r\nTo: Bob <bob@example.net>\r\nCc: carol@example.net\r\n\r\nx\r\n");
  auto routed = route_recipients(view, {"bob@example.net", "hidden@example.net", "CAROL@example.net", "BOB@example.net"});
  ASSERT_EQ(routed.size(), 3u);
  EXPECT_EQ(routed[0].role, Role::to);
  EXPECT_EQ(routed[0].name, "Bob");
  EXPECT_EQ(routed[0].indices, (std::vector<std::size_t>{0, 3}));
  EXPECT_EQ(routed[1].role, Role::bcc);
  EXPECT_EQ(routed[2].role, Role::cc);
  EXPECT_EQ(routed[2].email, "CAROL@example.net") << "the envelope's spelling is kept";
  EXPECT_EQ(chunk(routed, 2).size(), 2u);
  EXPECT_EQ(chunk(routed, 2)[1].size(), 1u);
}

TEST(ResolveSender, FollowsFromMode) {
  auto with_from = view_of("From: Alice <alice@example.com>\r\n\r\nx\r\n");
  auto with_reply = view_of("From: alice@example.com\r\nReply-To: list@example.com\r\n\r\nx\r\n");
  auto without = view_of("To: b@example.net\r\n\r\nx\r\n");
  SenderIdentity missing{"noreply@example.com", "Service", "", conf::FromMode::missing};
  SenderIdentity always{"noreply@example.com", "Service", "", conf::FromMode::always};
  SenderIdentity always_reply{"noreply@example.com", "Service", "Support <support@example.com>", conf::FromMode::always};

  auto s = resolve_sender(with_from, missing);
  EXPECT_EQ(s.from.email, "alice@example.com");
  EXPECT_TRUE(s.reply_to.empty());
  s = resolve_sender(without, missing);
  EXPECT_EQ(s.from.email, "noreply@example.com");
  EXPECT_EQ(s.from.name, "Service");

  s = resolve_sender(with_from, always);
  EXPECT_EQ(s.from.email, "noreply@example.com");
  ASSERT_EQ(s.reply_to.size(), 1u);
  EXPECT_EQ(s.reply_to[0].email, "alice@example.com") << "the original author gets the answers";
  s = resolve_sender(with_reply, always);
  EXPECT_EQ(s.reply_to.at(0).email, "list@example.com") << "an existing Reply-To stays";
  s = resolve_sender(with_reply, always_reply);
  EXPECT_EQ(s.reply_to.at(0).email, "support@example.com") << "reply_to replaces it when From is rewritten";
  EXPECT_EQ(s.reply_to.at(0).name, "Support");
  s = resolve_sender(with_from, SenderIdentity{"", "", "support@example.com", conf::FromMode::missing});
  EXPECT_EQ(s.reply_to.at(0).email, "support@example.com") << "reply_to fills a missing Reply-To";

  EXPECT_FALSE(resolve_sender(without, SenderIdentity{}).error.empty());
}

TEST(CustomHeaders, OnlyWhatAnApiMayCarry) {
  auto view = view_of(
      "From: a@example.com\r\nTo: b@example.net\r\nSubject: s\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
      "Message-ID: <1@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\nReceived: from x\r\n"
      "DKIM-Signature: v=1\r\nX-Campaign: =?UTF-8?Q?caf=C3=A9?=\r\nX-PM-Tag: t\r\nX-SG-EID: e\r\n"
      "List-Unsubscribe: <mailto:u@example.com>,\r\n <https://example.com/u>\r\n\r\nx\r\n");
  auto headers = custom_headers(view, false, {"x-sg-"});
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].name, "X-Campaign");
  EXPECT_EQ(headers[0].raw, "=?UTF-8?Q?caf=C3=A9?=") << "raw, still encoded: the API writes it as given";
  EXPECT_EQ(headers[0].value, "caf\xC3\xA9");
  EXPECT_EQ(headers[1].name, "List-Unsubscribe");
  EXPECT_EQ(headers[1].raw, "<mailto:u@example.com>, <https://example.com/u>");
  EXPECT_EQ(custom_headers(view, true, {}).size(), 4u);
}

TEST(LoadContent, ReadsTheRecordedRangeOnly) {
  OutboundMessage message;
  message.content_path = "/nonexistent/spool/file";
  message.size = 10;
  EXPECT_FALSE(load_content(message, 100).error.empty());
  message.size = 1000;
  EXPECT_NE(load_content(message, 100).error.find("over the limit"), std::string::npos);
}

// The spool kept the file open (mail/content_file.h): the range is read through that descriptor, not the path.
TEST(LoadContent, ReadsThroughTheSpoolsOpenFile) {
  smarthost::test::TempDir dir;
  const auto path = dir.path() / "message";
  {
    std::ofstream out(path, std::ios::binary);
    out << "RECORD\nSubject: x\r\n\r\nbody\r\n";
  }
  auto budget = std::make_shared<mail::ContentFile::Budget>(1);
  OutboundMessage message;
  message.content_file = mail::ContentFile::adopt(::open(path.c_str(), O_RDONLY | O_CLOEXEC), budget);
  ASSERT_TRUE(message.content_file);
  message.content_path = "/nonexistent/spool/file";
  message.content_offset = 7;
  message.size = 20;
  LoadedContent loaded = load_content(message, 100);
  EXPECT_EQ(loaded.error, "");
  EXPECT_EQ(loaded.content, "Subject: x\r\n\r\nbody\r\n");
  message.size = 21;
  EXPECT_NE(load_content(message, 100).error.find("shorter than recorded"), std::string::npos);
  EXPECT_GE(fcntl(message.content_file->fd(), F_GETFD), 0) << "still open: it is the spool's";
}

}  // namespace
}  // namespace smarthost::upstream::http
