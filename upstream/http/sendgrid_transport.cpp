// SendGrid mail/send JSON from a MimeView, and the transport that posts it.
#include "upstream/http/sendgrid_transport.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <stdexcept>

#include "upstream/http/json_blobs.h"
#include "upstream/http/outbound_content.h"

namespace smarthost::upstream::http {

namespace json = boost::json;

namespace {

// Headers SendGrid refuses in `headers` (besides the structural ones outbound_content.h never passes).
const std::vector<std::string_view> kSendgridForbiddenPrefixes{"x-sg-"};

// SendGrid rejects display names with ';' or ','.
std::string sendgrid_name(std::string_view name) {
  std::string out(name);
  for (auto& c : out)
    if (c == ';' || c == ',') c = ' ';
  return out;
}

json::object address(std::string_view email, std::string_view name) {
  json::object out;
  out["email"] = email;
  if (!name.empty()) out["name"] = sendgrid_name(name);
  return out;
}

json::object tracking_settings(const conf::SendgridTracking& t) {
  json::object out;
  if (t.click_enable || t.click_enable_text) {
    json::object click;
    if (t.click_enable) click["enable"] = *t.click_enable;
    if (t.click_enable_text) click["enable_text"] = *t.click_enable_text;
    out["click_tracking"] = std::move(click);
  }
  if (t.open_enable || t.open_substitution_tag) {
    json::object open;
    if (t.open_enable) open["enable"] = *t.open_enable;
    if (t.open_substitution_tag) open["substitution_tag"] = *t.open_substitution_tag;
    out["open_tracking"] = std::move(open);
  }
  if (t.subscription_enable || t.subscription_text || t.subscription_html || t.subscription_substitution_tag) {
    json::object sub;
    if (t.subscription_enable) sub["enable"] = *t.subscription_enable;
    if (t.subscription_text) sub["text"] = *t.subscription_text;
    if (t.subscription_html) sub["html"] = *t.subscription_html;
    if (t.subscription_substitution_tag) sub["substitution_tag"] = *t.subscription_substitution_tag;
    out["subscription_tracking"] = std::move(sub);
  }
  return out;
}

}  // namespace

PayloadBuild build_sendgrid_payloads(const MimeView& view, const std::vector<std::string>& envelope,
                                     const SendgridPayloadSettings& settings) {
  PayloadBuild build;
  auto sender = resolve_sender(view, settings.identity);
  if (!sender.error.empty()) {
    build.error = sender.error;
    return build;
  }
  build.error = header_injection(view, sender);
  if (!build.error.empty()) return build;

  // Everything but the personalizations is the same in each request.
  JsonBlobs blobs;  // attachment contents, written straight into each body
  json::object common;
  common["from"] = address(sender.from.email, sender.from.name);
  if (sender.reply_to.size() == 1) {
    common["reply_to"] = address(sender.reply_to[0].email, sender.reply_to[0].name);
  } else if (sender.reply_to.size() > 1) {
    json::array list;
    for (const auto& r : sender.reply_to) list.push_back(address(r.email, r.name));
    common["reply_to_list"] = std::move(list);
  }
  const bool templated = !settings.config.template_id.empty();
  if (!view.subject.empty()) {
    common["subject"] = view.subject;
  } else if (!templated) {
    common["subject"] = "(no subject)";  // SendGrid requires one
  }
  json::array content;
  if (view.text) content.push_back(json::object{{"type", "text/plain"}, {"value", lf_line_ends(*view.text)}});
  if (view.html) content.push_back(json::object{{"type", "text/html"}, {"value", lf_line_ends(*view.html)}});
  if (content.empty() && !templated) content.push_back(json::object{{"type", "text/plain"}, {"value", " "}});
  if (!content.empty()) common["content"] = std::move(content);
  if (!view.attachments.empty()) {
    json::array attachments;
    for (const auto& a : view.attachments) {
      json::object item{{"content", blobs.placeholder(a.data)},
                        {"type", a.content_type},
                        {"filename", a.filename},
                        {"disposition", a.inline_part ? "inline" : "attachment"}};
      if (!a.content_id.empty()) item["content_id"] = a.content_id;
      attachments.push_back(std::move(item));
    }
    common["attachments"] = std::move(attachments);
  }
  json::object headers;
  for (const auto& h : custom_headers(view, settings.allow_control_headers, kSendgridForbiddenPrefixes))
    if (!headers.contains(h.name)) headers[h.name] = h.raw;
  if (!headers.empty()) common["headers"] = std::move(headers);
  if (templated) common["template_id"] = settings.config.template_id;
  if (!settings.config.categories.empty()) {
    json::array categories;
    for (const auto& c : settings.config.categories) categories.push_back(json::value(c));
    common["categories"] = std::move(categories);
  }
  if (!settings.config.custom_args.empty()) {
    json::object args;
    for (const auto& [k, v] : settings.config.custom_args) args[k] = v;
    common["custom_args"] = std::move(args);
  }
  if (auto tracking = tracking_settings(settings.config.tracking_settings); !tracking.empty())
    common["tracking_settings"] = std::move(tracking);
  if (settings.sandbox) common["mail_settings"] = json::object{{"sandbox_mode", json::object{{"enable", true}}}};

  auto routed = route_recipients(view, envelope);
  for (const auto& group : chunk(routed, settings.max_recipients_per_request)) {
    json::array personalizations;
    JsonPayload payload;
    bool has_to = std::any_of(group.begin(), group.end(), [](const auto& r) { return r.role == Role::to; });
    if (has_to) {
      json::array to, cc, bcc;
      for (const auto& r : group) {
        auto& list = r.role == Role::to ? to : r.role == Role::cc ? cc : bcc;
        list.push_back(address(r.email, r.name));
      }
      json::object p{{"to", std::move(to)}};
      if (!cc.empty()) p["cc"] = std::move(cc);
      if (!bcc.empty()) p["bcc"] = std::move(bcc);
      personalizations.push_back(std::move(p));
    } else {
      for (const auto& r : group)
        personalizations.push_back(json::object{{"to", json::array{address(r.email, r.name)}}});
    }
    for (const auto& r : group) payload.recipients.insert(payload.recipients.end(), r.indices.begin(), r.indices.end());
    json::object request = common;
    request["personalizations"] = std::move(personalizations);
    payload.body = blobs.render(json::serialize(request));
    build.payloads.push_back(std::move(payload));
  }
  return build;
}

SendgridTransport::SendgridTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                                     const conf::TestModeConfig& test_mode, boost::asio::any_io_executor executor,
                                     HttpTransportOptions options)
    : SendgridTransport(upstream, security, test_mode, make_http_client(executor, security, upstream.options),
                        std::move(options)) {}

SendgridTransport::SendgridTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                                     const conf::TestModeConfig& test_mode, std::shared_ptr<HttpClient> client,
                                     HttpTransportOptions options)
    : HttpTransport(upstream, security, test_mode, std::move(client), std::move(options), default_limits()),
      config_(std::get<conf::SendgridConfig>(upstream.config)) {
  if (config_.api_key.empty()) throw std::invalid_argument("upstream " + name_ + ": sendgrid api_key is empty");
  if (config_.compress_requests) options_.gzip_requests = true;
  require_header_safe("sendgrid api_key", config_.api_key);
  require_header_safe("sendgrid template_id", config_.template_id);
  if (config_.categories.size() > 10)
    throw std::invalid_argument("upstream " + name_ + ": sendgrid takes at most 10 categories");
  for (const auto& c : config_.categories) {
    require_header_safe("sendgrid category", c);
    if (c.size() > 255) throw std::invalid_argument("upstream " + name_ + ": a sendgrid category is over 255 chars");
  }
  std::size_t args_bytes = 0;
  for (const auto& [k, v] : config_.custom_args) {
    require_header_safe("sendgrid custom_args key", k);
    require_header_safe("sendgrid custom_args value", v);
    args_bytes += k.size() + v.size() + 6;
  }
  if (args_bytes >= 10000) throw std::invalid_argument("upstream " + name_ + ": sendgrid custom_args reach 10000 bytes");
  url_ = base_url(common_, "https://api.sendgrid.com") + "/v3/mail/send";
}

// GET /v3/scopes: the key's permissions; answers 401 for a bad key.
std::optional<HttpRequest> SendgridTransport::probe_request() const {
  std::string suffix = "/v3/mail/send";
  HttpRequest request = base_request(url_.substr(0, url_.size() - suffix.size()) + "/v3/scopes");
  request.method = "GET";
  request.gzip_body = false;
  request.headers = {{"Authorization", "Bearer " + config_.api_key}, {"Accept", "application/json"}};
  return request;
}

DeliveryPlan SendgridTransport::plan(const OutboundMessage& message, std::string content) {
  DeliveryPlan plan;
  auto parsed = parse_mime(content);
  content = std::string();  // the view holds what the request needs
  if (!parsed.view) {
    plan.failure = {Outcome::permanent, "the message cannot be converted for sendgrid: " + parsed.error};
    return plan;
  }
  std::vector<std::string> envelope;
  for (const auto& r : message.envelope.recipients) envelope.push_back(r.address);
  SendgridPayloadSettings settings{config_, identity_, test_mode_.enabled, options_.allow_control_headers,
                                   limits_.max_recipients_per_call};
  auto build = build_sendgrid_payloads(*parsed.view, envelope, settings);
  if (!build.error.empty()) {
    plan.failure = {Outcome::permanent, "the message cannot be sent through sendgrid: " + build.error};
    return plan;
  }
  for (auto& payload : build.payloads) {
    if (payload.body.size() > limits_.max_request_bytes) {
      plan.failure = {Outcome::permanent, "message too large for sendgrid: the request would be " +
                                              std::to_string(payload.body.size()) + " bytes, the limit is " +
                                              std::to_string(limits_.max_request_bytes)};
      return plan;
    }
    PlannedCall call;
    call.request = base_request(url_);
    call.request.headers = {{"Authorization", "Bearer " + config_.api_key},
                            {"Content-Type", "application/json"},
                            {"Accept", "application/json"}};
    call.request.body = std::move(payload.body);
    call.units = {std::move(payload.recipients)};
    plan.calls.push_back(std::move(call));
  }
  return plan;
}

}  // namespace smarthost::upstream::http
