// The client TLS set-up for upstream SMTP: one OpenSSL context per transport built from [security] (minimum
// version, CA store or ca_file, verification), and per-connection SNI plus host name checks. No I/O.
#pragma once

#include <memory>
#include <string>

#include "conf/config.h"

struct ssl_st;

namespace boost::asio::ssl {
class context;
}

namespace smarthost::upstream::smtp {

// Builds the context. Throws std::runtime_error when ca_file cannot be loaded (a start-up error).
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const conf::SecurityConfig& security);

// Prepares one connection: SNI (for host names), and, when `verify` is set, the check that the certificate
// matches `host` (a DNS name or an IP address). Returns false when OpenSSL refuses the settings.
bool prepare_tls_connection(ssl_st* ssl, const std::string& host, bool verify);

// A readable reason for a failed handshake, including the certificate verification error when there is one.
std::string tls_failure_reason(ssl_st* ssl, const std::string& error_message);

}  // namespace smarthost::upstream::smtp
