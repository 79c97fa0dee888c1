// Picks the HTTP transport class for a provider kind.
#include "upstream/http/http_transports.h"

#include <stdexcept>

#include "upstream/http/mailgun_transport.h"
#include "upstream/http/postmark_transport.h"
#include "upstream/http/sendgrid_transport.h"
#include "upstream/http/ses_transport.h"

namespace smarthost::upstream::http {

bool is_http_provider(conf::ProviderKind kind) {
  return kind == conf::ProviderKind::mailgun || kind == conf::ProviderKind::sendgrid ||
         kind == conf::ProviderKind::postmark || kind == conf::ProviderKind::ses;
}

std::unique_ptr<Transport> make_http_transport(const conf::Upstream& upstream, const conf::Config& config,
                                               boost::asio::any_io_executor executor,
                                               std::shared_ptr<HttpClient> client, HttpTransportOptions options) {
  if (!client) client = make_http_client(executor, config.security, upstream.options);
  // One budget for the whole process; the configuration being built (at start or by a reload) sets its size.
  if (!options.budget) PayloadBudget::process_wide()->set_capacity(config.performance.max_payload_memory);
  switch (upstream.provider) {
    case conf::ProviderKind::mailgun:
      return std::make_unique<MailgunTransport>(upstream, config.security, config.test_mode, client, std::move(options));
    case conf::ProviderKind::sendgrid:
      return std::make_unique<SendgridTransport>(upstream, config.security, config.test_mode, client,
                                                 std::move(options));
    case conf::ProviderKind::postmark:
      return std::make_unique<PostmarkTransport>(upstream, config.security, config.test_mode, client,
                                                 std::move(options));
    case conf::ProviderKind::ses:
      return std::make_unique<SesTransport>(upstream, config.security, config.test_mode, client, std::move(options));
    case conf::ProviderKind::smtp:
    case conf::ProviderKind::file:
      break;
  }
  throw std::invalid_argument("upstream " + upstream.name + ": '" + std::string(conf::to_string(upstream.provider)) +
                              "' is not an HTTP provider");
}

}  // namespace smarthost::upstream::http
