// Classifies provider HTTP answers (Mailgun, SendGrid, Postmark, SES): one table per provider, as each provider's
// documentation describes its statuses and error bodies. No I/O and no JSON library: error bodies are scanned for
// the few markers that matter (Postmark's ErrorCode, SES exception names).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>

#include "upstream/outcome_classifier.h"

namespace smarthost::upstream {
namespace {

Classification delivered() { return {Outcome::delivered, false, false}; }
Classification permanent() { return {Outcome::permanent, false, false}; }
Classification refused() { return {Outcome::upstream_refused, false, false}; }
Classification temporary() { return {Outcome::temporary, false, false}; }
Classification unhealthy() { return {Outcome::temporary, true, false}; }
Classification throttled() { return {Outcome::temporary, false, true}; }

bool contains(std::string_view text, std::string_view needle) { return text.find(needle) != std::string_view::npos; }

bool contains_nocase(std::string_view text, std::string_view needle) {
  auto it = std::search(text.begin(), text.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != text.end();
}

// Statuses every provider shares: no answer at all, throttling, and the provider's own trouble.
std::optional<Classification> common(int status) {
  if (status == 0) return unhealthy();  // connection refused, dropped, timed out, TLS failure
  if (status == 429) return throttled();
  if (status == 408) return temporary();
  if (status >= 500) return unhealthy();
  return std::nullopt;
}

// Mailgun: 200 queued; 400 bad request; 401/403 credentials or domain not allowed; 404 unknown domain or URL
// (treated as temporary: often a configuration being fixed); 413 too large; 429 throttled; 5xx trouble.
Classification mailgun(int status, std::string_view) {
  if (status >= 200 && status < 300) return delivered();
  if (auto c = common(status)) return *c;
  if (status == 401 || status == 403) return refused();
  if (status == 404) return temporary();
  if (status >= 400) return permanent();
  return temporary();  // 1xx/3xx: nothing was accepted
}

// SendGrid v3: 202 accepted (200 in sandbox mode); 400/413 permanent; 401 bad key; 403 key without permission or
// unverified sender identity; 429 throttled; 5xx trouble.
Classification sendgrid(int status, std::string_view) {
  if (status >= 200 && status < 300) return delivered();
  if (auto c = common(status)) return *c;
  if (status == 401 || status == 403) return refused();
  if (status >= 400) return permanent();
  return temporary();
}

// The integer after "ErrorCode": in a Postmark answer, if any.
std::optional<long> postmark_error_code(std::string_view body) {
  auto at = body.find("\"ErrorCode\"");
  if (at == std::string_view::npos) return std::nullopt;
  at += 11;
  while (at < body.size() && (body[at] == ' ' || body[at] == ':' || body[at] == '\t' || body[at] == '\n')) ++at;
  long value = 0;
  auto [end, ec] = std::from_chars(body.data() + at, body.data() + body.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

// Postmark API error codes (https://postmarkapp.com/developer/api/overview#error-codes).
Classification postmark_code(long code) {
  switch (code) {
    case 0: return delivered();
    case 10:   // bad or missing server token
    case 400:  // sender signature not found
    case 401:  // sender signature not confirmed
    case 405:  // not allowed to send (out of credits)
    case 412:  // account pending approval: recipients restricted to the sender's domain
    case 413:  // the same restriction for a recipient outside that domain
      return refused();
    case 100: return unhealthy();  // maintenance
    default: return permanent();   // 300 invalid request, 406 inactive recipient, 411 attachment type, ...
  }
}

// Postmark: 200 with ErrorCode 0 sent (a batch element with another code is classified by that code);
// 401 bad token; 413 too large; 422 with ErrorCode; 429, 500, 503 temporary.
Classification postmark(int status, std::string_view body) {
  auto code = postmark_error_code(body);
  if (status == 200) return code ? postmark_code(*code) : delivered();
  if (auto c = common(status)) return *c;
  if (status == 401 || status == 403) return refused();
  if (status == 422 && code) return postmark_code(*code);
  if (status >= 400) return permanent();
  return temporary();
}

// SES v2: the exception name arrives in the x-amzn-ErrorType header or in the body ("__type", "code", or the
// message itself); the SES transport passes "<ErrorType header> <body>".
Classification ses(int status, std::string_view body) {
  if (status >= 200 && status < 300) return delivered();
  if (status == 0) return unhealthy();
  if (contains(body, "TooManyRequestsException") || contains(body, "ThrottlingException") ||
      contains(body, "LimitExceededException") || contains_nocase(body, "Maximum sending rate exceeded") ||
      contains_nocase(body, "Daily message quota exceeded") || contains(body, "Throttling"))
    return throttled();
  if (contains(body, "SendingPausedException")) return unhealthy();  // temporary; the breaker and alerts see it
  if (contains(body, "AccountSuspendedException") || contains(body, "MailFromDomainNotVerifiedException") ||
      contains(body, "NotFoundException") || contains(body, "InvalidSignatureException") ||
      contains(body, "SignatureDoesNotMatch") || contains(body, "UnrecognizedClientException") ||
      contains(body, "InvalidClientTokenId") || contains(body, "AccessDenied") ||
      contains(body, "ExpiredToken") || contains(body, "IncompleteSignature") ||
      contains_nocase(body, "not verified") || contains_nocase(body, "not authorized"))
    return refused();
  if (contains(body, "MessageRejected") || contains(body, "BadRequestException") ||
      contains(body, "InvalidParameterValue") || contains(body, "ValidationException"))
    return permanent();
  if (auto c = common(status)) return *c;
  if (status == 401 || status == 403) return refused();
  if (status >= 400) return permanent();
  return temporary();
}

}  // namespace

Classification classify_http(conf::ProviderKind provider, int status, std::string_view body) {
  switch (provider) {
    case conf::ProviderKind::mailgun: return mailgun(status, body);
    case conf::ProviderKind::sendgrid: return sendgrid(status, body);
    case conf::ProviderKind::postmark: return postmark(status, body);
    case conf::ProviderKind::ses: return ses(status, body);
    case conf::ProviderKind::smtp:
    case conf::ProviderKind::file: break;
  }
  // Not an HTTP provider: the generic reading of a status.
  if (status >= 200 && status < 300) return delivered();
  if (auto c = common(status)) return *c;
  if (status >= 400) return permanent();
  return temporary();
}

}  // namespace smarthost::upstream
