// CIDR, listen address, host:port and URL syntax checks (inet_pton for the IP forms).
// Nothing here opens a socket or resolves a name.
#include "conf/addresses.h"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <string>

namespace smarthost::conf {

namespace {

bool is_ipv4(std::string_view s) {
  in_addr a{};
  return ::inet_pton(AF_INET, std::string(s).c_str(), &a) == 1;
}

bool is_ipv6(std::string_view s) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

std::optional<int> read_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  int port = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  if (ec != std::errc() || ptr != s.data() + s.size() || port < 0 || port > 65535) return std::nullopt;
  return port;
}

// Splits "host:port" or "[v6]:port"; explains what is wrong otherwise.
std::optional<std::string> split_host_port(std::string_view text, std::string_view& host, int& port) {
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return "missing ']' after the IPv6 address";
    host = text.substr(1, close - 1);
    if (!is_ipv6(host)) return "'" + std::string(host) + "' is not an IPv6 address";
    if (close + 1 >= text.size() || text[close + 1] != ':') return "expected ':port' after ']'";
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return "expected host:port";
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return "write an IPv6 address in brackets: [::1]:25";
    if (!is_host_name(host)) return "'" + std::string(host) + "' is not a host name or address";
    port_text = text.substr(colon + 1);
  }
  auto p = read_port(port_text);
  if (!p) return "'" + std::string(port_text) + "' is not a port (0 to 65535)";
  port = *p;
  return std::nullopt;
}

}  // namespace

bool is_host_name(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  if (is_ipv4(text) || is_ipv6(text)) return true;
  std::size_t label = 0;
  for (char c : text) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    if (++label > 63) return false;
  }
  return label != 0 || text.back() == '.';
}

std::optional<std::string> check_cidr(std::string_view text) {
  auto slash = text.find('/');
  std::string_view address = text.substr(0, slash);
  int max_prefix = 0;
  if (is_ipv4(address)) {
    max_prefix = 32;
  } else if (is_ipv6(address)) {
    max_prefix = 128;
  } else {
    return "'" + std::string(address) + "' is not an IPv4 or IPv6 address";
  }
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view prefix_text = text.substr(slash + 1);
  int prefix = -1;
  auto [ptr, ec] = std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), prefix);
  if (prefix_text.empty() || ec != std::errc() || ptr != prefix_text.data() + prefix_text.size() || prefix < 0 ||
      prefix > max_prefix) {
    return "the prefix length must be a number from 0 to " + std::to_string(max_prefix);
  }
  return std::nullopt;
}

std::optional<std::string> check_listen_address(std::string_view text) {
  if (text.starts_with("unix:")) {
    std::string_view path = text.substr(5);
    if (path.empty() || path.front() != '/') return "a unix socket needs an absolute path: unix:/run/smarthost.sock";
    if (path.size() > 107) return "a unix socket path must be at most 107 bytes";
    return std::nullopt;
  }
  std::string_view host;
  int port = 0;
  return split_host_port(text, host, port);
}

std::optional<std::string> check_host_port(std::string_view text) {
  std::string_view host;
  int port = 0;
  if (auto why = split_host_port(text, host, port)) return why;
  if (port == 0) return "the port must be from 1 to 65535";
  return std::nullopt;
}

std::optional<std::string> check_url(std::string_view text, std::initializer_list<std::string_view> schemes) {
  for (std::string_view scheme : schemes) {
    if (text.starts_with(scheme) && text.size() > scheme.size()) {
      for (char c : text) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return "a URL cannot contain spaces or control characters";
      }
      return std::nullopt;
    }
  }
  std::string expected;
  for (std::string_view scheme : schemes) {
    if (!expected.empty()) expected += " or ";
    expected += scheme;
  }
  return "expected a URL starting with " + expected;
}

}  // namespace smarthost::conf
