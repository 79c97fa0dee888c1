// CIDR parsing and matching on inet_pton results.
#include "policy/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace smarthost::policy {
namespace {

// Parses an address; IPv4-mapped IPv6 becomes IPv4.
std::optional<Cidr> parse_address(std::string_view text) {
  std::string s(text);
  Cidr c;
  if (inet_pton(AF_INET, s.c_str(), c.bytes.data()) == 1) {
    c.prefix = 32;
    return c;
  }
  if (inet_pton(AF_INET6, s.c_str(), c.bytes.data()) == 1) {
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(c.bytes.data(), mapped, 12) == 0) {
      std::memmove(c.bytes.data(), c.bytes.data() + 12, 4);
      std::memset(c.bytes.data() + 4, 0, 12);
      c.prefix = 32;
      return c;
    }
    c.v6 = true;
    c.prefix = 128;
    return c;
  }
  return std::nullopt;
}

bool prefix_match(const Cidr& range, const Cidr& a) {
  if (range.v6 != a.v6) return false;
  int full = range.prefix / 8, rest = range.prefix % 8;
  if (std::memcmp(range.bytes.data(), a.bytes.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (range.bytes[full] & mask) == (a.bytes[full] & mask);
}

}  // namespace

std::optional<Cidr> parse_cidr(std::string_view text) {
  auto slash = text.find('/');
  auto c = parse_address(text.substr(0, slash));
  if (!c) return std::nullopt;
  if (slash == std::string_view::npos) return c;
  auto p = text.substr(slash + 1);
  int prefix = -1;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
  bool mapped_v6 = !c->v6 && text.find(':') != std::string_view::npos;
  if (mapped_v6) prefix -= 96;  // ::ffff:10.0.0.0/104 is 10.0.0.0/8
  int max = c->v6 ? 128 : 32;
  if (ec != std::errc() || ptr != p.data() + p.size() || prefix < 0 || prefix > max) return std::nullopt;
  c->prefix = prefix;
  return c;
}

CidrList::CidrList(const std::vector<std::string>& entries) {
  for (const auto& e : entries)
    if (auto c = parse_cidr(e)) ranges_.push_back(*c);
}

bool CidrList::contains(std::string_view address) const {
  auto a = parse_address(address);
  if (!a) return false;
  for (const auto& r : ranges_)
    if (prefix_match(r, *a)) return true;
  return false;
}

}  // namespace smarthost::policy
