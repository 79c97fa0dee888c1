// The shared delivery flow of the HTTP transports: limits, plan, calls in order, classification, one result per
// recipient. Provider specifics live in the subclasses (mailgun_transport.cpp, sendgrid_transport.cpp, ...).
#include "upstream/http/http_transport.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "upstream/http/outbound_content.h"

namespace smarthost::upstream::http {

namespace {

std::string one_line(std::string_view text, std::size_t max = 300) {
  std::string out;
  for (char c : text.substr(0, max)) out += (c == '\r' || c == '\n' || c == '\0' || c == '\t') ? ' ' : c;
  if (text.size() > max) out += "...";
  return out;
}

}  // namespace

std::shared_ptr<HttpClient> make_http_client(boost::asio::any_io_executor executor,
                                             const conf::SecurityConfig& security,
                                             const conf::UpstreamOptions& options) {
  HttpClientSettings settings;
  settings.tls = HttpTlsSettings::from(security);
  if (options.connection_pool_size) settings.max_connections_per_host = *options.connection_pool_size;
  return std::make_shared<HttpClient>(std::move(executor), std::move(settings));
}

void require_header_safe(std::string_view what, std::string_view value) {
  if (!is_header_safe(value)) throw std::invalid_argument(std::string(what) + " contains CR, LF or NUL");
}

std::string base_url(const conf::CommonProviderConfig& common, std::string_view fallback) {
  std::string url = common.endpoint.empty() ? std::string(fallback) : common.endpoint;
  while (url.ends_with('/')) url.pop_back();
  return url;
}

HttpTransport::HttpTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                             const conf::TestModeConfig& test_mode, std::shared_ptr<HttpClient> client,
                             HttpTransportOptions options, ProviderLimits defaults)
    : name_(upstream.name),
      kind_(upstream.provider),
      common_(upstream.common),
      identity_(SenderIdentity::from_config(upstream.common)),
      upstream_options_(upstream.options),
      test_mode_(test_mode),
      client_(std::move(client)),
      options_(std::move(options)),
      limits_(options_.limits.value_or(defaults)),
      budget_(options_.budget ? options_.budget : PayloadBudget::process_wide()) {
  (void)security;  // TLS settings belong to the client (make_http_client)
  if (!client_) throw std::invalid_argument("upstream " + name_ + ": no HTTP client");
  require_header_safe("from_email", common_.from_email);
  require_header_safe("from_name", common_.from_name);
  require_header_safe("reply_to", common_.reply_to);
  require_header_safe("endpoint", common_.endpoint);
}

std::chrono::system_clock::time_point HttpTransport::now() const {
  return options_.clock ? options_.clock() : std::chrono::system_clock::now();
}

HttpRequest HttpTransport::base_request(std::string url) const {
  HttpRequest request;
  request.method = "POST";
  request.url = std::move(url);
  request.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(upstream_options_.timeout);
  request.max_response_bytes = options_.max_response_bytes;
  request.gzip_body = options_.gzip_requests;
  return request;
}

std::string HttpTransport::describe(const HttpResponse& response, std::string_view reason) {
  if (response.status == 0)
    return std::string(response.timed_out ? "no answer (timed out): " : "no answer: ") + one_line(response.error);
  std::string out = "HTTP " + std::to_string(response.status);
  if (!reason.empty()) out += ": " + one_line(reason);
  return out;
}

std::string HttpTransport::error_text(const HttpResponse& response) const {
  boost::system::error_code ec;
  auto value = boost::json::parse(response.body, ec);
  if (!ec && value.is_object()) {
    const auto& object = value.get_object();
    for (const char* key : {"message", "Message"}) {
      if (auto* m = object.if_contains(key); m && m->is_string()) return std::string(m->get_string());
    }
    if (auto* errors = object.if_contains("errors"); errors && errors->is_array()) {
      std::string joined;
      for (const auto& e : errors->get_array()) {
        if (!e.is_object()) continue;
        auto* m = e.get_object().if_contains("message");
        if (!m || !m->is_string()) continue;
        if (!joined.empty()) joined += "; ";
        joined += std::string(m->get_string());
        if (auto* f = e.get_object().if_contains("field"); f && f->is_string())
          joined += " (" + std::string(f->get_string()) + ")";
      }
      if (!joined.empty()) return joined;
    }
  }
  return one_line(response.body, 200);
}

std::string HttpTransport::success_id(const HttpResponse& response) const {
  if (auto id = response.header("x-message-id"); !id.empty()) return std::string(id);
  boost::system::error_code ec;
  auto value = boost::json::parse(response.body, ec);
  if (!ec && value.is_object()) {
    for (const char* key : {"id", "MessageID", "MessageId"}) {
      if (auto* m = value.get_object().if_contains(key); m && m->is_string()) return std::string(m->get_string());
    }
  }
  return {};
}

boost::asio::awaitable<ProbeResult> HttpTransport::probe(std::chrono::milliseconds timeout) {
  auto request = probe_request();
  if (!request) co_return ProbeResult{true, "nothing to probe"};
  request->method = request->method.empty() ? "GET" : request->method;
  request->timeout = timeout;
  request->max_response_bytes = 64 * 1024;
  std::string what = request->method + " " + request->url.substr(0, request->url.find('?'));
  // The request is moved into the call before the co_await (GCC 12 and temporaries in co_await expressions).
  auto pending = client_->request(std::move(*request));
  HttpResponse response = co_await std::move(pending);
  if (response.status >= 200 && response.status < 300)
    co_return ProbeResult{true, what + ": HTTP " + std::to_string(response.status)};
  co_return ProbeResult{false, what + ": " + describe(response, error_text(response))};
}

std::vector<UnitAnswer> HttpTransport::read_answer(const PlannedCall&, const HttpResponse& response) {
  UnitAnswer answer;
  answer.classification = classify_http(kind_, response.status, classification_text(response));
  if (answer.classification.outcome == Outcome::delivered) {
    answer.remote_id = success_id(response);
    answer.reply = "HTTP " + std::to_string(response.status) + (answer.remote_id.empty() ? "" : " id=" + answer.remote_id);
  } else {
    answer.reply = describe(response, error_text(response));
  }
  return {answer};
}

boost::asio::awaitable<std::vector<std::vector<UnitAnswer>>> HttpTransport::run_calls(
    std::vector<PlannedCall>& calls, std::optional<UnitAnswer>* stopped_out) {
  std::vector<std::vector<UnitAnswer>> answers;
  std::optional<UnitAnswer> stopped;  // set once a call failed: later calls are not made
  for (auto& call : calls) {
    std::size_t units = std::max<std::size_t>(1, call.units.size());
    if (stopped) {
      answers.emplace_back(units, *stopped);
      continue;
    }
    // The body is handed over, not copied (it can be tens of megabytes); the rest stays for read_answer.
    std::string body = std::move(call.request.body);
    HttpRequest request = call.request;
    request.body = std::move(body);
    auto pending = client_->request(std::move(request));
    HttpResponse response = co_await std::move(pending);
    auto read = read_answer(call, response);
    if (read.empty()) read.push_back(UnitAnswer{classify_http(kind_, response.status, classification_text(response)),
                                                describe(response, error_text(response)), {}, {}});
    if (read.size() != units) read.resize(units, read.front());
    for (auto& answer : read) {
      if (answer.classification.outcome != Outcome::delivered && response.rate_limit.retry_after)
        answer.retry_after = response.rate_limit.retry_after;
    }
    bool call_failed = response.status < 200 || response.status >= 300;
    if (call_failed && read.front().classification.outcome != Outcome::delivered) {
      stopped = read.front();
      if (stopped->classification.outcome == Outcome::permanent) {
        // A refusal of one part says nothing certain about the others: they wait for the next attempt.
        stopped->classification = Classification{Outcome::temporary, false, false};
        stopped->reply = "not attempted: an earlier part of this message was refused (" + read.front().reply + ")";
      } else {
        stopped->reply = "not attempted after: " + read.front().reply;
      }
    }
    answers.push_back(std::move(read));
  }
  if (stopped_out) *stopped_out = stopped;
  co_return answers;
}

DeliveryResult HttpTransport::fail_all(const OutboundMessage& message, Outcome outcome, const std::string& reason) {
  DeliveryResult result;
  result.outcome = outcome;
  result.reply = reason;
  for (const auto& r : message.envelope.recipients) result.recipients.push_back({r.address, outcome, reason});
  return result;
}

DeliveryResult HttpTransport::assemble(const OutboundMessage& message, const DeliveryPlan& plan,
                                       const std::vector<std::vector<UnitAnswer>>& answers) {
  if (plan.failure) return fail_all(message, plan.failure->first, plan.failure->second);
  DeliveryResult result;
  for (const auto& r : message.envelope.recipients)
    result.recipients.push_back({r.address, Outcome::temporary, "not attempted"});
  for (const auto& [index, reason] : plan.refused) {
    if (index < result.recipients.size()) result.recipients[index] = {result.recipients[index].address,
                                                                      Outcome::permanent, reason};
  }
  std::string first_failure;
  for (std::size_t c = 0; c < plan.calls.size() && c < answers.size(); ++c) {
    const auto& call = plan.calls[c];
    for (std::size_t u = 0; u < call.units.size() && u < answers[c].size(); ++u) {
      const auto& answer = answers[c][u];
      for (auto index : call.units[u]) {
        if (index < result.recipients.size())
          result.recipients[index] = {result.recipients[index].address, answer.classification.outcome, answer.reply};
      }
      result.throttled |= answer.classification.throttled;
      result.upstream_unhealthy |= answer.classification.upstream_unhealthy;
      if (answer.retry_after && (!result.retry_after || *answer.retry_after > *result.retry_after))
        result.retry_after = answer.retry_after;
      if (!answer.remote_id.empty() && result.remote_id.find(answer.remote_id) == std::string::npos)
        result.remote_id += (result.remote_id.empty() ? "" : ",") + answer.remote_id;
      if (answer.classification.outcome != Outcome::delivered && first_failure.empty()) first_failure = answer.reply;
      if (result.reply.empty()) result.reply = answer.reply;
    }
  }
  bool any_temporary = false, any_refused = false, all_delivered = true;
  for (const auto& r : result.recipients) {
    all_delivered &= r.outcome == Outcome::delivered;
    any_temporary |= r.outcome == Outcome::temporary;
    any_refused |= r.outcome == Outcome::upstream_refused;
  }
  result.outcome = all_delivered   ? Outcome::delivered
                   : any_temporary ? Outcome::temporary
                   : any_refused   ? Outcome::upstream_refused
                                   : Outcome::permanent;
  if (!all_delivered) {
    if (!first_failure.empty()) {
      result.reply = first_failure;
    } else {
      for (const auto& r : result.recipients)
        if (r.outcome != Outcome::delivered) { result.reply = r.reply; break; }
    }
  }
  return result;
}

void HttpTransport::log_result(const OutboundMessage& message, const DeliveryResult& result, std::size_t calls,
                               std::chrono::steady_clock::duration took) const {
  std::size_t delivered = std::count_if(result.recipients.begin(), result.recipients.end(),
                                        [](const auto& r) { return r.outcome == Outcome::delivered; });
  spdlog::info("qid={} upstream={} provider={} outcome={} rcpts={}/{} calls={} id={} delay={:.3f}s reply=\"{}\"",
               message.queue_id, name_, conf::to_string(kind_), to_string(result.outcome), delivered,
               result.recipients.size(), calls, result.remote_id,
               std::chrono::duration<double>(took).count(), one_line(result.reply, 200));
}

boost::asio::awaitable<std::optional<PayloadBudget::Reservation>> HttpTransport::reserve_payload(
    const OutboundMessage& message) {
  auto asked = std::chrono::steady_clock::now();
  auto reserving = budget_->reserve(payload_estimate(message.size), options_.max_budget_wait);
  auto reservation = co_await std::move(reserving);
  auto waited = std::chrono::steady_clock::now() - asked;
  if (waited > std::chrono::milliseconds(100)) {
    spdlog::info("qid={} upstream={} waited {:.1f}s for payload memory ({:.1f} of {:.1f} MiB in use){}",
                 message.queue_id, name_, std::chrono::duration<double>(waited).count(),
                 static_cast<double>(budget_->in_use()) / (1 << 20), static_cast<double>(budget_->capacity()) / (1 << 20),
                 reservation ? "" : ": deferred");
  }
  co_return reservation;
}

boost::asio::awaitable<DeliveryResult> HttpTransport::deliver(const OutboundMessage& message) {
  auto started = std::chrono::steady_clock::now();
  if (message.envelope.recipients.empty()) {
    DeliveryResult nothing;
    nothing.outcome = Outcome::delivered;
    nothing.reply = "no recipients";
    co_return nothing;
  }
  if (message.size > limits_.max_message_bytes) {
    auto result = fail_all(message, Outcome::permanent,
                           "message too large for " + std::string(conf::to_string(kind_)) + ": " +
                               std::to_string(message.size) + " bytes, the limit is " +
                               std::to_string(limits_.max_message_bytes));
    log_result(message, result, 0, std::chrono::steady_clock::now() - started);
    co_return result;
  }
  auto reserving = reserve_payload(message);
  auto reservation = co_await std::move(reserving);
  if (!reservation) {
    auto result = fail_all(message, Outcome::temporary,
                           "local error: no memory for the message within the payload budget ([performance] "
                           "max_payload_memory) after waiting " +
                               fmt::format("{:.1f}", options_.max_budget_wait.count() / 1000.0) + " s");
    log_result(message, result, 0, std::chrono::steady_clock::now() - started);
    co_return result;
  }
  auto loaded = load_content(message, limits_.max_message_bytes);
  if (!loaded.error.empty()) {
    auto result = fail_all(message, Outcome::temporary, "local error: " + loaded.error);
    log_result(message, result, 0, std::chrono::steady_clock::now() - started);
    co_return result;
  }
  DeliveryPlan plan = this->plan(message, std::move(loaded.content));
  uint64_t bodies = 0;
  for (const auto& call : plan.calls) bodies += call.request.body.capacity();
  // A message that fanned out into more requests than the estimate allowed for is counted as it is.
  reservation->grow_to(bodies);
  std::vector<std::vector<UnitAnswer>> answers;
  if (!plan.failure) {
    auto pending = run_calls(plan.calls);
    answers = co_await std::move(pending);
  }
  auto result = assemble(message, plan, answers);
  log_result(message, result, plan.calls.size(), std::chrono::steady_clock::now() - started);
  co_return result;
}

}  // namespace smarthost::upstream::http
