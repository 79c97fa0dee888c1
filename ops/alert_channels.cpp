// The webhook and email alert channels (see alert_channels.h).
#include "ops/alert_channels.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <fstream>

#include "ops/logging.h"
#include "ops/recorder.h"
#include "upstream/http/http_client.h"

namespace smarthost::ops {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

bool retryable(const upstream::http::HttpResponse& r) {
  return r.status == 0 || r.status == 408 || r.status == 429 || r.status >= 500;
}

// Coroutine functions with by-value parameters (GCC 12: no capturing lambdas handed to co_spawn).
asio::awaitable<bool> post_with_retries(std::shared_ptr<upstream::http::HttpClient> client, std::string url,
                                        std::string body, WebhookRetry retry, std::string alert) {
  auto delay = retry.first_delay;
  auto executor = co_await asio::this_coro::executor;
  for (uint32_t attempt = 1; attempt <= std::max<uint32_t>(retry.attempts, 1); ++attempt) {
    upstream::http::HttpRequest request;
    request.method = "POST";
    request.url = url;
    request.headers = {{"Content-Type", "application/json"}};
    request.body = body;
    request.timeout = retry.timeout;
    request.max_response_bytes = 16 * 1024;
    auto pending = client->request(std::move(request));
    upstream::http::HttpResponse response = co_await std::move(pending);
    if (response.status >= 200 && response.status < 300) {
      spdlog::info("alert {}: webhook notified (attempt {})", alert, attempt);
      co_return true;
    }
    std::string what = response.status == 0 ? "no answer: " + response.error : "HTTP " + std::to_string(response.status);
    if (!retryable(response) || attempt == retry.attempts) {
      spdlog::error("alert {}: webhook failed after {} attempt(s): {}", alert, attempt, redact(what));
      co_return false;
    }
    auto wait = delay;
    if (response.rate_limit.retry_after) {
      auto asked = std::chrono::duration_cast<std::chrono::milliseconds>(*response.rate_limit.retry_after -
                                                                          std::chrono::system_clock::now());
      wait = std::clamp(asked, delay, retry.longest_delay);
    }
    spdlog::warn("alert {}: webhook attempt {} failed ({}); next in {} ms", alert, attempt, redact(what), wait.count());
    asio::steady_timer timer(executor, wait);
    co_await timer.async_wait(asio::use_awaitable);
    delay = std::min(delay * 2, retry.longest_delay);
  }
  co_return false;
}

asio::awaitable<bool> deliver_alert_mail(EmailChannel::TransportOf transport_of, upstream::OutboundMessage message,
                                         std::string alert) {
  upstream::Transport* transport = transport_of ? transport_of() : nullptr;
  bool ok = false;
  if (!transport) {
    spdlog::error("alert {}: no delivery path for alert mail", alert);
  } else {
    upstream::DeliveryResult result = co_await transport->deliver(message);
    ok = result.outcome == upstream::Outcome::delivered;
    for (const auto& r : result.recipients) {
      if (r.outcome == upstream::Outcome::delivered) {
        spdlog::info("alert {}: mailed to {}", alert, r.address);
      } else {
        spdlog::error("alert {}: mail to {} failed: {}", alert, r.address, redact(r.reply));
      }
    }
  }
  std::error_code ignored;
  std::filesystem::remove(message.content_path, ignored);
  co_return ok;
}

auto count_into(std::shared_ptr<ChannelTally> tally) {
  return [tally](std::exception_ptr error, bool ok) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        spdlog::error("alert channel failed: {}", e.what());
      }
      ok = false;
    }
    (ok ? tally->sent : tally->failed).inc();
  };
}

}  // namespace

std::string webhook_body(const AlertNotice& notice, const std::string& text, const std::string& hostname,
                         std::chrono::system_clock::time_point now) {
  json::object o;
  o["text"] = text;
  o["alert"] = notice.key;
  o["rule"] = notice.rule;
  o["state"] = notice.state == AlertState::firing ? "firing" : "resolved";
  if (!notice.upstream.empty()) o["upstream"] = notice.upstream;
  o["summary"] = notice.summary;
  o["host"] = hostname;
  o["since"] = format_rfc3339(notice.since);
  o["time"] = format_rfc3339(now);
  return json::serialize(o);
}

WebhookChannel::WebhookChannel(asio::any_io_executor executor, std::shared_ptr<upstream::http::HttpClient> client,
                               std::string url, std::string hostname, WebhookRetry retry)
    : executor_(std::move(executor)),
      client_(std::move(client)),
      url_(std::move(url)),
      hostname_(std::move(hostname)),
      retry_(retry) {}

void WebhookChannel::send(const AlertNotice& notice, const std::string& text) {
  std::string body = webhook_body(notice, text, hostname_, std::chrono::system_clock::now());
  asio::co_spawn(executor_, post_with_retries(client_, url_, std::move(body), retry_, notice.key), count_into(tally_));
}

std::string alert_mail(const AlertNotice& notice, const std::string& text, const std::string& from,
                       const std::vector<std::string>& recipients, const std::string& hostname,
                       std::chrono::system_clock::time_point now) {
  static std::atomic<uint64_t> sequence{0};
  std::string to;
  for (const auto& r : recipients) to += (to.empty() ? "" : ", ") + r;
  std::string state = notice.state == AlertState::firing ? "FIRING" : "RESOLVED";
  std::string m;
  m += "From: smarthost <" + from + ">\r\n";
  m += "To: " + to + "\r\n";
  m += "Subject: [smarthost " + hostname + "] " + state + ": " + notice.key + "\r\n";
  m += "Date: " + format_rfc5322(now) + "\r\n";
  m += "Message-ID: <alert." + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                   now.time_since_epoch()).count()) +
       "." + std::to_string(++sequence) + "@" + hostname + ">\r\n";
  m += "Auto-Submitted: auto-generated\r\n";
  m += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  m += text + "\r\n\r\n";
  m += "alert:   " + notice.key + "\r\n";
  m += "state:   " + std::string(notice.state == AlertState::firing ? "firing" : "resolved") + "\r\n";
  m += "since:   " + format_rfc3339(notice.since) + "\r\n";
  m += "host:    " + hostname + "\r\n";
  m += "\r\n-- \r\nsmarthost alerting ([alerting] in the configuration)\r\n";
  return m;
}

EmailChannel::EmailChannel(asio::any_io_executor executor, TransportOf transport, std::vector<std::string> recipients,
                           std::string from, std::string hostname, std::filesystem::path scratch_dir)
    : executor_(std::move(executor)),
      transport_(std::move(transport)),
      recipients_(std::move(recipients)),
      from_(std::move(from)),
      hostname_(std::move(hostname)),
      scratch_dir_(std::move(scratch_dir)) {}

void EmailChannel::send(const AlertNotice& notice, const std::string& text) {
  auto now = std::chrono::system_clock::now();
  std::string content = alert_mail(notice, text, from_, recipients_, hostname_, now);
  std::string id = std::string(Recorder::kAlertQueueIdPrefix) +
                   std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()) +
                   "-" + std::to_string(++sequence_);
  std::error_code ec;
  std::filesystem::create_directories(scratch_dir_, ec);
  auto path = scratch_dir_ / (id + ".eml");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) {
      spdlog::error("alert {}: cannot write {}: alert mail not sent", notice.key, path.string());
      tally_->failed.inc();
      return;
    }
  }
  upstream::OutboundMessage message;
  message.queue_id = id;
  message.envelope.mail_from = from_;
  for (const auto& r : recipients_) message.envelope.recipients.push_back(mail::Recipient{r});
  message.envelope.received_at = now;
  message.content_path = path.string();
  message.size = content.size();
  asio::co_spawn(executor_, deliver_alert_mail(transport_, std::move(message), notice.key), count_into(tally_));
}

}  // namespace smarthost::ops
