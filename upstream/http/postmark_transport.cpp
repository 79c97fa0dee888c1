// Postmark message objects from a MimeView, single and batch sending, and the per-element batch answers.
#include "upstream/http/postmark_transport.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <stdexcept>

#include "upstream/http/json_blobs.h"
#include "upstream/http/outbound_content.h"

namespace smarthost::upstream::http {

namespace json = boost::json;

namespace {

std::string joined(const std::vector<const RoutedRecipient*>& list) {
  std::string out;
  for (const auto* r : list) {
    if (!out.empty()) out += ", ";
    out += format_mailbox(r->name, r->email);
  }
  return out;
}

std::string mailboxes(const std::vector<MailboxAddress>& list) {
  std::string out;
  for (const auto& m : list) {
    if (!out.empty()) out += ", ";
    out += format_mailbox(m.name, m.email);
  }
  return out;
}

}  // namespace

PayloadBuild build_postmark_messages(const MimeView& view, const std::vector<std::string>& envelope,
                                     const PostmarkPayloadSettings& settings) {
  PayloadBuild build;
  auto sender = resolve_sender(view, settings.identity);
  if (!sender.error.empty()) {
    build.error = sender.error;
    return build;
  }
  build.error = header_injection(view, sender);
  if (!build.error.empty()) return build;
  if (view.text && view.text->size() > PostmarkTransport::kMaxBodyBytes) {
    build.error = "the text body is over Postmark's 5 MB";
    return build;
  }
  if (view.html && view.html->size() > PostmarkTransport::kMaxBodyBytes) {
    build.error = "the HTML body is over Postmark's 5 MB";
    return build;
  }

  JsonBlobs blobs;  // attachment contents, written straight into each body
  json::object common;
  common["From"] = format_mailbox(sender.from.name, sender.from.email);
  if (!sender.reply_to.empty()) common["ReplyTo"] = mailboxes(sender.reply_to);
  common["Subject"] = view.subject;
  if (view.text) common["TextBody"] = lf_line_ends(*view.text);
  if (view.html) common["HtmlBody"] = lf_line_ends(*view.html);
  if (!view.text && !view.html) common["TextBody"] = " ";  // Postmark requires one of the two
  json::array headers;
  for (const auto& h : custom_headers(view, settings.allow_control_headers, {}))
    headers.push_back(json::object{{"Name", h.name}, {"Value", h.raw}});
  if (!headers.empty()) common["Headers"] = std::move(headers);
  if (!view.attachments.empty()) {
    json::array attachments;
    for (const auto& a : view.attachments) {
      json::object item{{"Name", a.filename}, {"Content", blobs.placeholder(a.data)}, {"ContentType", a.content_type}};
      if (!a.content_id.empty()) item["ContentID"] = "cid:" + a.content_id;
      attachments.push_back(std::move(item));
    }
    common["Attachments"] = std::move(attachments);
  }
  const auto& config = settings.config;
  if (!config.tag.empty()) common["Tag"] = config.tag;
  if (!config.metadata.empty()) {
    json::object metadata;
    for (const auto& [k, v] : config.metadata) metadata[k] = v;
    common["Metadata"] = std::move(metadata);
  }
  common["MessageStream"] = config.message_stream.empty() ? std::string("outbound") : config.message_stream;
  if (config.track_opens) common["TrackOpens"] = *config.track_opens;
  if (!config.track_links.empty()) common["TrackLinks"] = config.track_links;

  auto emit = [&](const std::vector<const RoutedRecipient*>& to, const std::vector<const RoutedRecipient*>& cc,
                  const std::vector<const RoutedRecipient*>& bcc) {
    json::object message = common;
    message["To"] = joined(to);
    if (!cc.empty()) message["Cc"] = joined(cc);
    if (!bcc.empty()) message["Bcc"] = joined(bcc);
    JsonPayload payload;
    for (const auto* list : {&to, &cc, &bcc})
      for (const auto* r : *list) payload.recipients.insert(payload.recipients.end(), r->indices.begin(), r->indices.end());
    payload.body = blobs.render(json::serialize(message));
    build.payloads.push_back(std::move(payload));
  };
  auto routed = route_recipients(view, envelope);
  for (const auto& group : chunk(routed, settings.max_recipients_per_message)) {
    std::vector<const RoutedRecipient*> to, cc, bcc;
    for (const auto& r : group) (r.role == Role::to ? to : r.role == Role::cc ? cc : bcc).push_back(&r);
    if (!to.empty()) {
      emit(to, cc, bcc);
    } else {
      for (const auto& r : group) emit({&r}, {}, {});
    }
  }
  return build;
}

PostmarkTransport::PostmarkTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                                     const conf::TestModeConfig& test_mode, boost::asio::any_io_executor executor,
                                     HttpTransportOptions options)
    : PostmarkTransport(upstream, security, test_mode, make_http_client(executor, security, upstream.options),
                        std::move(options)) {}

PostmarkTransport::PostmarkTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                                     const conf::TestModeConfig& test_mode, std::shared_ptr<HttpClient> client,
                                     HttpTransportOptions options)
    : HttpTransport(upstream, security, test_mode, std::move(client), std::move(options), default_limits()),
      config_(std::get<conf::PostmarkConfig>(upstream.config)) {
  if (config_.server_token.empty()) throw std::invalid_argument("upstream " + name_ + ": postmark server_token is empty");
  require_header_safe("postmark server_token", config_.server_token);
  require_header_safe("postmark tag", config_.tag);
  require_header_safe("postmark message_stream", config_.message_stream);
  for (const auto& [k, v] : config_.metadata) {
    require_header_safe("postmark metadata key", k);
    require_header_safe("postmark metadata value", v);
  }
  static const char* kTrackLinks[] = {"", "None", "HtmlAndText", "HtmlOnly", "TextOnly"};
  if (std::find(std::begin(kTrackLinks), std::end(kTrackLinks), config_.track_links) == std::end(kTrackLinks))
    throw std::invalid_argument("upstream " + name_ + ": postmark track_links must be None, HtmlAndText, HtmlOnly or TextOnly");
  base_ = base_url(common_, "https://api.postmarkapp.com");
}

// GET /server: the server the token belongs to.
std::optional<HttpRequest> PostmarkTransport::probe_request() const {
  HttpRequest request = base_request(base_ + "/server");
  request.method = "GET";
  request.gzip_body = false;
  request.headers = {{"X-Postmark-Server-Token", config_.server_token}, {"Accept", "application/json"}};
  return request;
}

HttpRequest PostmarkTransport::request_to(std::string path, std::string body) const {
  HttpRequest request = base_request(base_ + path);
  request.headers = {{"X-Postmark-Server-Token", config_.server_token},
                     {"Accept", "application/json"},
                     {"Content-Type", "application/json"}};
  request.body = std::move(body);
  return request;
}

PayloadBuild PostmarkTransport::build(const OutboundMessage& message, std::string content) const {
  auto parsed = parse_mime(content);
  content = std::string();  // the view holds what the request needs
  if (!parsed.view) return PayloadBuild{{}, "the message cannot be converted for postmark: " + parsed.error};
  std::vector<std::string> envelope;
  for (const auto& r : message.envelope.recipients) envelope.push_back(r.address);
  PostmarkPayloadSettings settings{config_, identity_, options_.allow_control_headers, limits_.max_recipients_per_call};
  auto built = build_postmark_messages(*parsed.view, envelope, settings);
  if (!built.error.empty()) {
    built.error = "the message cannot be sent through postmark: " + built.error;
    return built;
  }
  for (const auto& payload : built.payloads) {
    if (payload.body.size() > limits_.max_request_bytes) {
      return PayloadBuild{{}, "message too large for postmark: " + std::to_string(payload.body.size()) +
                                  " bytes as JSON, the limit is " + std::to_string(limits_.max_request_bytes)};
    }
  }
  return built;
}

std::vector<PlannedCall> PostmarkTransport::calls_for(std::vector<JsonPayload> objects) const {
  std::vector<PlannedCall> calls;
  if (objects.size() == 1) {
    PlannedCall call;
    call.request = request_to("/email", std::move(objects[0].body));
    call.units = {std::move(objects[0].recipients)};
    calls.push_back(std::move(call));
    return calls;
  }
  PlannedCall call;
  std::string body;
  auto flush = [&] {
    if (call.units.empty()) return;
    body += "]";
    call.request = request_to("/email/batch", std::move(body));
    calls.push_back(std::move(call));
    call = PlannedCall{};
    body.clear();
  };
  for (auto& object : objects) {
    if (!call.units.empty() &&
        (call.units.size() >= kMaxBatchMessages || body.size() + object.body.size() + 2 > kMaxBatchBytes))
      flush();
    if (body.empty()) body.reserve(std::min<uint64_t>(kMaxBatchBytes, object.body.size() * 2 + 2));
    body += body.empty() ? "[" : ",";
    body += object.body;
    object.body = std::string();  // held once: in the batch body
    call.units.push_back(std::move(object.recipients));
  }
  flush();
  return calls;
}

DeliveryPlan PostmarkTransport::plan(const OutboundMessage& message, std::string content) {
  DeliveryPlan plan;
  auto built = build(message, std::move(content));
  if (!built.error.empty()) {
    plan.failure = {Outcome::permanent, built.error};
    return plan;
  }
  plan.calls = calls_for(std::move(built.payloads));
  return plan;
}

std::vector<UnitAnswer> PostmarkTransport::read_answer(const PlannedCall& call, const HttpResponse& response) {
  if (!call.request.url.ends_with("/email/batch") || response.status != 200)
    return HttpTransport::read_answer(call, response);
  boost::system::error_code ec;
  auto value = json::parse(response.body, ec);
  if (ec || !value.is_array() || value.get_array().size() != call.units.size()) {
    // Postmark answered 200 but not with one element per message: nothing says which ones were taken.
    UnitAnswer unclear{{Outcome::temporary, true, false},
                       "HTTP 200 with an unreadable batch answer: " + error_text(response), {}, {}};
    return {unclear};
  }
  std::vector<UnitAnswer> answers;
  for (const auto& element : value.get_array()) {
    std::string text = json::serialize(element);
    UnitAnswer answer;
    answer.classification = classify_http(conf::ProviderKind::postmark, 200, text);
    std::string message, id;
    long code = -1;
    if (element.is_object()) {
      const auto& o = element.get_object();
      if (auto* m = o.if_contains("Message"); m && m->is_string()) message = std::string(m->get_string());
      if (auto* i = o.if_contains("MessageID"); i && i->is_string()) id = std::string(i->get_string());
      if (auto* c = o.if_contains("ErrorCode"); c && c->is_int64()) code = static_cast<long>(c->get_int64());
    }
    if (answer.classification.outcome == Outcome::delivered) {
      answer.remote_id = id;
      answer.reply = "HTTP 200 id=" + id;
    } else {
      answer.reply = "Postmark ErrorCode " + std::to_string(code) + ": " + message;
    }
    answers.push_back(std::move(answer));
  }
  return answers;
}

boost::asio::awaitable<std::vector<DeliveryResult>> PostmarkTransport::deliver_batch(
    std::span<const OutboundMessage> batch) {
  auto started = std::chrono::steady_clock::now();
  std::vector<DeliveryResult> results(batch.size());
  std::vector<DeliveryPlan> plans(batch.size());
  std::vector<std::vector<UnitAnswer>> per_message(batch.size());
  std::size_t calls_made = 0;
  // Messages are built and sent a round at a time: as many as the payload budget holds (at least one), so that a
  // batch of large messages never sits in memory whole.
  std::optional<UnitAnswer> stopped;  // a call failed: the messages of later rounds are not attempted
  for (std::size_t next_message = 0; next_message < batch.size() && !stopped;) {
    // Every object of this round, with where its answer goes: (message, unit of that message's plan).
    std::vector<JsonPayload> objects;
    std::vector<std::pair<std::size_t, std::size_t>> owners;
    std::vector<PayloadBudget::Reservation> held;
    for (; next_message < batch.size(); ++next_message) {
      const std::size_t m = next_message;
      const auto& message = batch[m];
      if (message.size > limits_.max_message_bytes) {
        plans[m].failure = {Outcome::permanent, "message too large for postmark: " + std::to_string(message.size) +
                                                    " bytes, the limit is " + std::to_string(limits_.max_message_bytes)};
        continue;
      }
      std::optional<PayloadBudget::Reservation> reservation;
      if (held.empty()) {
        auto reserving = reserve_payload(message);
        reservation = co_await std::move(reserving);
        if (!reservation) {
          plans[m].failure = {Outcome::temporary, "local error: no memory for the message within the payload budget "
                                                  "([performance] max_payload_memory)"};
          continue;
        }
      } else {
        reservation = budget_->try_reserve(payload_estimate(message.size));
        if (!reservation) break;  // send what this round holds first
      }
      auto loaded = load_content(message, limits_.max_message_bytes);
      if (!loaded.error.empty()) {
        plans[m].failure = {Outcome::temporary, "local error: " + loaded.error};
        continue;
      }
      auto built = build(message, std::move(loaded.content));
      if (!built.error.empty()) {
        plans[m].failure = {Outcome::permanent, built.error};
        continue;
      }
      uint64_t bodies = 0;
      for (const auto& payload : built.payloads) bodies += payload.body.capacity();
      // Fanned out into more objects than the estimate allowed for (Bcc-only recipients): counted as it is.
      reservation->grow_to(bodies);
      held.push_back(std::move(*reservation));
      // Each message's own plan: one pseudo-call whose units are its objects, answered from the shared batches.
      PlannedCall own;
      for (auto& payload : built.payloads) {
        owners.emplace_back(m, own.units.size());
        own.units.push_back(payload.recipients);
        objects.push_back(std::move(payload));
      }
      per_message[m].resize(own.units.size());
      plans[m].calls.push_back(std::move(own));
    }
    if (objects.empty()) continue;
    std::vector<PlannedCall> calls = calls_for(std::move(objects));
    auto pending = run_calls(calls, &stopped);
    auto per_call = co_await std::move(pending);
    calls_made += calls.size();
    std::size_t next = 0;
    for (std::size_t c = 0; c < calls.size(); ++c) {
      for (std::size_t u = 0; u < calls[c].units.size(); ++u, ++next) {
        auto [m, unit] = owners[next];
        per_message[m][unit] = per_call[c][u];
      }
    }
  }
  for (std::size_t m = 0; m < batch.size(); ++m) {
    if (stopped && plans[m].calls.empty() && !plans[m].failure)
      plans[m].failure = {stopped->classification.outcome, stopped->reply};
    results[m] = assemble(batch[m], plans[m], {per_message[m]});
    log_result(batch[m], results[m], calls_made, std::chrono::steady_clock::now() - started);
  }
  co_return results;
}

}  // namespace smarthost::upstream::http
