// The checks of `smarthost validate` and of [validation] at start-up, per upstream: the credentials and the
// connection (one probe: SMTP connect, TLS, AUTH; or one authenticated API read), a test message, and the sending
// domain (Mailgun domain state, SES identity status, SPF and DKIM TXT records through DNS). It changes nothing.
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>
#include <vector>

#include "conf/config.h"

namespace smarthost::app {

struct ValidationPlan {
  bool credentials = true;
  bool connection = true;
  bool send_test = false;  // needs test_to
  bool domain = false;
  std::string test_to;
  std::chrono::milliseconds timeout{15000};  // per check
};

struct CheckOutcome {
  std::string upstream;
  std::string check;  // "credentials", "connection", "send_test_email", "verify_domain"
  bool ok = false;
  std::string detail;  // what was proven, or why it failed
};

// [validation] as a plan: the checks it switches on; send_test_email goes to test_mode.test_email.
ValidationPlan plan_from(const conf::Config& config);
bool any_check(const ValidationPlan& plan);

// One aligned line per check ("mailgun0  credentials  ok    accepted"); true when every check passed.
bool print_checks(const std::vector<CheckOutcome>& results, std::ostream& out);

// Runs the plan against every upstream of `config`, one after the other. Never throws for remote failures.
std::vector<CheckOutcome> validate_upstreams(const conf::Config& config, const ValidationPlan& plan);

}  // namespace smarthost::app
