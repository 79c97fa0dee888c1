// Mailgun: POST /v3/{domain}/messages.mime with the raw message (Bcc and control headers removed, sender identity
// applied), every envelope recipient in `to`, and the configured options (o:tag, o:tracking-*, v:*, o:testmode).
// Built only by the factory.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <string>
#include <utility>
#include <vector>

#include "upstream/http/http_transport.h"

namespace smarthost::upstream::http {

// The options part of the form, from the configuration (in this order): o:tag per tag, o:tracking-opens,
// o:tracking-clicks, o:tracking-unsubscribes, v:<name> per custom variable, o:testmode when in test mode.
std::vector<std::pair<std::string, std::string>> mailgun_options(const conf::MailgunConfig& config, bool test_mode);

// multipart/form-data with the fields in order and the message as a file part named "message".
std::string mailgun_form(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view message,
                         std::string_view boundary);
// The same, built around the message in its own buffer (no copy of it).
std::string mailgun_form(const std::vector<std::pair<std::string, std::string>>& fields, std::string&& message,
                         std::string_view boundary);

class MailgunTransport final : public HttpTransport {
 public:
  static ProviderLimits default_limits() { return {25ull << 20, 26ull << 20, 1000}; }

  // Throws std::invalid_argument for a configuration that cannot work (no key or domain, unsafe values,
  // options over Mailgun's 16 KB).
  MailgunTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                   const conf::TestModeConfig& test_mode, std::shared_ptr<HttpClient> client,
                   HttpTransportOptions options = {});
  MailgunTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                   const conf::TestModeConfig& test_mode, boost::asio::any_io_executor executor,
                   HttpTransportOptions options = {});

  const std::string& url() const { return url_; }

 protected:
  DeliveryPlan plan(const OutboundMessage& message, std::string content) override;
  // The form is built around the message in its own buffer: about its size (1.0x measured, 16 MB message).
  uint64_t payload_estimate(uint64_t size) const override { return size + size / 4 + kPayloadOverhead; }
  std::optional<HttpRequest> probe_request() const override;

 private:
  conf::MailgunConfig config_;
  std::string url_;
  std::vector<std::pair<std::string, std::string>> options_fields_;
};

}  // namespace smarthost::upstream::http
