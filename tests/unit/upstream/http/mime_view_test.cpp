// The parsed message view over the corpus: addresses, decoded subjects, bodies in UTF-8, attachments and inline
// parts, and graceful reading of malformed MIME.
#include "upstream/http/mime_view.h"

#include <gtest/gtest.h>

#include "tests/unit/upstream/http/corpus.h"
#include "upstream/http/outbound_content.h"

namespace smarthost::upstream::http {
namespace {

MimeView view_of(const std::string& name) {
  auto parsed = parse_mime(test::corpus_message(name));
  EXPECT_TRUE(parsed.view) << name << ": " << parsed.error;
  return parsed.view ? *parsed.view : MimeView{};
}

TEST(MimeView, PlainText) {
  auto view = view_of("plain.eml");
  ASSERT_EQ(view.from.size(), 1u);
  EXPECT_EQ(view.from[0].name, "Alice Example");
  EXPECT_EQ(view.from[0].email, "alice@example.com");
  ASSERT_EQ(view.to.size(), 2u);
  EXPECT_EQ(view.to[0].email, "bob@example.net");
  EXPECT_EQ(view.to[1].email, "carol@example.org");
  EXPECT_EQ(view.to[1].name, "");
  ASSERT_EQ(view.cc.size(), 1u);
  EXPECT_EQ(view.cc[0].name, "Dave, the Boss");
  EXPECT_EQ(view.subject, "Quarterly report");
  EXPECT_EQ(view.message_id, "plain-1@example.com");
  ASSERT_TRUE(view.text);
  EXPECT_NE(view.text->find("Hello Bob,"), std::string::npos);
  EXPECT_FALSE(view.html);
  EXPECT_TRUE(view.attachments.empty());
  EXPECT_TRUE(view.notes.empty());
  EXPECT_EQ(view.header("date"), "Mon, 01 Jan 2024 10:00:00 +0000");
}

TEST(MimeView, HtmlWithInlineImage) {
  auto view = view_of("html_inline_images.eml");
  ASSERT_TRUE(view.text);
  ASSERT_TRUE(view.html);
  EXPECT_NE(view.html->find("cid:logo@example.com"), std::string::npos);
  ASSERT_EQ(view.attachments.size(), 1u);
  const auto& logo = view.attachments[0];
  EXPECT_EQ(logo.filename, "logo.png");
  EXPECT_EQ(logo.content_type, "image/png");
  EXPECT_EQ(logo.content_id, "logo@example.com");
  EXPECT_TRUE(logo.inline_part);
  EXPECT_EQ(logo.data.substr(1, 3), "PNG");
}

TEST(MimeView, Attachments) {
  auto view = view_of("attachments.eml");
  ASSERT_TRUE(view.text);
  EXPECT_EQ(*view.text, "Please find the invoice and the summary attached.");
  ASSERT_EQ(view.attachments.size(), 2u);
  EXPECT_EQ(view.attachments[0].filename, "invoice.pdf");
  EXPECT_EQ(view.attachments[0].content_type, "application/pdf");
  EXPECT_FALSE(view.attachments[0].inline_part);
  EXPECT_TRUE(view.attachments[0].data.starts_with("%PDF-1.4"));
  EXPECT_EQ(view.attachments[1].filename, "r\xC3\xA9sum\xC3\xA9.csv");
  EXPECT_EQ(view.attachments[1].data, "item,amount\r\nwidget,3");
}

TEST(MimeView, QuotedPrintable) {
  auto view = view_of("quoted_printable.eml");
  ASSERT_TRUE(view.text);
  EXPECT_NE(view.text->find("Caf\xC3\xA9 au lait, cr\xC3\xA8me br\xC3\xBBl\xC3\xA9" "e."), std::string::npos);
  EXPECT_NE(view.text->find("long enough that it was wrapped"), std::string::npos);
  EXPECT_NE(view.text->find("Equals sign: = done."), std::string::npos);
}

TEST(MimeView, Base64Html) {
  auto view = view_of("base64_body.eml");
  EXPECT_FALSE(view.text);
  ASSERT_TRUE(view.html);
  EXPECT_NE(view.html->find("\xC3\x87" "a va tr\xC3\xA8s bien \xE2\x9C\x93"), std::string::npos);
}

TEST(MimeView, Latin1HeadersAndBody) {
  auto view = view_of("latin1_subject.eml");
  EXPECT_EQ(view.subject, "Caf\xC3\xA9 cr\xC3\xA8me \xC3\xA0 la fran\xC3\xA7" "aise");
  EXPECT_EQ(view.from.at(0).name, "Ren\xC3\xA9 Dupont");
  EXPECT_EQ(view.to.at(0).name, "J\xC3\xB6rg");
  ASSERT_TRUE(view.text);
  EXPECT_NE(view.text->find("D\xC3\xA9j\xC3\xA0 vu: na\xC3\xAFve fa\xC3\xA7" "ade, 10 \xC2\xA3."), std::string::npos);
}

TEST(MimeView, Utf8Headers) {
  auto view = view_of("utf8_subject.eml");
  EXPECT_EQ(view.subject, "Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln \xE2\x9C\x93");
  EXPECT_EQ(view.from.at(0).name, "Micha\xC5\x82 Kowalski");
  EXPECT_EQ(view.to.at(0).name, "Zo\xC3\xAB");
  EXPECT_NE(view.text->find("Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln"), std::string::npos);
}

TEST(MimeView, NestedAlternativeInMixed) {
  auto view = view_of("nested.eml");
  ASSERT_TRUE(view.text);
  EXPECT_EQ(*view.text, "Plain version.");
  ASSERT_TRUE(view.html);
  EXPECT_EQ(*view.html, "<p>HTML version <img src=\"cid:dot\"></p>");
  ASSERT_EQ(view.attachments.size(), 2u);
  EXPECT_EQ(view.attachments[0].content_id, "dot");
  EXPECT_TRUE(view.attachments[0].inline_part);
  EXPECT_EQ(view.attachments[0].content_type, "image/gif");
  EXPECT_EQ(view.attachments[0].filename.substr(view.attachments[0].filename.size() - 4), ".gif");
  EXPECT_EQ(view.attachments[1].filename, "data.zip");
  EXPECT_FALSE(view.attachments[1].inline_part);
  EXPECT_EQ(view.cc.at(0).email, "two@example.net");
}

TEST(MimeView, Windows1252) {
  auto view = view_of("windows1252.eml");
  ASSERT_TRUE(view.text);
  EXPECT_NE(view.text->find("\xE2\x80\x9CQuoted\xE2\x80\x9D and \xE2\x80\x93 dashed \xE2\x82\xAC 5"), std::string::npos);
}

TEST(MimeView, MalformedNoBoundaryDegradesToText) {
  auto view = view_of("malformed_no_boundary.eml");
  ASSERT_TRUE(view.text);
  EXPECT_NE(view.text->find("It should still arrive as text."), std::string::npos);
  EXPECT_FALSE(view.notes.empty());
}

TEST(MimeView, MalformedTruncatedKeepsWhatItCan) {
  auto view = view_of("malformed_truncated.eml");
  ASSERT_TRUE(view.text);
  EXPECT_EQ(*view.text, "The text part survives.");
  ASSERT_EQ(view.attachments.size(), 1u);
  EXPECT_EQ(view.attachments[0].filename, "half.bin");
  EXPECT_GT(view.attachments[0].data.size(), 40u);
}

TEST(MimeView, MalformedHeadersAndCharset) {
  auto view = view_of("malformed_headers.eml");
  ASSERT_TRUE(view.text);
  EXPECT_TRUE(is_valid_utf8(*view.text));
  EXPECT_TRUE(is_valid_utf8(view.subject));
  EXPECT_NE(view.text->find("with invalid UTF-8"), std::string::npos);
}

TEST(MimeView, GarbageNeverCrashes) {
  for (std::string input : {std::string(), std::string("\r\n\r\n"), std::string("no headers at all"),
                            std::string("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x\r\n--x--"),
                            std::string(5000, '\0'), std::string("Subject: =?utf-8?b?\xff\xfe?=\r\n\r\nx")}) {
    auto parsed = parse_mime(input);
    if (parsed.view) {
      EXPECT_TRUE(is_valid_utf8(parsed.view->subject));
      if (parsed.view->text) {
        EXPECT_TRUE(is_valid_utf8(*parsed.view->text));
      }
    } else {
      EXPECT_FALSE(parsed.error.empty());
    }
  }
  std::string deep = "Content-Type: multipart/mixed; boundary=b0\r\n\r\n";
  for (int i = 1; i < 200; ++i)
    deep += "--b" + std::to_string(i - 1) + "\r\nContent-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n";
  auto parsed = parse_mime(deep);
  EXPECT_TRUE(parsed.view || !parsed.error.empty());
}

TEST(MimeView, Latin1Conversion) {
  EXPECT_EQ(latin1_to_utf8("caf\xE9"), "caf\xC3\xA9");
  EXPECT_EQ(latin1_to_utf8("\x93x\x94"), "\xE2\x80\x9Cx\xE2\x80\x9D");
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9"));
  EXPECT_FALSE(is_valid_utf8("caf\xE9"));
}

// Attachment bytes are decoded in steps straight into the result: every transfer encoding, and a base64 part large
// enough to take many steps (with its lines broken every 76 characters, as mail has them).
TEST(MimeView, AttachmentsDecodeInEveryTransferEncoding) {
  std::string binary;
  for (int i = 0; i < 300000; ++i) binary += static_cast<char>((i * 31) % 256);
  std::string wrapped = base64_encode(binary), lines;
  for (std::size_t i = 0; i < wrapped.size(); i += 76) lines += wrapped.substr(i, 76) + "\r\n";
  std::string message =
      "From: a@example.com\r\nTo: b@example.net\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=B\r\n\r\n"
      "--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
      "--B\r\nContent-Type: application/octet-stream; name=big.bin\r\nContent-Disposition: attachment\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" + lines +
      "--B\r\nContent-Type: application/octet-stream; name=qp.txt\r\nContent-Disposition: attachment\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\nline one =3D 1=\r\ncontinued\r\n"
      "--B\r\nContent-Type: application/octet-stream; name=plain.txt\r\nContent-Disposition: attachment\r\n"
      "Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xC3\xA9\r\n"
      "--B\r\nContent-Type: application/octet-stream; name=uu.txt\r\nContent-Disposition: attachment\r\n"
      "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 uu.txt\r\n#0V%T\r\n`\r\nend\r\n"
      "--B--\r\n";
  auto parsed = parse_mime(message);
  ASSERT_TRUE(parsed.view) << parsed.error;
  const auto& attachments = parsed.view->attachments;
  ASSERT_EQ(attachments.size(), 4u);
  EXPECT_EQ(attachments[0].filename, "big.bin");
  EXPECT_TRUE(attachments[0].data == binary) << attachments[0].data.size() << " bytes, " << binary.size() << " sent";
  EXPECT_EQ(attachments[1].data, "line one = 1continued");  // the CRLF before a boundary belongs to it
  EXPECT_EQ(attachments[2].data, "caf\xC3\xA9");
  EXPECT_EQ(attachments[3].data, "Cat");
}

}  // namespace
}  // namespace smarthost::upstream::http
