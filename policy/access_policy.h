// Who may connect, send and relay, and how much: the SMTP server's policy hooks (smtpd::SessionPolicy).
// Blocked IPs lose; an empty allow list means loopback only; relaying needs an allowed client (and AUTH when
// require_auth) or an authenticated user; per-client message and recipient rates; 451 4.7.0 while the upstreams
// are saturated. Cheap and synchronous, as the hooks must be (AUTH hashing aside, which a short cache softens).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "policy/cidr.h"
#include "policy/client_limits.h"
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
  ClientLimitSettings limits;                          // messages / recipients per minute per IP and per user
  uint32_t max_connections_per_user = 0;               // concurrent authenticated sessions; 0 = no limit
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
  void on_disconnect(const smtpd::ClientInfo& client) override;
  // Authenticated sessions open for `user` now.
  uint32_t sessions_of(std::string_view user) const;

  // True when the address uses a form that routes mail elsewhere: %-hack, bang path, quoted '@', source route.
  static bool has_routing_syntax(std::string_view address);

  // Asked at RCPT and at end of data: true while the upstreams cannot take more within their timeout
  // (Router::saturated over the queue's size). New mail then gets "451 4.7.0". Must be cheap and thread-safe.
  void set_saturation_check(std::function<bool()> saturated);

  // A successful AUTH is remembered this long as (user, SHA-256 of the password), so a client that logs in on
  // every connection does not pay the slow hash each time. Failures are never cached.
  static constexpr std::chrono::seconds kAuthCacheTtl{60};
  static constexpr size_t kAuthCacheMax = 10'000;
  static constexpr size_t kFailureIpsMax = 100'000;

 private:
  bool client_allowed(const smtpd::ClientInfo& client) const;
  bool may_relay(const smtpd::SessionView& session) const;
  bool upstreams_saturated();

  AccessRules rules_;
  CidrList allowed_, blocked_;
  std::shared_ptr<const Authenticator> auth_;
  Clock clock_;
  std::mutex mutex_;  // guards failures_, auth_cache_, saturated_
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> failures_;
  std::map<std::string, std::chrono::steady_clock::time_point> auth_cache_;  // key -> expiry
  std::function<bool()> saturated_;
  ClientLimits limits_;
  // Which user each authenticated session belongs to, and how many sessions each user has open.
  void bind_session(uint64_t session_id, std::string_view user);
  bool check_credentials(const smtpd::ClientInfo& client, std::string_view user, std::string_view password);
  mutable std::mutex sessions_mutex_;
  std::unordered_map<uint64_t, std::string> session_users_;
  std::unordered_map<std::string, uint32_t> user_sessions_;
};

}  // namespace smarthost::policy
