// Syntax checks for the network addresses a configuration names: CIDR blocks, listen addresses and URLs.
// Each returns an explanation of what is wrong, or nothing when the text is valid. Nothing is resolved or bound.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smarthost::conf {

// "192.168.1.0/24", "2001:db8::/32", or a single address ("10.1.2.3", "::1").
std::optional<std::string> check_cidr(std::string_view text);

// "host:port", "[v6]:port" or "unix:/absolute/path". Port 0 asks the OS for a free port (tests use it).
std::optional<std::string> check_listen_address(std::string_view text);

// "host:port" with a port from 1 to 65535 (an SMTP upstream endpoint).
std::optional<std::string> check_host_port(std::string_view text);

// A URL starting with one of the given schemes ("https://", "http://"), with something after the scheme.
std::optional<std::string> check_url(std::string_view text, std::initializer_list<std::string_view> schemes);

// A host name or an IP literal, as used in "host:port" (no port).
bool is_host_name(std::string_view text);

}  // namespace smarthost::conf
