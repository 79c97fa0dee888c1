// The validation checks on a private io_context: transports from the factory for the probe and the test message,
// the libcurl HttpClient for provider domain state, and app/domain_dns for the SPF and DKIM records. Each check has
// its own deadline; the results come back as a list and the caller prints them.
#include "app/validation.h"

#include <netinet/in.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <random>
#include <regex>

#include "app/domain_dns.h"
#include "upstream/factory.h"
#include "upstream/http/http_client.h"
#include "upstream/http/sigv4.h"

namespace smarthost::app {
namespace {

namespace asio = boost::asio;
namespace http = upstream::http;

std::string hostname() {
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  return host;
}

std::string domain_of(const std::string& address) {
  auto at = address.rfind('@');
  return at == std::string::npos ? std::string() : address.substr(at + 1);
}

// The domain mail is sent from: Mailgun's domain, else the domain of from_email.
std::string sending_domain(const conf::Upstream& u) {
  if (const auto* mg = std::get_if<conf::MailgunConfig>(&u.config)) return mg->domain;
  return domain_of(u.common.from_email);
}

std::string base_url(const conf::Upstream& u, const std::string& fallback) {
  std::string url = u.common.endpoint.empty() ? fallback : u.common.endpoint;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

CheckOutcome check_dns(const conf::Upstream& u, const std::string& domain) {
  DnsVerdict verdict = check_domain_dns(u.provider, domain);
  return CheckOutcome{u.name, "verify_domain", verdict.ok, verdict.detail};
}

// ---- Provider domain state ----------------------------------------------------------------------------------

http::HttpRequest get_request(std::string url, std::chrono::milliseconds timeout) {
  http::HttpRequest r;
  r.method = "GET";
  r.url = std::move(url);
  r.timeout = timeout;
  r.max_response_bytes = 256 * 1024;
  return r;
}

std::string answer_text(const http::HttpResponse& response) {
  if (response.status == 0) return response.timed_out ? "no answer (timed out)" : "no answer: " + response.error;
  std::string body = response.body.substr(0, 200);
  return "HTTP " + std::to_string(response.status) + (body.empty() ? "" : ": " + body);
}

// Mailgun: GET /v3/domains/{domain} -> domain.state "active". SES: GET /v2/email/identities/{domain} ->
// VerifiedForSendingStatus. Other providers: nothing to ask (ok = true, detail empty).
asio::awaitable<CheckOutcome> provider_domain_state(http::HttpClient& client, conf::Upstream u, std::string domain,
                                                    std::chrono::milliseconds timeout) {
  CheckOutcome out{u.name, "verify_domain", true, ""};
  if (const auto* mg = std::get_if<conf::MailgunConfig>(&u.config)) {
    std::string fallback = mg->region == "eu" ? "https://api.eu.mailgun.net" : "https://api.mailgun.net";
    auto request = get_request(base_url(u, fallback) + "/v3/domains/" + domain, timeout);
    request.basic_user = "api";
    request.basic_password = mg->api_key;
    http::HttpResponse response = co_await client.request(std::move(request));
    std::string state;
    if (response.status == 200) {
      boost::system::error_code ec;
      auto json = boost::json::parse(response.body, ec);
      if (!ec && json.is_object()) {
        if (const auto* d = json.as_object().if_contains("domain"); d && d->is_object())
          if (const auto* s = d->as_object().if_contains("state"); s && s->is_string()) state = s->as_string().c_str();
      }
    }
    out.ok = state == "active";
    out.detail = state.empty() ? "Mailgun domain " + domain + ": " + answer_text(response)
                               : "Mailgun domain " + domain + " is " + state;
  } else if (const auto* ses = std::get_if<conf::SesConfig>(&u.config)) {
    std::string base = base_url(u, "https://email." + ses->region + ".amazonaws.com");
    std::string path = "/v2/email/identities/" + domain;
    auto request = get_request(base + path, timeout);
    std::string host = base.substr(base.find("://") + 3);
    http::SigV4Input input;
    input.method = "GET";
    input.path = path;
    input.headers = {{"Host", host}};
    input.region = ses->region;
    input.service = "ses";
    input.amz_date = http::amz_date(std::chrono::system_clock::now());
    request.headers = http::sign_v4(input, {ses->aws_access_key_id, ses->aws_secret_access_key, ses->aws_session_token})
                          .headers;
    http::HttpResponse response = co_await client.request(std::move(request));
    std::optional<bool> verified;
    if (response.status == 200) {
      boost::system::error_code ec;
      auto json = boost::json::parse(response.body, ec);
      if (!ec && json.is_object())
        if (const auto* v = json.as_object().if_contains("VerifiedForSendingStatus"); v && v->is_bool())
          verified = v->as_bool();
    }
    out.ok = verified.value_or(false);
    out.detail = verified ? "SES identity " + domain + (*verified ? " is verified for sending" : " is not verified")
                          : "SES identity " + domain + ": " + answer_text(response);
  }
  co_return out;
}

// ---- The test message ---------------------------------------------------------------------------------------

std::string test_message(const std::string& from, const std::string& to, const std::string& upstream) {
  std::random_device rd;
  std::string id = std::to_string(rd()) + "." + std::to_string(rd());
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char date[64];
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return "From: smarthost <" + from + ">\r\nTo: <" + to + ">\r\nSubject: smarthost test message via " + upstream +
         "\r\nDate: " + date + "\r\nMessage-ID: <" + id + "@" + hostname() +
         ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
         "This message was sent by `smarthost validate` to prove that upstream " + upstream +
         " delivers mail.\r\n";
}

// ---- Per upstream -------------------------------------------------------------------------------------------

// Probe once; the answer says both whether the upstream was reached (connected, with TLS where configured) and
// whether it took the credentials. A failure counts as "reached" when the server itself refused the credentials.
bool reached(const upstream::ProbeResult& probe) {
  if (probe.ok) return true;
  const std::string& d = probe.detail;
  // An HTTP status came back ("GET https://...: HTTP 401: ..."): the API answered.
  static const std::regex kHttpStatus("(^|[^A-Za-z])HTTP [1-5][0-9][0-9]");
  if (std::regex_search(d, kHttpStatus)) return true;
  // SMTP: the connection and TLS worked and AUTH was refused (535, 534, 538, 454 4.7.x, or the client's own
  // refusal to use the offered mechanisms or tokens).
  static const std::regex kAuthRefused("^(535|534|538|454 4\\.7)|AUTH|OAuth|credentials");
  return std::regex_search(d, kAuthRefused);
}

asio::awaitable<std::vector<CheckOutcome>> check_upstream(conf::Upstream u, const conf::Config* config,
                                                          ValidationPlan plan, std::filesystem::path scratch) {
  std::vector<CheckOutcome> out;
  auto executor = co_await asio::this_coro::executor;
  std::unique_ptr<upstream::Transport> transport;
  try {
    transport = upstream::make_transport(u, *config, executor);
  } catch (const std::exception& e) {
    out.push_back({u.name, "connection", false, std::string("cannot build the upstream: ") + e.what()});
    co_return out;
  }
  if (plan.credentials || plan.connection) {
    upstream::ProbeResult probe = co_await transport->probe(plan.timeout);
    bool connected = reached(probe);
    if (plan.connection)
      out.push_back({u.name, "connection", connected, connected ? (probe.ok ? probe.detail : "reached") : probe.detail});
    if (plan.credentials)
      out.push_back({u.name, "credentials", probe.ok,
                     probe.ok ? (u.provider == conf::ProviderKind::file ? "no credentials needed" : "accepted")
                              : (connected ? "refused: " : "not checked, upstream unreachable: ") + probe.detail});
  }
  if (plan.domain) {
    std::string domain = sending_domain(u);
    if (u.provider == conf::ProviderKind::file) {
      out.push_back({u.name, "verify_domain", true, "nothing to verify for the file provider"});
    } else if (domain.empty()) {
      out.push_back({u.name, "verify_domain", false, "no sending domain: set from_email (or domain for mailgun)"});
    } else {
      http::HttpClientSettings settings;
      settings.tls = http::HttpTlsSettings::from(config->security);
      http::HttpClient client(executor, settings);
      CheckOutcome state = co_await provider_domain_state(client, u, domain, plan.timeout);
      CheckOutcome dns = check_dns(u, domain);
      if (!state.detail.empty()) {
        state.ok = state.ok && dns.ok;
        state.detail += "; " + dns.detail;
        out.push_back(state);
      } else {
        out.push_back(dns);
      }
    }
  }
  if (plan.send_test) {
    std::string from = u.common.from_email.empty() ? "smarthost@" + hostname() : u.common.from_email;
    std::string content = test_message(from, plan.test_to, u.name);
    std::filesystem::path file = scratch / (u.name + ".eml");
    {
      std::ofstream f(file, std::ios::binary);
      f << content;
    }
    upstream::OutboundMessage message;
    message.queue_id = "validate-" + u.name;
    message.envelope.mail_from = from;
    message.envelope.recipients.push_back({plan.test_to, mail::RecipientState::pending, ""});
    message.envelope.received_at = std::chrono::system_clock::now();
    message.envelope.client_address = "127.0.0.1";
    message.content_path = file.string();
    message.size = content.size();
    upstream::DeliveryResult result = co_await transport->deliver(message);
    bool ok = result.outcome == upstream::Outcome::delivered;
    out.push_back({u.name, "send_test_email", ok,
                   (ok ? "sent to " + plan.test_to : "not sent to " + plan.test_to) +
                       (result.reply.empty() ? "" : ": " + result.reply) +
                       (result.remote_id.empty() ? "" : " (id " + result.remote_id + ")")});
    std::error_code ec;
    std::filesystem::remove(file, ec);
  }
  co_return out;
}

}  // namespace

bool print_checks(const std::vector<CheckOutcome>& results, std::ostream& out) {
  size_t name_width = 0, check_width = 0;
  for (const auto& r : results) {
    name_width = std::max(name_width, r.upstream.size());
    check_width = std::max(check_width, r.check.size());
  }
  bool all_ok = true;
  for (const auto& r : results) {
    all_ok = all_ok && r.ok;
    out << std::left << std::setw(static_cast<int>(name_width) + 2) << r.upstream
        << std::setw(static_cast<int>(check_width) + 2) << r.check << (r.ok ? "ok    " : "FAIL  ") << r.detail << "\n";
  }
  return all_ok;
}

ValidationPlan plan_from(const conf::Config& config) {
  ValidationPlan plan;
  plan.credentials = config.validation.validate_credentials;
  plan.connection = config.validation.test_connection;
  plan.domain = config.validation.verify_domain;
  plan.send_test = config.validation.send_test_email && !config.test_mode.test_email.empty();
  plan.test_to = config.test_mode.test_email;
  return plan;
}

bool any_check(const ValidationPlan& plan) {
  return plan.credentials || plan.connection || plan.domain || plan.send_test;
}

std::vector<CheckOutcome> validate_upstreams(const conf::Config& config, const ValidationPlan& plan) {
  std::vector<CheckOutcome> all;
  std::error_code ec;
  // The test message file goes into the spool when we may write there (a container's only writable path), else
  // into the temporary directory (`validate` run by an administrator).
  const std::string leaf = "validate-" + std::to_string(::getpid());
  auto scratch = std::filesystem::path(config.queue.dir) / leaf;
  std::filesystem::create_directories(scratch, ec);
  if (ec || ::access(scratch.c_str(), W_OK) != 0) {
    ec.clear();
    scratch = std::filesystem::temp_directory_path(ec) / ("smarthost-" + leaf);
    std::filesystem::create_directories(scratch, ec);
  }
  for (const auto& u : config.upstreams) {
    asio::io_context io;
    auto future = asio::co_spawn(io, check_upstream(u, &config, plan, scratch), asio::use_future);
    // Every check has its own deadline; this one only guards against a stuck loop.
    io.run_for(plan.timeout * 4 + std::chrono::seconds(5));
    if (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      all.push_back({u.name, "connection", false, "the checks did not finish in time"});
      continue;
    }
    try {
      auto results = future.get();
      all.insert(all.end(), results.begin(), results.end());
    } catch (const std::exception& e) {
      all.push_back({u.name, "connection", false, std::string("check failed: ") + e.what()});
    }
  }
  std::filesystem::remove_all(scratch, ec);
  return all;
}

}  // namespace smarthost::app
