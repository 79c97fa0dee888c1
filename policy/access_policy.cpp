// Access decisions for SMTP sessions, and the per-IP AUTH failure limit.
#include "policy/access_policy.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "mail/address.h"

namespace smarthost::policy {
namespace {

bool domain_listed(const std::vector<std::string>& domains, std::string_view address) {
  std::string domain = mail::domain_of(address);
  for (const auto& d : domains) {
    std::string want = d;
    std::transform(want.begin(), want.end(), want.begin(), [](unsigned char c) { return std::tolower(c); });
    if (domain == want) return true;
    // "*.example.com" or ".example.com" admit subdomains.
    std::string_view suffix = want;
    if (suffix.starts_with("*")) suffix.remove_prefix(1);
    if (suffix.starts_with(".") && domain.size() > suffix.size() && domain.ends_with(suffix)) return true;
  }
  return false;
}

}  // namespace

AccessPolicy::AccessPolicy(AccessRules rules, std::shared_ptr<const Authenticator> auth, Clock clock)
    : rules_(std::move(rules)),
      allowed_(rules_.allowed_ips),
      blocked_(rules_.blocked_ips),
      auth_(std::move(auth)),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })) {}

bool AccessPolicy::client_allowed(const smtpd::ClientInfo& client) const {
  if (client.address == "unix") return true;  // protected by file permissions
  if (blocked_.contains(client.address)) return false;
  if (allowed_.empty()) return client.loopback;
  return allowed_.contains(client.address);
}

bool AccessPolicy::may_relay(const smtpd::SessionView& s) const {
  if (!s.auth_user.empty()) return true;
  return !rules_.require_auth && client_allowed(s.client);
}

smtpd::Verdict AccessPolicy::on_connect(const smtpd::ClientInfo& client) {
  if (client_allowed(client)) return smtpd::Verdict::allow();
  spdlog::warn("client={} refused at connect: not in allowed_ips or in blocked_ips", client.address);
  return smtpd::Verdict::deny("554 5.7.1 Access denied", true);
}

smtpd::Verdict AccessPolicy::on_mail(const smtpd::SessionView& s, std::string_view reverse_path) {
  if (!rules_.allowed_sender_domains.empty() && !reverse_path.empty() &&
      !domain_listed(rules_.allowed_sender_domains, reverse_path)) {
    return smtpd::Verdict::deny("553 5.7.1 <" + std::string(reverse_path) + ">: Sender domain not allowed");
  }
  if (!s.auth_user.empty() && auth_) {
    auto senders = auth_->senders_of(s.auth_user);
    if (!senders.empty()) {
      std::string from(reverse_path);
      std::transform(from.begin(), from.end(), from.begin(), [](unsigned char c) { return std::tolower(c); });
      bool ok = std::any_of(senders.begin(), senders.end(), [&](const std::string& a) {
        std::string want = a;
        std::transform(want.begin(), want.end(), want.begin(), [](unsigned char c) { return std::tolower(c); });
        return want == from || (want.starts_with("@") && from.ends_with(want));
      });
      if (!ok) {
        return smtpd::Verdict::deny("553 5.7.1 <" + std::string(reverse_path) + ">: Sender address not owned by user " +
                                    std::string(s.auth_user));
      }
    }
  }
  return smtpd::Verdict::allow();
}

bool AccessPolicy::has_routing_syntax(std::string_view address) {
  auto at = address.rfind('@');
  std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
  if (local.find('%') != std::string_view::npos) return true;   // user%other@relay
  if (local.find('!') != std::string_view::npos) return true;   // other!user@relay
  if (local.find('@') != std::string_view::npos) return true;   // "user@other"@relay
  if (address.starts_with("@")) return true;                     // @relay:user@other
  return false;
}

smtpd::Verdict AccessPolicy::on_rcpt(const smtpd::SessionView& s, std::string_view, std::string_view forward_path) {
  if (!may_relay(s)) {
    spdlog::warn("client={} rcpt=<{}> relay denied", s.client.address, forward_path);
    return smtpd::Verdict::deny("554 5.7.1 <" + std::string(forward_path) + ">: Relay access denied");
  }
  if (!rules_.allowed_recipient_domains.empty() && !domain_listed(rules_.allowed_recipient_domains, forward_path)) {
    return smtpd::Verdict::deny("554 5.7.1 <" + std::string(forward_path) + ">: Recipient domain not allowed");
  }
  return smtpd::Verdict::allow();
}

smtpd::Verdict AccessPolicy::on_end_of_data(const smtpd::SessionView&, const mail::Envelope&) {
  return smtpd::Verdict::allow();
}

bool AccessPolicy::authenticate(const smtpd::ClientInfo& client, std::string_view user, std::string_view password) {
  auto now = clock_();
  {
    std::lock_guard lock(mutex_);
    auto& times = failures_[client.address];
    std::erase_if(times, [&](auto t) { return now - t > rules_.auth_failure_window; });
    if (times.size() >= rules_.max_auth_failures) {
      spdlog::warn("client={} AUTH refused: too many failures", client.address);
      return false;
    }
    if (times.empty()) failures_.erase(client.address);
  }
  bool ok = auth_ && auth_->check(user, password);
  if (!ok) {
    std::lock_guard lock(mutex_);
    failures_[client.address].push_back(now);
    spdlog::warn("client={} AUTH failed", client.address);
  }
  return ok;
}

}  // namespace smarthost::policy
