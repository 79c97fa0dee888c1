// Value syntax: durations and sizes (parse and print back), CIDR and listen addresses, did-you-mean distance,
// and ${VAR} expansion.
#include <gtest/gtest.h>

#include "conf/addresses.h"
#include "conf/interpolation.h"
#include "conf/spelling.h"
#include "conf/units.h"

namespace smarthost::conf {
namespace {

using std::chrono::milliseconds;

TEST(ConfUnits, Durations) {
  EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(parse_duration("30s"), milliseconds(30'000));
  EXPECT_EQ(parse_duration("5m"), milliseconds(300'000));
  EXPECT_EQ(parse_duration("2h"), milliseconds(7'200'000));
  EXPECT_EQ(parse_duration("5d"), milliseconds(432'000'000));
  EXPECT_EQ(parse_duration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(parse_duration(" 10s "), milliseconds(10'000));
  for (const char* bad : {"", "5", "s", "5x", "5 s", "-5s", "1.5s", "5S", "99999999999999999999d"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(ConfUnits, DurationsPrintInTheirLargestExactUnitAndReadBack) {
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(milliseconds(90'000)), "90s");
  EXPECT_EQ(format_duration(milliseconds(300'000)), "5m");
  EXPECT_EQ(format_duration(milliseconds(3'600'000)), "1h");
  EXPECT_EQ(format_duration(milliseconds(432'000'000)), "5d");
  for (int64_t ms : {1, 999, 1000, 61'000, 86'400'000, 90'061'000}) {
    EXPECT_EQ(parse_duration(format_duration(milliseconds(ms))), milliseconds(ms)) << ms;
  }
}

TEST(ConfUnits, SizesUseBinaryMultiples) {
  EXPECT_EQ(parse_size("100"), 100u);
  EXPECT_EQ(parse_size("100B"), 100u);
  EXPECT_EQ(parse_size("512KB"), 512u * 1024);
  EXPECT_EQ(parse_size("25MB"), 25u * 1024 * 1024);
  EXPECT_EQ(parse_size("25M"), 25u * 1024 * 1024);
  EXPECT_EQ(parse_size("25MiB"), 25u * 1024 * 1024);
  EXPECT_EQ(parse_size("25 mb"), 25u * 1024 * 1024);
  EXPECT_EQ(parse_size("1GB"), 1ull << 30);
  for (const char* bad : {"", "MB", "25XB", "-1MB", "1.5MB", "99999999999999999999TB"}) {
    EXPECT_FALSE(parse_size(bad).has_value()) << bad;
  }
  EXPECT_EQ(format_size(25u << 20), "25MB");
  EXPECT_EQ(format_size(1536), "1536B");
  EXPECT_EQ(format_size(2048), "2KB");
  EXPECT_EQ(parse_size(format_size(1ull << 30)), 1ull << 30);
}

TEST(ConfAddresses, Cidr) {
  for (const char* ok : {"192.168.1.0/24", "10.0.0.0/8", "0.0.0.0/0", "10.1.2.3", "::1", "2001:db8::/32", "::/0"}) {
    EXPECT_FALSE(check_cidr(ok).has_value()) << ok;
  }
  for (const char* bad : {"10.0.0.0/33", "2001:db8::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/x", "host/24", ""}) {
    EXPECT_TRUE(check_cidr(bad).has_value()) << bad;
  }
}

TEST(ConfAddresses, ListenAddresses) {
  for (const char* ok : {"127.0.0.1:25", "0.0.0.0:0", "[::1]:2525", "[::]:25", "localhost:25", "unix:/run/s.sock"}) {
    EXPECT_FALSE(check_listen_address(ok).has_value()) << ok;
  }
  for (const char* bad : {"127.0.0.1", ":25", "[::1]25", "[zz]:25", "::1:25", "127.0.0.1:70000", "unix:rel/path",
                          "unix:", "bad host:25", "127.0.0.1:port"}) {
    EXPECT_TRUE(check_listen_address(bad).has_value()) << bad;
  }
  EXPECT_TRUE(check_host_port("smtp.example.com:0").has_value());
  EXPECT_FALSE(check_host_port("smtp.example.com:587").has_value());
}

TEST(ConfAddresses, Urls) {
  EXPECT_FALSE(check_url("https://api.example.com/v3", {"https://", "http://"}).has_value());
  EXPECT_TRUE(check_url("https://", {"https://"}).has_value());
  EXPECT_TRUE(check_url("ftp://x", {"https://", "http://"}).has_value());
  EXPECT_TRUE(check_url("https://a b", {"https://"}).has_value());
}

TEST(ConfSpelling, SuggestsOnlyCloseNames) {
  EXPECT_EQ(edit_distance("rate_limt", "rate_limit"), 1u);
  EXPECT_EQ(edit_distance("tiemout", "timeout"), 1u);  // a swap is one edit
  EXPECT_EQ(closest("rate_limt", {"rate_limit", "rate_limit_window", "timeout"}), "rate_limit");
  EXPECT_EQ(closest("securty", {"server", "security"}), "security");
  EXPECT_FALSE(closest("frobnicate", {"rate_limit", "timeout"}).has_value());
  EXPECT_FALSE(closest("ab", {"xy"}).has_value());
}

EnvLookup lookup(std::map<std::string, std::string> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ConfInterpolation, ExpandsVariablesAndDefaults) {
  auto env = lookup({{"USER_NAME", "relay"}, {"EMPTY", ""}});
  EXPECT_EQ(expand_variables("${USER_NAME}@example.com", env).text, "relay@example.com");
  EXPECT_EQ(expand_variables("${MISSING:-fallback}", env).text, "fallback");
  EXPECT_EQ(expand_variables("${MISSING:-}", env).text, "");
  EXPECT_EQ(expand_variables("${EMPTY:-x}", env).text, "");  // set but empty is used as is
  EXPECT_EQ(expand_variables("a$b $${literal} $", env).text, "a$b ${literal} $");
  EXPECT_EQ(expand_variables("${USER_NAME}${USER_NAME}", env).text, "relayrelay");
}

TEST(ConfInterpolation, ErrorsSayWhatIsWrong) {
  auto env = lookup({});
  EXPECT_NE(expand_variables("${SMTP_PASSWORD}", env).error.find("SMTP_PASSWORD is not set"), std::string::npos);
  EXPECT_NE(expand_variables("${OPEN", env).error.find("unterminated"), std::string::npos);
  EXPECT_NE(expand_variables("${1BAD}", env).error.find("does not name an environment variable"), std::string::npos);
  EXPECT_NE(expand_variables("${}", env).error.find("does not name"), std::string::npos);
}

}  // namespace
}  // namespace smarthost::conf
