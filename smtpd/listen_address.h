// Parses listener addresses: "host:port", "[v6]:port", "*:port" / ":port" (all IPv4), "unix:/path".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smarthost::smtpd {

struct ListenAddress {
  std::string text;  // as written
  bool unix_socket = false;
  std::string host;  // an IP literal ("0.0.0.0" for "*")
  uint16_t port = 0;
  std::string path;  // unix socket path
};

std::optional<ListenAddress> parse_listen_address(std::string_view text);

}  // namespace smarthost::smtpd
