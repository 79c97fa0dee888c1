// Tests for mail::parse_path and mail::domain_of: RFC 5321 syntax, limits, routes, quoting, UTF-8.
#include "mail/address.h"

#include <gtest/gtest.h>

#include <string>

namespace smarthost::mail {
namespace {

struct PathCase {
  std::string text;
  bool allow_null;
  bool utf8;
  PathError error;
  std::string address;  // when error == none
  std::string rest;
};

class PathTable : public ::testing::TestWithParam<PathCase> {};

TEST_P(PathTable, ParsesAsExpected) {
  const PathCase& c = GetParam();
  const PathParse r = parse_path(c.text, c.allow_null, c.utf8);
  EXPECT_EQ(r.error, c.error) << c.text;
  if (c.error == PathError::none) {
    EXPECT_EQ(r.path.address(), c.address) << c.text;
    EXPECT_EQ(std::string(r.rest), c.rest) << c.text;
  }
}

const std::string k64(64, 'a');
const std::string k65(65, 'a');
// A 255-octet domain made of 63-octet labels: 63*4 + 3 dots = 255.
const std::string kLabel63(63, 'b');
const std::string kDomain255 = kLabel63 + "." + kLabel63 + "." + kLabel63 + "." + kLabel63;

INSTANTIATE_TEST_SUITE_P(
    Paths, PathTable,
    ::testing::Values(
        PathCase{"<user@example.com>", false, false, PathError::none, "user@example.com", ""},
        PathCase{" <user@example.com>", false, false, PathError::none, "user@example.com", ""},
        PathCase{"<user@example.com> SIZE=10", true, false, PathError::none, "user@example.com", " SIZE=10"},
        PathCase{"<>", true, false, PathError::none, "", ""},
        PathCase{"<> BODY=8BITMIME", true, false, PathError::none, "", " BODY=8BITMIME"},
        PathCase{"<>", false, false, PathError::syntax, "", ""},
        PathCase{"<postmaster>", false, false, PathError::none, "postmaster", ""},
        PathCase{"<PostMaster>", false, false, PathError::none, "PostMaster", ""},
        PathCase{"<postmaster>", true, false, PathError::syntax, "", ""},
        PathCase{"<user>", false, false, PathError::syntax, "", ""},
        PathCase{"user@example.com", false, false, PathError::syntax, "", ""},
        PathCase{"<user@example.com", false, false, PathError::syntax, "", ""},
        PathCase{"<user@example.com>x", false, false, PathError::syntax, "", ""},
        PathCase{"<first.last+tag@sub.example.co.uk>", false, false, PathError::none,
                 "first.last+tag@sub.example.co.uk", ""},
        PathCase{"<a!#$%&'*+-/=?^_`{|}~@example.com>", false, false, PathError::none,
                 "a!#$%&'*+-/=?^_`{|}~@example.com", ""},
        PathCase{"<.user@example.com>", false, false, PathError::syntax, "", ""},
        PathCase{"<user.@example.com>", false, false, PathError::syntax, "", ""},
        PathCase{"<us..er@example.com>", false, false, PathError::syntax, "", ""},
        PathCase{"<user@@example.com>", false, false, PathError::syntax, "", ""},
        PathCase{"<user@>", false, false, PathError::syntax, "", ""},
        PathCase{"<@example.com>", false, false, PathError::syntax, "", ""},
        PathCase{"<user@-example.com>", false, false, PathError::syntax, "", ""},
        PathCase{"<user@example-.com>", false, false, PathError::syntax, "", ""},
        PathCase{"<user@example..com>", false, false, PathError::syntax, "", ""},
        PathCase{"<user@example.com.>", false, false, PathError::syntax, "", ""},
        PathCase{"<us er@example.com>", false, false, PathError::syntax, "", ""},
        PathCase{"<user@exa mple.com>", false, false, PathError::syntax, "", ""},
        PathCase{"< user@example.com>", false, false, PathError::syntax, "", ""},
        PathCase{"<user(comment)@example.com>", false, false, PathError::syntax, "", ""},
        // Quoted local parts, including the characters that need quoting and a '>' inside the quotes.
        PathCase{"<\"john doe\"@example.com>", false, false, PathError::none, "\"john doe\"@example.com", ""},
        PathCase{"<\"a\\\"b\"@example.com>", false, false, PathError::none, "\"a\\\"b\"@example.com", ""},
        PathCase{"<\"v@ext.example\"@relay.example>", false, false, PathError::none,
                 "\"v@ext.example\"@relay.example", ""},
        PathCase{"<\"a>b\"@example.com> X=1", false, false, PathError::none, "\"a>b\"@example.com", " X=1"},
        PathCase{"<\"unterminated@example.com>", false, false, PathError::syntax, "", ""},
        PathCase{"<\"tab\there\"@example.com>", false, false, PathError::syntax, "", ""},
        // Source routes: accepted, the route dropped.
        PathCase{"<@a.example,@b.example:user@c.example>", false, false, PathError::none, "user@c.example", ""},
        PathCase{"<@relay.example:v@ext.example>", false, false, PathError::none, "v@ext.example", ""},
        PathCase{"<@a.example:>", false, false, PathError::syntax, "", ""},
        PathCase{"<@a.example user@c.example>", false, false, PathError::syntax, "", ""},
        PathCase{"<@,@b:user@c.example>", false, false, PathError::syntax, "", ""},
        // Address literals.
        PathCase{"<user@[192.0.2.1]>", false, false, PathError::none, "user@[192.0.2.1]", ""},
        PathCase{"<user@[IPv6:2001:db8::1]>", false, false, PathError::none, "user@[IPv6:2001:db8::1]", ""},
        PathCase{"<user@[999.0.2.1]>", false, false, PathError::syntax, "", ""},
        PathCase{"<user@[IPv6:zz::1]>", false, false, PathError::syntax, "", ""},
        PathCase{"<user@[]>", false, false, PathError::syntax, "", ""},
        PathCase{"<user@[x-tag:content]>", false, false, PathError::none, "user@[x-tag:content]", ""},
        // Relay tricks are valid syntax; the policy judges the domain.
        PathCase{"<v%ext.example@relay.example>", false, false, PathError::none, "v%ext.example@relay.example", ""},
        PathCase{"<ext.example!v@relay.example>", false, false, PathError::none, "ext.example!v@relay.example", ""},
        // Limits: local part 64, domain 255, path 256 with brackets.
        PathCase{"<" + k64 + "@example.com>", false, false, PathError::none, k64 + "@example.com", ""},
        PathCase{"<" + k65 + "@example.com>", false, false, PathError::local_too_long, "", ""},
        PathCase{"<a@" + kDomain255 + ">", false, false, PathError::path_too_long, "", ""},
        PathCase{"<@x.example:" + k64 + "@" + kLabel63 + "." + kLabel63 + "." + kLabel63 + ">", false, false,
                 PathError::path_too_long, "", ""},
        PathCase{"<a@" + kDomain255 + "x>", false, false, PathError::syntax, "", ""},  // a 64-octet label
        PathCase{"<a@" + kDomain255 + ".c>", false, false, PathError::domain_too_long, "", ""},
        PathCase{"<a@" + std::string(64, 'c') + ".example>", false, false, PathError::syntax, "", ""},
        // UTF-8 only with SMTPUTF8.
        PathCase{"<j\xc3\xb6rg@example.com>", false, false, PathError::not_ascii, "", ""},
        PathCase{"<j\xc3\xb6rg@example.com>", false, true, PathError::none, "j\xc3\xb6rg@example.com", ""},
        PathCase{"<user@b\xc3\xbc\x63her.example>", false, true, PathError::none, "user@b\xc3\xbc\x63her.example",
                 ""},
        PathCase{"<user@b\xc3\xbc\x63her.example>", false, false, PathError::not_ascii, "", ""},
        PathCase{"<\xc3(@example.com>", false, true, PathError::syntax, "", ""},           // broken UTF-8
        PathCase{"<\xc0\xaf@example.com>", false, true, PathError::syntax, "", ""},        // overlong
        PathCase{"<\xed\xa0\x80@example.com>", false, true, PathError::syntax, "", ""},    // surrogate
        PathCase{"<\"\xc3\xa9\"@example.com>", false, true, PathError::none, "\"\xc3\xa9\"@example.com", ""}));

TEST(PathLimits, DomainAt255OctetsIsAcceptedWhenThePathFits) {
  // local "a" + "@" + 253-octet domain + brackets = 257 > 256, so use a 252-octet domain for a 256-octet path.
  const std::string domain = kLabel63 + "." + kLabel63 + "." + kLabel63 + "." + std::string(60, 'd');
  ASSERT_EQ(domain.size(), 252u);
  const PathParse r = parse_path("<a@" + domain + ">", false, false);
  EXPECT_EQ(r.error, PathError::none);
  EXPECT_EQ(r.path.domain, domain);
  const PathParse over = parse_path("<ab@" + domain + ">", false, false);
  EXPECT_EQ(over.error, PathError::path_too_long);
}

TEST(PathFields, KeepsRouteFlagAndParts) {
  const PathParse r = parse_path("<@a.example:\"Q\"@Example.COM> SMTPUTF8", false, false);
  ASSERT_EQ(r.error, PathError::none);
  EXPECT_TRUE(r.path.has_route);
  EXPECT_EQ(r.path.local, "\"Q\"");
  EXPECT_EQ(r.path.domain, "Example.COM");
  EXPECT_FALSE(r.path.null);
  EXPECT_EQ(r.rest, " SMTPUTF8");
}

TEST(PathFields, NullPathIsMarked) {
  const PathParse r = parse_path("<>", true, false);
  ASSERT_EQ(r.error, PathError::none);
  EXPECT_TRUE(r.path.null);
  EXPECT_EQ(r.path.address(), "");
}

TEST(DomainOf, LowerCasesTheLastAtPart) {
  EXPECT_EQ(domain_of("User@Example.COM"), "example.com");
  EXPECT_EQ(domain_of("\"v@ext.example\"@Relay.Example"), "relay.example");
  EXPECT_EQ(domain_of("postmaster"), "");
  EXPECT_EQ(domain_of(""), "");
  EXPECT_EQ(domain_of("a@[192.0.2.1]"), "[192.0.2.1]");
}

}  // namespace
}  // namespace smarthost::mail
