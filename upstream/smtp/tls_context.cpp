// Client TLS context and per-connection verification settings (see the header).
#include "upstream/smtp/tls_context.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace smarthost::upstream::smtp {

namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> make_client_tls_context(const conf::SecurityConfig& security) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  int min_version = TLS1_2_VERSION;
  switch (security.tls_version) {
    case conf::TlsVersion::tls1_0: min_version = TLS1_VERSION; break;
    case conf::TlsVersion::tls1_1: min_version = TLS1_1_VERSION; break;
    case conf::TlsVersion::tls1_2: min_version = TLS1_2_VERSION; break;
    case conf::TlsVersion::tls1_3: min_version = TLS1_3_VERSION; break;
  }
  SSL_CTX_set_min_proto_version(native, min_version);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (security.verify_certificates) {
    boost::system::error_code ec;
    if (!security.ca_file.empty()) {
      ctx->load_verify_file(security.ca_file, ec);
      if (ec) throw std::runtime_error("cannot load security.ca_file " + security.ca_file + ": " + ec.message());
    } else {
      ctx->set_default_verify_paths(ec);
      if (ec) throw std::runtime_error("cannot load the system CA store: " + ec.message());
    }
    ctx->set_verify_mode(ssl::verify_peer);
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

bool prepare_tls_connection(SSL* ssl, const std::string& host, bool verify) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  const bool is_ip = !ec;
  if (!is_ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return false;  // no SNI for IP addresses
  if (!verify) return true;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (is_ip) return X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
  return X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1;
}

std::string tls_failure_reason(SSL* ssl, const std::string& error_message) {
  long result = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (result != X509_V_OK) {
    return "certificate verification failed: " + std::string(X509_verify_cert_error_string(result));
  }
  return "TLS handshake failed: " + error_message;
}

}  // namespace smarthost::upstream::smtp
