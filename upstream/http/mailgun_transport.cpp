// Mailgun messages.mime: the raw message goes as a file part, so nothing is lost in conversion.
#include "upstream/http/mailgun_transport.h"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

#include "upstream/http/outbound_content.h"
#include "upstream/http/sigv4.h"

namespace smarthost::upstream::http {

namespace {

constexpr std::size_t kMaxOptionsBytes = 16 * 1024;

std::string random_boundary() {
  unsigned char bytes[12];
  RAND_bytes(bytes, sizeof bytes);
  return "smarthost-" + hex(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

// Form field names go inside name="..."; values must not break the part they are in either.
void require_form_safe(std::string_view what, std::string_view text) {
  require_header_safe(what, text);
  if (text.find('"') != std::string_view::npos) throw std::invalid_argument(std::string(what) + " contains '\"'");
}

}  // namespace

std::vector<std::pair<std::string, std::string>> mailgun_options(const conf::MailgunConfig& config, bool test_mode) {
  std::vector<std::pair<std::string, std::string>> fields;
  for (const auto& tag : config.tags) fields.emplace_back("o:tag", tag);
  auto yes_no = [](bool on) { return std::string(on ? "yes" : "no"); };
  if (config.tracking.opens) fields.emplace_back("o:tracking-opens", yes_no(*config.tracking.opens));
  if (config.tracking.clicks) fields.emplace_back("o:tracking-clicks", yes_no(*config.tracking.clicks));
  if (config.tracking.unsubscribes)
    fields.emplace_back("o:tracking-unsubscribes", yes_no(*config.tracking.unsubscribes));
  for (const auto& [name, value] : config.custom_variables) fields.emplace_back("v:" + name, value);
  if (test_mode) fields.emplace_back("o:testmode", "yes");
  return fields;
}

namespace {

std::string form_fields(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view boundary) {
  std::string head;
  head.reserve(fields.size() * 96 + 256);
  for (const auto& [name, value] : fields) {
    head.append("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"").append(name);
    head.append("\"\r\n\r\n").append(value).append("\r\n");
  }
  head.append("--").append(boundary);
  head.append("\r\nContent-Disposition: form-data; name=\"message\"; filename=\"message.mime\"\r\n");
  head.append("Content-Type: message/rfc822\r\n\r\n");
  return head;
}

std::string form_end(std::string_view boundary) { return "\r\n--" + std::string(boundary) + "--\r\n"; }

}  // namespace

std::string mailgun_form(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view message,
                         std::string_view boundary) {
  std::string head = form_fields(fields, boundary), end = form_end(boundary), body;
  body.reserve(head.size() + message.size() + end.size());
  return body.append(head).append(message).append(end);
}

std::string mailgun_form(const std::vector<std::pair<std::string, std::string>>& fields, std::string&& message,
                         std::string_view boundary) {
  // The message stays where it is: the fields go in front of it, the closing boundary after it.
  std::string body = std::move(message);
  body.insert(0, form_fields(fields, boundary));
  body.append(form_end(boundary));
  return body;
}

MailgunTransport::MailgunTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                                   const conf::TestModeConfig& test_mode, boost::asio::any_io_executor executor,
                                   HttpTransportOptions options)
    : MailgunTransport(upstream, security, test_mode, make_http_client(executor, security, upstream.options),
                       std::move(options)) {}

MailgunTransport::MailgunTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                                   const conf::TestModeConfig& test_mode, std::shared_ptr<HttpClient> client,
                                   HttpTransportOptions options)
    : HttpTransport(upstream, security, test_mode, std::move(client), std::move(options), default_limits()),
      config_(std::get<conf::MailgunConfig>(upstream.config)) {
  if (config_.api_key.empty()) throw std::invalid_argument("upstream " + name_ + ": mailgun api_key is empty");
  if (config_.domain.empty()) throw std::invalid_argument("upstream " + name_ + ": mailgun domain is empty");
  require_header_safe("mailgun api_key", config_.api_key);
  if (config_.domain.find_first_of("/?#% \"") != std::string::npos || !is_header_safe(config_.domain))
    throw std::invalid_argument("upstream " + name_ + ": mailgun domain '" + config_.domain + "' is not a domain");
  std::string fallback = config_.region == "eu" ? "https://api.eu.mailgun.net" : "https://api.mailgun.net";
  url_ = base_url(common_, fallback) + "/v3/" + config_.domain + "/messages.mime";

  options_fields_ = mailgun_options(config_, test_mode.enabled);
  std::size_t options_bytes = 0;
  for (const auto& [name, value] : options_fields_) {
    require_form_safe("mailgun option " + name, name);
    require_header_safe("mailgun option " + name, value);
    options_bytes += name.size() + value.size();
  }
  if (options_bytes >= kMaxOptionsBytes)
    throw std::invalid_argument("upstream " + name_ + ": mailgun options (tags, variables) exceed 16 KB");
}

// GET /v3/domains/{domain}: the domain's state, readable with the sending key.
std::optional<HttpRequest> MailgunTransport::probe_request() const {
  std::string suffix = "/v3/" + config_.domain + "/messages.mime";
  HttpRequest request = base_request(url_.substr(0, url_.size() - suffix.size()) + "/v3/domains/" + config_.domain);
  request.method = "GET";
  request.gzip_body = false;
  request.basic_user = "api";
  request.basic_password = config_.api_key;
  return request;
}

DeliveryPlan MailgunTransport::plan(const OutboundMessage& message, std::string content) {
  DeliveryPlan plan;
  std::string raw = std::move(content);
  prepare_raw_message_in_place(raw, identity_, options_.allow_control_headers);
  std::string boundary = random_boundary();
  while (raw.find(boundary) != std::string::npos) boundary = random_boundary();

  // Each address once (case-insensitive): a repeated envelope address shares the first one's answer.
  std::vector<std::pair<std::string, std::vector<std::size_t>>> sendable;
  for (std::size_t i = 0; i < message.envelope.recipients.size(); ++i) {
    const auto& address = message.envelope.recipients[i].address;
    if (!is_header_safe(address) || address.find(',') != std::string::npos) {
      plan.refused.emplace_back(i, "recipient address refused: it contains CR, LF, NUL or ','");
      continue;
    }
    auto same = std::find_if(sendable.begin(), sendable.end(), [&](const auto& s) { return iequals(s.first, address); });
    if (same != sendable.end())
      same->second.push_back(i);
    else
      sendable.push_back({address, {i}});
  }
  for (std::size_t start = 0; start < sendable.size(); start += limits_.max_recipients_per_call) {
    std::size_t end = std::min(sendable.size(), start + limits_.max_recipients_per_call);
    std::vector<std::pair<std::string, std::string>> fields;
    std::vector<std::size_t> unit;
    for (std::size_t k = start; k < end; ++k) {
      fields.emplace_back("to", sendable[k].first);
      unit.insert(unit.end(), sendable[k].second.begin(), sendable[k].second.end());
    }
    fields.insert(fields.end(), options_fields_.begin(), options_fields_.end());
    PlannedCall call;
    call.request = base_request(url_);
    call.request.basic_user = "api";
    call.request.basic_password = config_.api_key;
    call.request.headers = {{"Content-Type", "multipart/form-data; boundary=" + boundary},
                            {"Accept", "application/json"}};
    // The last call takes the message itself; earlier ones (over 1,000 recipients) a copy each.
    bool last = end == sendable.size();
    call.request.body = last ? mailgun_form(fields, std::move(raw), boundary)
                             : mailgun_form(fields, std::string_view(raw), boundary);
    if (call.request.body.size() > limits_.max_request_bytes) {
      plan.failure = {Outcome::permanent, "message too large for mailgun: the request would be " +
                                              std::to_string(call.request.body.size()) + " bytes"};
      return plan;
    }
    call.units = {std::move(unit)};
    plan.calls.push_back(std::move(call));
  }
  return plan;
}

}  // namespace smarthost::upstream::http
