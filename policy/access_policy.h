// Who may connect, send and relay: the SMTP server's policy hooks (smtpd::SessionPolicy).
// Blocked IPs lose; an empty allow list means loopback only; relaying needs an allowed client (and AUTH when
// require_auth) or an authenticated user. Cheap and synchronous, as the hooks must be.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "policy/cidr.h"
#include "smtpd/session.h"

namespace smarthost::policy {

// Checks credentials; implemented over the users file.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual bool check(std::string_view user, std::string_view password) const = 0;
  // The sender addresses a user is tied to; empty = any sender.
  virtual std::vector<std::string> senders_of(std::string_view user) const = 0;
};

struct AccessRules {
  std::vector<std::string> allowed_ips;  // CIDR; empty = loopback only
  std::vector<std::string> blocked_ips;  // CIDR; wins
  bool require_auth = false;
  std::vector<std::string> allowed_sender_domains;     // empty = any
  std::vector<std::string> allowed_recipient_domains;  // empty = any
  uint32_t max_auth_failures = 5;                      // per IP within auth_failure_window
  std::chrono::seconds auth_failure_window{600};
};

class AccessPolicy final : public smtpd::SessionPolicy {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  AccessPolicy(AccessRules rules, std::shared_ptr<const Authenticator> auth, Clock clock = {});

  smtpd::Verdict on_connect(const smtpd::ClientInfo& client) override;
  smtpd::Verdict on_mail(const smtpd::SessionView& session, std::string_view reverse_path) override;
  smtpd::Verdict on_rcpt(const smtpd::SessionView& session, std::string_view reverse_path,
                         std::string_view forward_path) override;
  smtpd::Verdict on_end_of_data(const smtpd::SessionView& session, const mail::Envelope& envelope) override;
  bool authenticate(const smtpd::ClientInfo& client, std::string_view user, std::string_view password) override;

  // True when the address uses a form that routes mail elsewhere: %-hack, bang path, quoted '@', source route.
  static bool has_routing_syntax(std::string_view address);

 private:
  bool client_allowed(const smtpd::ClientInfo& client) const;
  bool may_relay(const smtpd::SessionView& session) const;

  AccessRules rules_;
  CidrList allowed_, blocked_;
  std::shared_ptr<const Authenticator> auth_;
  Clock clock_;
  std::mutex mutex_;  // guards failures_
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> failures_;
};

}  // namespace smarthost::policy
