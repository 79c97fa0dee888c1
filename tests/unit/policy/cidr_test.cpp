// CIDR parsing and matching: IPv4, IPv6, IPv4-mapped IPv6 (matched as IPv4), prefix edges and bad input.
#include "policy/cidr.h"

#include <gtest/gtest.h>

namespace smarthost::policy {
namespace {

TEST(Cidr, ParsesAddressesAndRanges) {
  auto a = parse_cidr("192.0.2.0/24");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->v6);
  EXPECT_EQ(a->prefix, 24);
  auto b = parse_cidr("2001:db8::/32");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->v6);
  EXPECT_EQ(b->prefix, 32);
  auto c = parse_cidr("10.1.2.3");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->prefix, 32);
  auto d = parse_cidr("::ffff:10.0.0.0/104");  // a mapped range is an IPv4 range
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->v6);
  EXPECT_EQ(d->prefix, 8);
}

TEST(Cidr, RejectsBadInput) {
  for (const char* bad : {"", "/", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x", "2001:db8::/129",
                          "999.0.0.1", "example.com", "10.0.0.0/ 8", " 10.0.0.1", "::ffff:10.0.0.0/95",
                          "fe80::1%eth0"}) {
    EXPECT_FALSE(parse_cidr(bad)) << bad;
  }
}

TEST(CidrList, MatchesIpv4Ranges) {
  CidrList l({"192.168.1.0/24", "10.0.0.0/8"});
  EXPECT_TRUE(l.contains("192.168.1.77"));
  EXPECT_FALSE(l.contains("192.168.2.1"));
  EXPECT_TRUE(l.contains("10.255.255.255"));
  EXPECT_FALSE(l.contains("11.0.0.0"));
  EXPECT_FALSE(l.contains("not an address"));
  EXPECT_FALSE(l.contains("unix"));
}

TEST(CidrList, MappedAddressesMatchAsIpv4) {
  CidrList l({"127.0.0.0/8"});
  EXPECT_TRUE(l.contains("::ffff:127.0.0.1"));
  EXPECT_FALSE(l.contains("::1"));
  CidrList mapped({"::ffff:192.0.2.0/120"});
  EXPECT_TRUE(mapped.contains("192.0.2.9"));
}

TEST(CidrList, MatchesIpv6AndOddPrefixes) {
  CidrList l({"2001:db8:abcd::/47", "::1"});
  EXPECT_TRUE(l.contains("2001:db8:abcd::5"));
  EXPECT_TRUE(l.contains("2001:db8:abcd:1::5"));   // still inside /47
  EXPECT_FALSE(l.contains("2001:db8:abcf::5"));
  EXPECT_TRUE(l.contains("::1"));
  EXPECT_FALSE(l.contains("127.0.0.1"));  // IPv4 never matches an IPv6 range
  CidrList odd({"203.0.113.64/26"});
  EXPECT_TRUE(odd.contains("203.0.113.64"));
  EXPECT_TRUE(odd.contains("203.0.113.127"));
  EXPECT_FALSE(odd.contains("203.0.113.128"));
  EXPECT_FALSE(odd.contains("203.0.113.63"));
}

TEST(CidrList, ZeroPrefixMatchesItsFamilyOnly) {
  CidrList v4({"0.0.0.0/0"});
  EXPECT_TRUE(v4.contains("198.51.100.1"));
  EXPECT_FALSE(v4.contains("2001:db8::1"));
  CidrList v6({"::/0"});
  EXPECT_TRUE(v6.contains("2001:db8::1"));
  EXPECT_FALSE(v6.contains("198.51.100.1"));
}

TEST(CidrList, BadEntriesAreSkipped) {
  CidrList l({"bogus", "10.0.0.0/8"});
  EXPECT_FALSE(l.empty());
  EXPECT_TRUE(l.contains("10.1.1.1"));
  EXPECT_TRUE(CidrList({"bogus"}).empty());
}

}  // namespace
}  // namespace smarthost::policy
