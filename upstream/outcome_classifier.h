// The one place that decides what an upstream's answer means: delivered, temporary, permanent, or refused by this
// upstream only; and whether it marks the upstream unhealthy or throttled. Tested as a table per provider.
// SMTP replies are classified in classify_smtp.cpp, provider HTTP answers in classify_http.cpp.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "conf/config.h"
#include "upstream/transport.h"

namespace smarthost::upstream {

struct Classification {
  Outcome outcome = Outcome::temporary;
  bool upstream_unhealthy = false;  // counts toward the circuit breaker
  bool throttled = false;           // lowers the adaptive rate
};

// Where in the SMTP exchange a reply came: it matters (a 5xx to AUTH is the upstream's refusal, a 5xx to RCPT is
// the recipient's).
enum class SmtpStage { connect, greeting, ehlo, starttls, auth, mail, rcpt, data, data_end, rset, quit };

// An SMTP reply (code, optional enhanced status like "5.7.8", and text).
Classification classify_smtp(SmtpStage stage, int code, std::string_view enhanced, std::string_view text);
// A dropped or timed-out connection, or a TLS failure, at the given stage.
Classification classify_smtp_io_failure(SmtpStage stage);

// A provider's HTTP answer: status (0 for a transport failure or timeout) and body.
Classification classify_http(conf::ProviderKind provider, int status, std::string_view body);

}  // namespace smarthost::upstream
