// Server TLS context: certificate chain, private key, minimum protocol version, no compression or renegotiation.
#include "smtpd/tls_context.h"

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <stdexcept>

#include "conf/config.h"

namespace smarthost::smtpd {

std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const conf::SecurityConfig& security) {
  if (security.certificate_path.empty()) return nullptr;
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_compression | ssl::context::single_dh_use);
  int min = TLS1_2_VERSION;
  switch (security.tls_version) {
    case conf::TlsVersion::tls1_0: min = TLS1_VERSION; break;
    case conf::TlsVersion::tls1_1: min = TLS1_1_VERSION; break;
    case conf::TlsVersion::tls1_2: min = TLS1_2_VERSION; break;
    case conf::TlsVersion::tls1_3: min = TLS1_3_VERSION; break;
  }
  SSL_CTX_set_min_proto_version(ctx->native_handle(), min);
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_NO_RENEGOTIATION);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(security.certificate_path, ec);
  if (ec) throw std::runtime_error("cannot load certificate " + security.certificate_path + ": " + ec.message());
  std::string key = security.private_key_path.empty() ? security.certificate_path : security.private_key_path;
  ctx->use_private_key_file(key, ssl::context::pem, ec);
  if (ec) throw std::runtime_error("cannot load private key " + key + ": " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    throw std::runtime_error("private key " + key + " does not match certificate " + security.certificate_path);
  return ctx;
}

}  // namespace smarthost::smtpd
