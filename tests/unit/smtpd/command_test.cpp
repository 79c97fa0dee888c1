// The command-line parsers: verbs, keywords, MAIL/RCPT parameters, BDAT and AUTH arguments, base64.
#include "smtpd/command.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace smarthost::smtpd {
namespace {

TEST(ParseCommand, VerbsAreCaseInsensitive) {
  EXPECT_EQ(parse_command("EHLO x").verb, Verb::ehlo);
  EXPECT_EQ(parse_command("eHlO x").verb, Verb::ehlo);
  EXPECT_EQ(parse_command("starttls").verb, Verb::starttls);
  EXPECT_EQ(parse_command("Quit").verb, Verb::quit);
  EXPECT_EQ(parse_command("MAILFROM:<a@b>").verb, Verb::unknown);
  EXPECT_EQ(parse_command("").verb, Verb::unknown);
  EXPECT_EQ(parse_command("POST / HTTP/1.0").verb, Verb::http);
  EXPECT_EQ(parse_command("EXPN x").verb, Verb::expn);
}

TEST(ParseCommand, ArgumentIsTrimmed) {
  const CommandLine c = parse_command("MAIL   FROM:<a@b>  ");
  EXPECT_EQ(c.verb, Verb::mail);
  EXPECT_EQ(c.argument, "FROM:<a@b>");
  EXPECT_FALSE(parse_command("DATA ").has_argument());
  EXPECT_TRUE(parse_command("DATA x").has_argument());
}

TEST(AfterKeyword, MatchesCaseInsensitivelyAndSkipsSpaces) {
  EXPECT_EQ(after_keyword("FROM:<a@b>", "FROM:"), "<a@b>");
  EXPECT_EQ(after_keyword("from: <a@b>", "FROM:"), "<a@b>");
  EXPECT_FALSE(after_keyword("FROM <a@b>", "FROM:").has_value());
  EXPECT_FALSE(after_keyword("TO:<a@b>", "FROM:").has_value());
  EXPECT_FALSE(after_keyword("FRO", "FROM:").has_value());
}

TEST(MailParameters, KnownParameters) {
  const auto r = parse_mail_parameters(" SIZE=12345 BODY=8BITMIME SMTPUTF8 AUTH=<>");
  EXPECT_EQ(r.error, ParamError::none);
  EXPECT_EQ(r.params.size, 12345u);
  EXPECT_EQ(r.params.body, mail::BodyType::eight_bit_mime);
  EXPECT_TRUE(r.params.smtputf8);
  EXPECT_EQ(parse_mail_parameters("").error, ParamError::none);
  EXPECT_EQ(parse_mail_parameters("   ").error, ParamError::none);
  EXPECT_EQ(parse_mail_parameters(" SIZE=18446744073709551615").params.size, UINT64_MAX);
}

TEST(MailParameters, Errors) {
  struct Case {
    const char* text;
    ParamError error;
    const char* keyword;
  };
  const Case cases[] = {
      {" SIZE=18446744073709551616", ParamError::malformed, "SIZE"},
      {" SIZE=-1", ParamError::malformed, "SIZE"},
      {" SIZE", ParamError::malformed, "SIZE"},
      {" BODY=BINARYMIME", ParamError::malformed, "BODY"},
      {" BODY=", ParamError::malformed, "BODY"},
      {" BODY=7BIT BODY=7BIT", ParamError::malformed, "BODY"},
      {" SMTPUTF8=1", ParamError::malformed, "SMTPUTF8"},
      {" AUTH", ParamError::malformed, "AUTH"},
      {" -X=1", ParamError::malformed, "-X"},
      {" X=a=b", ParamError::malformed, "X"},
      {" RET=HDRS", ParamError::unknown, "RET"},
      {" xfoo", ParamError::unknown, "XFOO"},
      {" SIZE=1 NOTIFY=NEVER", ParamError::unknown, "NOTIFY"},
  };
  for (const auto& c : cases) {
    const auto r = parse_mail_parameters(c.text);
    EXPECT_EQ(r.error, c.error) << c.text;
    EXPECT_EQ(r.keyword, c.keyword) << c.text;
  }
}

TEST(RcptParameters, NoneAreImplemented) {
  EXPECT_EQ(parse_rcpt_parameters("").error, ParamError::none);
  EXPECT_EQ(parse_rcpt_parameters(" NOTIFY=SUCCESS").error, ParamError::unknown);
  EXPECT_EQ(parse_rcpt_parameters(" =x").error, ParamError::malformed);
}

TEST(Bdat, Arguments) {
  EXPECT_EQ(parse_bdat("100")->size, 100u);
  EXPECT_FALSE(parse_bdat("100")->last);
  EXPECT_TRUE(parse_bdat("0 LAST")->last);
  EXPECT_TRUE(parse_bdat("7 last")->last);
  EXPECT_FALSE(parse_bdat("").has_value());
  EXPECT_FALSE(parse_bdat("x").has_value());
  EXPECT_FALSE(parse_bdat("-1").has_value());
  EXPECT_FALSE(parse_bdat("10 FIRST").has_value());
  EXPECT_FALSE(parse_bdat("10 LAST x").has_value());
  EXPECT_FALSE(parse_bdat("99999999999999999999999").has_value());
}

TEST(Auth, Arguments) {
  const auto a = parse_auth("PLAIN AHVzZXIAc2VjcmV0");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->mechanism, "PLAIN");
  EXPECT_EQ(a->initial_response, "AHVzZXIAc2VjcmV0");
  EXPECT_FALSE(parse_auth("LOGIN")->initial_response.has_value());
  EXPECT_EQ(parse_auth("PLAIN =")->initial_response, "=");
  EXPECT_FALSE(parse_auth("").has_value());
  EXPECT_FALSE(parse_auth("PLAIN a b").has_value());
}

TEST(Base64, RoundTripsAndRejectsJunk) {
  const std::vector<std::string> samples = {"", "a", "ab", "abc", "abcd", std::string("\0user\0pass", 10),
                                           std::string("\xff\xfe", 2)};
  for (const std::string& s : samples) {
    EXPECT_EQ(decode_base64(encode_base64(s)), s);
  }
  EXPECT_EQ(encode_base64("user"), "dXNlcg==");
  EXPECT_EQ(decode_base64("dXNlcg"), "user");  // padding optional
  EXPECT_FALSE(decode_base64("dXNlcg=").has_value());
  EXPECT_FALSE(decode_base64("dXNlcg===").has_value());
  EXPECT_FALSE(decode_base64("dX=Nlcg==").has_value());
  EXPECT_FALSE(decode_base64("dXNl cg==").has_value());
  EXPECT_FALSE(decode_base64("d").has_value());
  EXPECT_FALSE(decode_base64("dXNlch==").has_value());  // non-canonical trailing bits
  EXPECT_FALSE(decode_base64("*").has_value());
}

}  // namespace
}  // namespace smarthost::smtpd
