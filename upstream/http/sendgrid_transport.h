// SendGrid v3: POST /v3/mail/send with JSON built from the parsed message (SendGrid takes no raw MIME): text then
// HTML content, attachments and inline parts, custom headers, personalizations from the envelope, and the
// configured template, categories, custom args and tracking. Built only by the factory.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include "upstream/header_rewrite.h"
#include "upstream/http/http_transport.h"
#include "upstream/http/json_payload.h"
#include "upstream/http/mime_view.h"

namespace smarthost::upstream::http {

struct SendgridPayloadSettings {
  conf::SendgridConfig config;
  SenderIdentity identity;
  bool sandbox = false;  // mail_settings.sandbox_mode (test mode)
  bool allow_control_headers = false;
  std::size_t max_recipients_per_request = 1000;
};

// One request body per group of at most max_recipients_per_request envelope recipients. Recipients listed in To
// or Cc keep that role and their display name; the others go in bcc; each address appears once. When a group
// has nobody in To, each recipient gets a personalization of their own (SendGrid requires a `to`).
PayloadBuild build_sendgrid_payloads(const MimeView& view, const std::vector<std::string>& envelope,
                                     const SendgridPayloadSettings& settings);

class SendgridTransport final : public HttpTransport {
 public:
  static ProviderLimits default_limits() { return {30ull << 20, 30ull << 20, 1000}; }

  // Throws std::invalid_argument for a configuration that cannot work (no key, unsafe values, > 10 categories).
  SendgridTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                    const conf::TestModeConfig& test_mode, std::shared_ptr<HttpClient> client,
                    HttpTransportOptions options = {});
  SendgridTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                    const conf::TestModeConfig& test_mode, boost::asio::any_io_executor executor,
                    HttpTransportOptions options = {});

  const std::string& url() const { return url_; }

 protected:
  DeliveryPlan plan(const OutboundMessage& message, std::string content) override;
  std::optional<HttpRequest> probe_request() const override;

 private:
  conf::SendgridConfig config_;
  std::string url_;
};

}  // namespace smarthost::upstream::http
