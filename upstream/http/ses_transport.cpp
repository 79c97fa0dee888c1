// SES v2 SendEmail with raw content, signed with SigV4.
#include "upstream/http/ses_transport.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <stdexcept>

#include "upstream/http/mime_view.h"
#include "upstream/http/outbound_content.h"

namespace smarthost::upstream::http {

namespace json = boost::json;

namespace {

// "https://host:port/path" -> host (with port when given) and path.
void split_url(const std::string& url, std::string& host, std::string& path) {
  auto scheme_end = url.find("://");
  auto rest = scheme_end == std::string::npos ? url : url.substr(scheme_end + 3);
  auto slash = rest.find('/');
  host = rest.substr(0, slash);
  path = slash == std::string::npos ? "/" : rest.substr(slash);
  bool https = url.starts_with("https://");
  if ((https && host.ends_with(":443")) || (!https && host.ends_with(":80"))) host = host.substr(0, host.rfind(':'));
}

json::array strings(const std::vector<std::string>& list) {
  json::array out;
  for (const auto& s : list) out.push_back(json::value(s));
  return out;
}

}  // namespace

std::string ses_request_body(std::string_view raw_message, const SesDestination& destination, std::string_view from,
                             const conf::SesConfig& config) {
  json::object body;
  if (!from.empty()) body["FromEmailAddress"] = from;
  json::object dest;
  if (!destination.to.empty()) dest["ToAddresses"] = strings(destination.to);
  if (!destination.cc.empty()) dest["CcAddresses"] = strings(destination.cc);
  if (!destination.bcc.empty()) dest["BccAddresses"] = strings(destination.bcc);
  body["Destination"] = std::move(dest);
  if (!config.return_path.empty()) body["FeedbackForwardingEmailAddress"] = config.return_path;
  if (!config.tags.empty()) {
    json::array tags;
    for (const auto& tag : config.tags) tags.push_back(json::object{{"Name", tag.name}, {"Value", tag.value}});
    body["EmailTags"] = std::move(tags);
  }
  if (!config.configuration_set.empty()) body["ConfigurationSetName"] = config.configuration_set;
  // Content.Raw.Data first, its base64 written straight into the body (no copy of the message in a JSON value);
  // base64 needs no JSON escaping. The rest of the object follows it.
  std::string rest = json::serialize(body);  // "{...}", never empty: Destination is always there
  static constexpr std::string_view kOpen = R"({"Content":{"Raw":{"Data":")";
  static constexpr std::string_view kClose = R"("}},)";
  std::string out;
  out.reserve(kOpen.size() + 4 * ((raw_message.size() + 2) / 3) + kClose.size() + rest.size());
  out.append(kOpen);
  base64_append(out, raw_message);
  out.append(kClose);
  out.append(std::string_view(rest).substr(1));
  return out;
}

SesTransport::SesTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                           const conf::TestModeConfig& test_mode, boost::asio::any_io_executor executor,
                           HttpTransportOptions options)
    : SesTransport(upstream, security, test_mode, make_http_client(executor, security, upstream.options),
                   std::move(options)) {}

SesTransport::SesTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                           const conf::TestModeConfig& test_mode, std::shared_ptr<HttpClient> client,
                           HttpTransportOptions options)
    : HttpTransport(upstream, security, test_mode, std::move(client), std::move(options), default_limits()),
      config_(std::get<conf::SesConfig>(upstream.config)) {
  if (config_.aws_access_key_id.empty() || config_.aws_secret_access_key.empty())
    throw std::invalid_argument("upstream " + name_ + ": ses needs aws_access_key_id and aws_secret_access_key");
  if (config_.region.empty()) throw std::invalid_argument("upstream " + name_ + ": ses region is empty");
  if (config_.region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
    throw std::invalid_argument("upstream " + name_ + ": ses region '" + config_.region + "' is not a region name");
  for (auto [what, value] : {std::pair<const char*, const std::string&>{"aws_access_key_id", config_.aws_access_key_id},
                             {"aws_secret_access_key", config_.aws_secret_access_key},
                             {"aws_session_token", config_.aws_session_token},
                             {"configuration_set", config_.configuration_set},
                             {"return_path", config_.return_path}})
    require_header_safe(std::string("ses ") + what, value);
  for (const auto& tag : config_.tags) {
    require_header_safe("ses tag name", tag.name);
    require_header_safe("ses tag value", tag.value);
  }
  if (!is_ascii(common_.from_email) || !is_ascii(config_.return_path))
    throw std::invalid_argument("upstream " + name_ + ": ses addresses must be ASCII (SES has no SMTPUTF8)");
  credentials_ = {config_.aws_access_key_id, config_.aws_secret_access_key, config_.aws_session_token};
  url_ = base_url(common_, "https://email." + config_.region + ".amazonaws.com") + "/v2/email/outbound-emails";
  split_url(url_, host_, path_);
  // A gzip body would have to be signed compressed; SES gets plain JSON.
  options_.gzip_requests = false;
}

std::string SesTransport::classification_text(const HttpResponse& response) const {
  std::string type(response.header("x-amzn-errortype"));
  return type.empty() ? response.body : type + " " + response.body;
}

std::string SesTransport::error_text(const HttpResponse& response) const {
  std::string type(response.header("x-amzn-errortype"));
  if (auto colon = type.find(':'); colon != std::string::npos) type.resize(colon);
  std::string text = HttpTransport::error_text(response);
  return type.empty() ? text : type + ": " + text;
}

// SESv2 GetAccount (GET /v2/email/account), signed like a send.
std::optional<HttpRequest> SesTransport::probe_request() const {
  std::string suffix = "/v2/email/outbound-emails";
  std::string url = url_.substr(0, url_.size() - suffix.size()) + "/v2/email/account";
  std::string host, path;
  split_url(url, host, path);
  HttpRequest request = base_request(url);
  request.method = "GET";
  request.gzip_body = false;
  SigV4Input input;
  input.method = "GET";
  input.path = path;
  input.headers = {{"Host", host}};
  input.region = config_.region;
  input.service = "ses";
  input.amz_date = amz_date(now());
  request.headers = sign_v4(input, credentials_).headers;
  return request;
}

DeliveryPlan SesTransport::plan(const OutboundMessage& message, std::string content) {
  DeliveryPlan plan;
  std::string raw = std::move(content);
  prepare_raw_message_in_place(raw, identity_, options_.allow_control_headers);
  // Only the header section matters for the addresses.
  std::size_t header_length = header_section_length(raw);
  auto parsed = parse_mime(std::string_view(raw).substr(0, header_length == std::string::npos ? raw.size() : header_length));
  if (!parsed.view) {
    plan.failure = {Outcome::permanent, "the message cannot be sent through ses: " + parsed.error};
    return plan;
  }
  const auto& view = *parsed.view;
  std::string from = view.from.empty() ? std::string() : view.from.front().email;
  if (!is_ascii(from) || !is_ascii(message.envelope.mail_from)) {
    plan.failure = {Outcome::permanent,
                    "SES does not accept non-ASCII addresses (no SMTPUTF8): the sender '" +
                        (is_ascii(from) ? message.envelope.mail_from : from) + "' cannot be sent through ses"};
    return plan;
  }
  if (from.empty() && !common_.from_email.empty()) from = common_.from_email;

  std::vector<std::string> envelope;
  for (std::size_t i = 0; i < message.envelope.recipients.size(); ++i) {
    const auto& address = message.envelope.recipients[i].address;
    envelope.push_back(address);
  }
  auto routed = route_recipients(view, envelope);
  std::vector<RoutedRecipient> sendable;
  for (auto& r : routed) {
    if (!is_ascii(r.email) || !is_header_safe(r.email)) {
      for (auto index : r.indices)
        plan.refused.emplace_back(index, "SES does not accept non-ASCII addresses (no SMTPUTF8): '" + r.email +
                                             "' needs an ASCII local part and a punycode domain");
      continue;
    }
    sendable.push_back(std::move(r));
  }
  for (const auto& group : chunk(sendable, limits_.max_recipients_per_call)) {
    SesDestination destination;
    std::vector<std::size_t> unit;
    for (const auto& r : group) {
      (r.role == Role::to ? destination.to : r.role == Role::cc ? destination.cc : destination.bcc).push_back(r.email);
      unit.insert(unit.end(), r.indices.begin(), r.indices.end());
    }
    PlannedCall call;
    call.request = base_request(url_);
    call.request.body = ses_request_body(raw, destination, from, config_);
    if (call.request.body.size() > limits_.max_request_bytes) {
      plan.failure = {Outcome::permanent, "message too large for ses: the request would be " +
                                              std::to_string(call.request.body.size()) + " bytes, the limit is " +
                                              std::to_string(limits_.max_request_bytes)};
      return plan;
    }
    SigV4Input input;
    input.method = "POST";
    input.path = path_;
    input.headers = {{"Host", host_}, {"Content-Type", "application/json"}};
    input.body = call.request.body;
    input.region = config_.region;
    input.service = "ses";
    input.amz_date = amz_date(now());
    call.request.headers = sign_v4(input, credentials_).headers;
    call.units = {std::move(unit)};
    plan.calls.push_back(std::move(call));
  }
  return plan;
}

}  // namespace smarthost::upstream::http
