// Builds the server-side OpenSSL context for STARTTLS and implicit TLS from [security].
// Throws at start-up when the certificate or key cannot be loaded (a configuration error, not a data-path one).
#pragma once

#include <memory>

namespace boost::asio::ssl {
class context;
}

namespace smarthost::conf {
struct SecurityConfig;
}

namespace smarthost::smtpd {

// Null when no certificate is configured (STARTTLS and listen_tls are then unavailable).
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const conf::SecurityConfig& security);

}  // namespace smarthost::smtpd
