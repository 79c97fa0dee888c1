// Transport factory: maps each provider kind to its transport class. Transport families missing from a build
// (SMARTHOST_HAVE_SMTP / SMARTHOST_HAVE_HTTP) are refused at start-up with a clear message.
#include "upstream/factory.h"

#include <unistd.h>

#include <stdexcept>

#include "upstream/file_transport.h"
#if SMARTHOST_HAVE_SMTP
#include "upstream/smtp/smtp_transport.h"
#endif
#if SMARTHOST_HAVE_HTTP
#include "upstream/http/http_transports.h"
#endif

namespace smarthost::upstream {
namespace {

std::string local_hostname(const conf::Config& config) {
  if (!config.server.hostname.empty()) return config.server.hostname;
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  return host;
}

}  // namespace

std::unique_ptr<Transport> make_transport(const conf::Upstream& upstream, const conf::Config& config,
                                          boost::asio::any_io_executor executor) {
  switch (upstream.provider) {
    case conf::ProviderKind::file:
      return std::make_unique<FileTransport>(upstream.name, std::get<conf::FileConfig>(upstream.config));
    case conf::ProviderKind::smtp:
#if SMARTHOST_HAVE_SMTP
      return std::make_unique<smtp::SmtpTransport>(upstream, config.security, config.performance.connection_pool,
                                                   config.authentication, local_hostname(config), executor);
#else
      break;
#endif
    case conf::ProviderKind::mailgun:
    case conf::ProviderKind::sendgrid:
    case conf::ProviderKind::postmark:
    case conf::ProviderKind::ses:
#if SMARTHOST_HAVE_HTTP
      return http::make_http_transport(upstream, config, executor);
#else
      break;
#endif
  }
  throw std::runtime_error("upstream " + upstream.name + ": provider '" + std::string(conf::to_string(upstream.provider)) +
                           "' is not available in this build");
}

}  // namespace smarthost::upstream
