// The MIME corpus converted for SendGrid and Postmark, checked field by field: bodies, attachments and inline
// parts, decoded subjects and names in UTF-8, nested multiparts, and malformed MIME degrading to text.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "tests/unit/upstream/http/corpus.h"
#include "upstream/http/mime_view.h"
#include "upstream/http/postmark_transport.h"
#include "upstream/http/sendgrid_transport.h"

namespace smarthost::upstream::http {
namespace {

namespace json = boost::json;

struct Converted {
  json::value sendgrid;  // the request body
  json::value postmark;  // the message object
};

Converted convert(const std::string& name, const std::vector<std::string>& recipients) {
  auto parsed = parse_mime(test::corpus_message(name));
  EXPECT_TRUE(parsed.view) << parsed.error;
  Converted out;
  if (!parsed.view) return out;
  auto sendgrid = build_sendgrid_payloads(*parsed.view, recipients, SendgridPayloadSettings{});
  EXPECT_EQ(sendgrid.error, "") << name;
  auto postmark = build_postmark_messages(*parsed.view, recipients, PostmarkPayloadSettings{});
  EXPECT_EQ(postmark.error, "") << name;
  if (sendgrid.payloads.size() != 1 || postmark.payloads.size() != 1) {
    ADD_FAILURE() << name << ": expected one payload each";
    return out;
  }
  out.sendgrid = json::parse(sendgrid.payloads[0].body);
  out.postmark = json::parse(postmark.payloads[0].body);
  return out;
}

std::string content_types(const json::value& sendgrid) {
  std::string out;
  for (const auto& c : sendgrid.at("content").as_array()) out += std::string(c.at("type").as_string()) + ";";
  return out;
}

TEST(CorpusConversion, PlainText) {
  auto c = convert("plain.eml", {"bob@example.net"});
  EXPECT_EQ(content_types(c.sendgrid), "text/plain;");
  EXPECT_FALSE(c.sendgrid.as_object().contains("attachments"));
  EXPECT_TRUE(c.postmark.as_object().contains("TextBody"));
  EXPECT_FALSE(c.postmark.as_object().contains("HtmlBody"));
  EXPECT_EQ(c.postmark.at("From"), "Alice Example <alice@example.com>");
  EXPECT_EQ(c.postmark.at("To"), "Bob <bob@example.net>");
}

TEST(CorpusConversion, HtmlWithInlineImages) {
  auto c = convert("html_inline_images.eml", {"reader@example.net"});
  EXPECT_EQ(content_types(c.sendgrid), "text/plain;text/html;") << "plain first";
  const auto& a = c.sendgrid.at("attachments").at(0);
  EXPECT_EQ(a.at("disposition"), "inline");
  EXPECT_EQ(a.at("content_id"), "logo@example.com");
  EXPECT_EQ(a.at("type"), "image/png");
  EXPECT_EQ(a.at("filename"), "logo.png");
  EXPECT_TRUE(std::string(a.at("content").as_string()).starts_with("iVBORw0KGgo"));
  EXPECT_EQ(c.postmark.at("Attachments").at(0).at("ContentID"), "cid:logo@example.com");
  EXPECT_EQ(c.postmark.at("Attachments").at(0).at("Content"), a.at("content"));
}

TEST(CorpusConversion, Attachments) {
  auto c = convert("attachments.eml", {"customer@example.net"});
  const auto& list = c.sendgrid.at("attachments").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].at("filename"), "invoice.pdf");
  EXPECT_EQ(list[0].at("disposition"), "attachment");
  EXPECT_FALSE(list[0].as_object().contains("content_id"));
  EXPECT_EQ(list[1].at("filename"), "r\xC3\xA9sum\xC3\xA9.csv");
  EXPECT_EQ(list[1].at("content"), "aXRlbSxhbW91bnQNCndpZGdldCwz");  // "item,amount\r\nwidget,3"
  const auto& pm = c.postmark.at("Attachments").as_array();
  ASSERT_EQ(pm.size(), 2u);
  EXPECT_EQ(pm[0].at("Name"), "invoice.pdf");
  EXPECT_EQ(pm[0].at("ContentType"), "application/pdf");
  EXPECT_FALSE(pm[0].as_object().contains("ContentID"));
  EXPECT_EQ(c.postmark.at("TextBody"), "Please find the invoice and the summary attached.");
}

TEST(CorpusConversion, QuotedPrintableAndBase64Bodies) {
  auto qp = convert("quoted_printable.eml", {"reader@example.net"});
  EXPECT_EQ(qp.sendgrid.at("content").at(0).at("value"),
            "Caf\xC3\xA9 au lait, cr\xC3\xA8me br\xC3\xBBl\xC3\xA9" "e. This line is long enough that it was "
            "wrapped with a soft line break.\nEquals sign: = done.\n");
  EXPECT_EQ(qp.postmark.at("TextBody"), qp.sendgrid.at("content").at(0).at("value"));
  auto b64 = convert("base64_body.eml", {"reader@example.net"});
  EXPECT_EQ(content_types(b64.sendgrid), "text/html;");
  EXPECT_EQ(b64.postmark.at("HtmlBody"),
            "<html><body><h1>Bonjour</h1><p>\xC3\x87" "a va tr\xC3\xA8s bien \xE2\x9C\x93</p></body></html>\n");
  EXPECT_FALSE(b64.postmark.as_object().contains("TextBody"));
}

TEST(CorpusConversion, EncodedSubjectsAndNamesBecomeUtf8) {
  auto latin1 = convert("latin1_subject.eml", {"joerg@example.net"});
  EXPECT_EQ(latin1.sendgrid.at("subject"), "Caf\xC3\xA9 cr\xC3\xA8me \xC3\xA0 la fran\xC3\xA7" "aise");
  EXPECT_EQ(latin1.sendgrid.at("from").at("name"), "Ren\xC3\xA9 Dupont");
  EXPECT_EQ(latin1.sendgrid.at("personalizations").at(0).at("to").at(0).at("name"), "J\xC3\xB6rg");
  EXPECT_EQ(latin1.sendgrid.at("content").at(0).at("value"),
            "D\xC3\xA9j\xC3\xA0 vu: na\xC3\xAFve fa\xC3\xA7" "ade, 10 \xC2\xA3.\n");
  EXPECT_EQ(latin1.postmark.at("Subject"), latin1.sendgrid.at("subject"));
  // Postmark gets RFC 5322 mailbox strings: a non-ASCII name is RFC 2047 encoded again.
  EXPECT_EQ(latin1.postmark.at("From"), "=?UTF-8?B?UmVuw6kgRHVwb250?= <rene@example.com>");

  auto utf8 = convert("utf8_subject.eml", {"zoe@example.net"});
  EXPECT_EQ(utf8.sendgrid.at("subject"), "Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln \xE2\x9C\x93");
  EXPECT_EQ(utf8.sendgrid.at("from").at("name"), "Micha\xC5\x82 Kowalski");
  EXPECT_EQ(utf8.sendgrid.at("personalizations").at(0).at("to").at(0).at("name"), "Zo\xC3\xAB");

  auto cp1252 = convert("windows1252.eml", {"reader@example.net"});
  EXPECT_EQ(cp1252.postmark.at("TextBody"), "\xE2\x80\x9CQuoted\xE2\x80\x9D and \xE2\x80\x93 dashed \xE2\x82\xAC 5\n");
}

TEST(CorpusConversion, NestedAlternativeInsideMixed) {
  auto c = convert("nested.eml", {"one@example.net", "two@example.net"});
  EXPECT_EQ(content_types(c.sendgrid), "text/plain;text/html;");
  EXPECT_EQ(c.sendgrid.at("content").at(0).at("value"), "Plain version.");
  EXPECT_EQ(c.sendgrid.at("content").at(1).at("value"), "<p>HTML version <img src=\"cid:dot\"></p>");
  const auto& list = c.sendgrid.at("attachments").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].at("disposition"), "inline");
  EXPECT_EQ(list[0].at("content_id"), "dot");
  EXPECT_EQ(list[1].at("disposition"), "attachment");
  EXPECT_EQ(list[1].at("filename"), "data.zip");
  EXPECT_EQ(json::serialize(c.sendgrid.at("personalizations")),
            R"([{"to":[{"email":"one@example.net"}],"cc":[{"email":"two@example.net"}]}])");
  EXPECT_EQ(c.postmark.at("To"), "one@example.net");
  EXPECT_EQ(c.postmark.at("Cc"), "two@example.net");
}

TEST(CorpusConversion, MalformedMimeDegradesToText) {
  auto no_boundary = convert("malformed_no_boundary.eml", {"reader@example.net"});
  EXPECT_NE(std::string(no_boundary.sendgrid.at("content").at(0).at("value").as_string()).find("It should still arrive as text."),
            std::string::npos);
  EXPECT_NE(std::string(no_boundary.postmark.at("TextBody").as_string()).find("It should still arrive as text."),
            std::string::npos);

  auto truncated = convert("malformed_truncated.eml", {"reader@example.net"});
  EXPECT_EQ(truncated.postmark.at("TextBody"), "The text part survives.");
  EXPECT_EQ(truncated.postmark.at("Attachments").at(0).at("Name"), "half.bin");

  auto headers = convert("malformed_headers.eml", {"reader@example.net"});
  EXPECT_NE(std::string(headers.sendgrid.at("content").at(0).at("value").as_string()).find("with invalid UTF-8"),
            std::string::npos);
}

TEST(CorpusConversion, EveryCorpusMessageConvertsOrFailsClearly) {
  for (const char* name : {"plain.eml", "html_inline_images.eml", "attachments.eml", "quoted_printable.eml",
                           "base64_body.eml", "latin1_subject.eml", "utf8_subject.eml", "nested.eml",
                           "windows1252.eml", "custom_headers.eml", "malformed_no_boundary.eml",
                           "malformed_truncated.eml", "malformed_headers.eml", "bcc_only.eml"}) {
    auto parsed = parse_mime(test::corpus_message(name));
    ASSERT_TRUE(parsed.view) << name;
    auto sendgrid = build_sendgrid_payloads(*parsed.view, {"reader@example.net"}, SendgridPayloadSettings{});
    auto postmark = build_postmark_messages(*parsed.view, {"reader@example.net"}, PostmarkPayloadSettings{});
    EXPECT_EQ(sendgrid.error, "") << name;
    EXPECT_EQ(postmark.error, "") << name;
    for (const auto& p : sendgrid.payloads) EXPECT_NO_THROW((void)json::parse(p.body)) << name;
    for (const auto& p : postmark.payloads) EXPECT_NO_THROW((void)json::parse(p.body)) << name;
  }
}

}  // namespace
}  // namespace smarthost::upstream::http
