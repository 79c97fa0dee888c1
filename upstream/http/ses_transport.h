// Amazon SES v2: POST /v2/email/outbound-emails with Content.Raw (the message base64-encoded, Bcc and control
// headers removed, sender identity applied), Destination = the envelope, ConfigurationSetName, EmailTags, and
// SigV4 signing (sigv4.h) with an optional session token. SES has no SMTPUTF8: non-ASCII addresses are refused
// with a clear permanent reason. Built only by the factory.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include "upstream/http/http_transport.h"
#include "upstream/http/sigv4.h"

namespace smarthost::upstream::http {

struct SesDestination {
  std::vector<std::string> to, cc, bcc;
};

// The SendEmail body. `from` may be empty (SES then reads From from the raw message).
std::string ses_request_body(std::string_view raw_message, const SesDestination& destination, std::string_view from,
                             const conf::SesConfig& config);

class SesTransport final : public HttpTransport {
 public:
  static ProviderLimits default_limits() { return {30ull << 20, 40ull << 20, 50}; }

  // Throws std::invalid_argument for a configuration that cannot work (no keys or region, unsafe values).
  SesTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
               const conf::TestModeConfig& test_mode, std::shared_ptr<HttpClient> client,
               HttpTransportOptions options = {});
  SesTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
               const conf::TestModeConfig& test_mode, boost::asio::any_io_executor executor,
               HttpTransportOptions options = {});

  const std::string& url() const { return url_; }

 protected:
  DeliveryPlan plan(const OutboundMessage& message, std::string content) override;
  // The raw message and its base64 in the body: 2.4x measured (16 MB message).
  uint64_t payload_estimate(uint64_t size) const override { return size * 5 / 2 + kPayloadOverhead; }
  std::optional<HttpRequest> probe_request() const override;
  std::string classification_text(const HttpResponse& response) const override;
  std::string error_text(const HttpResponse& response) const override;

 private:
  conf::SesConfig config_;
  AwsCredentials credentials_;
  std::string url_;
  std::string host_;  // Host header value, port included when not the scheme's default
  std::string path_;
};

}  // namespace smarthost::upstream::http
