// Where alert notices go ([alerting] notification_channels): a webhook (POST JSON with a `text` field, so Slack-
// compatible endpoints show it, retried with backoff on network errors, 429 and 5xx) and email (a short message
// handed straight to the relay's own delivery path, the router, never to the queue, and never counted by the
// recorder, so alert mail cannot raise alerts). Sending is asynchronous: send() returns at once.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "ops/alert_rules.h"
#include "ops/metrics.h"
#include "upstream/transport.h"

namespace smarthost::upstream::http {
class HttpClient;
}

namespace smarthost::ops {

// Notices sent and given up on, per channel kind, for /metrics.
struct ChannelTally {
  Counter sent;
  Counter failed;
};

class AlertChannel {
 public:
  virtual ~AlertChannel() = default;
  virtual std::string_view kind() const = 0;  // "webhook" or "email"
  // Starts sending; never blocks and never throws. `text` is the human one-liner.
  virtual void send(const AlertNotice& notice, const std::string& text) = 0;
  const ChannelTally& tally() const { return *tally_; }

 protected:
  std::shared_ptr<ChannelTally> tally_ = std::make_shared<ChannelTally>();  // shared with sends in progress
};

struct WebhookRetry {
  uint32_t attempts = 5;                                  // in all
  std::chrono::milliseconds first_delay{1000};            // doubled after each failure
  std::chrono::milliseconds longest_delay{60000};
  std::chrono::milliseconds timeout{10000};               // one request
};

// The JSON a webhook receives: text, alert, rule, state, upstream, summary, host, since, time.
std::string webhook_body(const AlertNotice& notice, const std::string& text, const std::string& hostname,
                         std::chrono::system_clock::time_point now);

class WebhookChannel final : public AlertChannel {
 public:
  WebhookChannel(boost::asio::any_io_executor executor, std::shared_ptr<upstream::http::HttpClient> client,
                 std::string url, std::string hostname, WebhookRetry retry = {});
  std::string_view kind() const override { return "webhook"; }
  void send(const AlertNotice& notice, const std::string& text) override;

 private:
  boost::asio::any_io_executor executor_;
  std::shared_ptr<upstream::http::HttpClient> client_;
  std::string url_;
  std::string hostname_;
  WebhookRetry retry_;
};

// The alert message (RFC 5322, CRLF line ends) for email.
std::string alert_mail(const AlertNotice& notice, const std::string& text, const std::string& from,
                       const std::vector<std::string>& recipients, const std::string& hostname,
                       std::chrono::system_clock::time_point now);

class EmailChannel final : public AlertChannel {
 public:
  using TransportOf = std::function<upstream::Transport*()>;
  // Message files are written into `scratch_dir` (created when missing) and removed after the attempt.
  EmailChannel(boost::asio::any_io_executor executor, TransportOf transport, std::vector<std::string> recipients,
               std::string from, std::string hostname, std::filesystem::path scratch_dir);
  std::string_view kind() const override { return "email"; }
  void send(const AlertNotice& notice, const std::string& text) override;

 private:
  boost::asio::any_io_executor executor_;
  TransportOf transport_;
  std::vector<std::string> recipients_;
  std::string from_;
  std::string hostname_;
  std::filesystem::path scratch_dir_;
  uint64_t sequence_ = 0;
};

}  // namespace smarthost::ops
