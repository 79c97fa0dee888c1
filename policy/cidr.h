// IPv4 and IPv6 CIDR ranges, and lists of them. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match as IPv4.
// No I/O; parsing errors are returned, never thrown.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smarthost::policy {

struct Cidr {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4
  int prefix = 0;
};

// "10.0.0.0/8", "2001:db8::/32", or a single address (full-length prefix).
std::optional<Cidr> parse_cidr(std::string_view text);

class CidrList {
 public:
  CidrList() = default;
  // Entries that do not parse are skipped (the loader already rejected them).
  explicit CidrList(const std::vector<std::string>& entries);
  bool empty() const { return ranges_.empty(); }
  // `address` is textual ("192.0.2.1", "::1", "::ffff:192.0.2.1").
  bool contains(std::string_view address) const;

 private:
  std::vector<Cidr> ranges_;
};

}  // namespace smarthost::policy
