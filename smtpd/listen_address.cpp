// Listener address parsing; no name resolution (listeners take IP literals only).
#include "smtpd/listen_address.h"

#include <charconv>

namespace smarthost::smtpd {

std::optional<ListenAddress> parse_listen_address(std::string_view text) {
  ListenAddress a;
  a.text = std::string(text);
  if (text.starts_with("unix:")) {
    a.unix_socket = true;
    a.path = std::string(text.substr(5));
    if (a.path.empty() || a.path.front() != '/') return std::nullopt;
    return a;
  }
  std::string_view host, port;
  if (text.starts_with("[")) {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
  }
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || value > 65535) return std::nullopt;
  a.host = std::string(host);
  a.port = static_cast<uint16_t>(value);
  return a;
}

}  // namespace smarthost::smtpd
