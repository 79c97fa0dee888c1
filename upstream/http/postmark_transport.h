// Postmark: POST /email (one message object) or /email/batch (several, each answered with its own ErrorCode)
// with JSON built from the parsed message: TextBody, HtmlBody, Attachments with ContentID, Headers, and the
// configured Tag, Metadata, MessageStream, TrackOpens and TrackLinks. Built only by the factory.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include "upstream/header_rewrite.h"
#include "upstream/http/http_transport.h"
#include "upstream/http/json_payload.h"
#include "upstream/http/mime_view.h"

namespace smarthost::upstream::http {

struct PostmarkPayloadSettings {
  conf::PostmarkConfig config;
  SenderIdentity identity;
  bool allow_control_headers = false;
  std::size_t max_recipients_per_message = 50;  // Postmark's limit for each of To, Cc and Bcc
};

// One message object per group of recipients: To and Cc keep the header roles, the other envelope recipients
// go in Bcc. A group with nobody in To becomes one object per recipient (Postmark requires To).
PayloadBuild build_postmark_messages(const MimeView& view, const std::vector<std::string>& envelope,
                                     const PostmarkPayloadSettings& settings);

class PostmarkTransport final : public HttpTransport {
 public:
  static ProviderLimits default_limits() { return {10ull << 20, 10ull << 20, 50}; }
  static constexpr std::size_t kMaxBatchMessages = 500;
  static constexpr uint64_t kMaxBatchBytes = 50ull << 20;
  static constexpr uint64_t kMaxBodyBytes = 5ull << 20;  // TextBody and HtmlBody each

  // Throws std::invalid_argument for a configuration that cannot work (no token, unsafe values, unknown
  // track_links).
  PostmarkTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                    const conf::TestModeConfig& test_mode, std::shared_ptr<HttpClient> client,
                    HttpTransportOptions options = {});
  PostmarkTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                    const conf::TestModeConfig& test_mode, boost::asio::any_io_executor executor,
                    HttpTransportOptions options = {});

  // Several queued messages in /email/batch calls (at most 500 objects and 50 MB each); one result per message.
  boost::asio::awaitable<std::vector<DeliveryResult>> deliver_batch(std::span<const OutboundMessage> batch) override;

  const std::string& base() const { return base_; }

 protected:
  DeliveryPlan plan(const OutboundMessage& message, std::string content) override;
  std::optional<HttpRequest> probe_request() const override;
  std::vector<UnitAnswer> read_answer(const PlannedCall& call, const HttpResponse& response) override;

 private:
  // The message objects for one message, or the reason it cannot be sent.
  PayloadBuild build(const OutboundMessage& message, std::string content) const;  // frees content once parsed
  // Requests carrying these objects: /email for a single one, /email/batch otherwise.
  std::vector<PlannedCall> calls_for(std::vector<JsonPayload> objects) const;
  HttpRequest request_to(std::string path, std::string body) const;

  conf::PostmarkConfig config_;
  std::string base_;
};

}  // namespace smarthost::upstream::http
