// Classifies SMTP replies and I/O failures from an upstream relay: delivered, temporary, permanent, or refused by
// this upstream only; plus the unhealthy and throttled marks. No I/O; the SMTP transport calls it for every reply.
// Postfix's smtp_trouble.c is the model: the stage of the exchange decides whose fault a 5xx is.
#include <algorithm>
#include <array>
#include <cctype>
#include <span>
#include <string>

#include "upstream/outcome_classifier.h"

namespace smarthost::upstream {
namespace {

bool contains_nocase(std::string_view text, std::string_view needle) {
  auto it = std::search(text.begin(), text.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != text.end();
}

bool contains_any(std::string_view text, std::span<const std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(), [&](std::string_view n) { return contains_nocase(text, n); });
}

// Answers that mean "slow down": SES "454 Throttling failure", Gmail "421 4.7.28 ... rate limited", O365
// "4.7.500 Server busy", "452 4.3.1 too many messages", daily quotas.
constexpr std::array<std::string_view, 9> kThrottleMarkers{
    "throttl", "rate limit", "ratelimit", "rate exceeded", "sending rate", "too many", "quota", "server busy",
    "slow down"};

// Answers to MAIL or to the end of data that refuse the sender or the account, not the message: another upstream
// may well take it (SES "Email address is not verified", "sender not authorized", suspended accounts).
constexpr std::array<std::string_view, 8> kUpstreamRefusalMarkers{
    "not verified", "unverified", "not authorized to send", "not allowed to send", "sender not allowed",
    "account is", "suspended", "authentication required"};

bool is_relay_denied(std::string_view enhanced, std::string_view text) {
  return enhanced == "5.7.1" && contains_nocase(text, "relay");
}

}  // namespace

Classification classify_smtp(SmtpStage stage, int code, std::string_view enhanced, std::string_view text) {
  Classification c;
  // "452 4.5.3 Too many recipients" asks for a smaller transaction, not a slower rate.
  c.throttled = code >= 400 && code < 600 && enhanced != "4.5.3" && contains_any(text, kThrottleMarkers);

  if (code < 200 || code >= 600) {  // not an SMTP reply at all: the peer is broken
    c.outcome = Outcome::temporary;
    c.upstream_unhealthy = true;
    return c;
  }
  if (code < 400) {  // 2xx, and 3xx where the exchange expects one (354 to DATA, 334 to AUTH)
    c.outcome = Outcome::delivered;
    return c;
  }
  if (code == 421) {  // the service is closing the channel, at any stage
    c.outcome = Outcome::temporary;
    c.upstream_unhealthy = true;
    return c;
  }
  const bool transient = code < 500;
  if (code == 530 || code == 538) {  // authentication or encryption required: our set-up, not the message
    c.outcome = Outcome::upstream_refused;
    c.upstream_unhealthy = true;
    return c;
  }

  switch (stage) {
    case SmtpStage::connect:
    case SmtpStage::greeting:
    case SmtpStage::ehlo:
    case SmtpStage::starttls:
    case SmtpStage::auth:
      // Before any message is involved, every refusal is the upstream's (535 bad credentials, 554 no service).
      c.outcome = transient ? Outcome::temporary : Outcome::upstream_refused;
      c.upstream_unhealthy = true;
      return c;
    case SmtpStage::rset:
      // A failed RSET leaves the connection in an unknown state: drop it and retry the message elsewhere.
      c.outcome = Outcome::temporary;
      c.upstream_unhealthy = true;
      return c;
    case SmtpStage::quit:
      c.outcome = Outcome::delivered;  // nothing rides on QUIT
      return c;
    case SmtpStage::mail:
      if (transient) break;
      if (enhanced.starts_with("5.7.") || contains_any(text, kUpstreamRefusalMarkers)) {
        c.outcome = Outcome::upstream_refused;
        return c;
      }
      c.outcome = Outcome::permanent;
      return c;
    case SmtpStage::rcpt:
      if (transient) break;
      c.outcome = is_relay_denied(enhanced, text) ? Outcome::upstream_refused : Outcome::permanent;
      return c;
    case SmtpStage::data:
      if (transient) break;
      c.outcome = Outcome::permanent;
      return c;
    case SmtpStage::data_end:
      if (transient) break;
      c.outcome = contains_any(text, kUpstreamRefusalMarkers) ? Outcome::upstream_refused : Outcome::permanent;
      return c;
  }
  c.outcome = Outcome::temporary;
  return c;
}

Classification classify_smtp_io_failure(SmtpStage stage) {
  Classification c;
  c.outcome = Outcome::temporary;
  // After QUIT was sent, a dropped connection says nothing about the upstream's health.
  c.upstream_unhealthy = stage != SmtpStage::quit;
  return c;
}

}  // namespace smarthost::upstream
