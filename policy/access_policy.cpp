// Access decisions for SMTP sessions, the per-client rates, the per-IP AUTH failure limit and the AUTH cache.
#include "policy/access_policy.h"

#include <openssl/evp.h>
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

// "user" NUL sha256(password): what the AUTH cache keeps instead of the password.
std::string auth_cache_key(std::string_view user, std::string_view password) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(password.data(), password.size(), digest, &length, EVP_sha256(), nullptr);
  std::string key(user);
  key.push_back('\0');
  key.append(reinterpret_cast<const char*>(digest), length);
  return key;
}

}  // namespace

AccessPolicy::AccessPolicy(AccessRules rules, std::shared_ptr<const Authenticator> auth, Clock clock)
    : rules_(std::move(rules)),
      allowed_(rules_.allowed_ips),
      blocked_(rules_.blocked_ips),
      auth_(std::move(auth)),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })),
      limits_(rules_.limits) {}

void AccessPolicy::set_saturation_check(std::function<bool()> saturated) {
  std::lock_guard lock(mutex_);
  saturated_ = std::move(saturated);
}

bool AccessPolicy::upstreams_saturated() {
  std::function<bool()> check;
  {
    std::lock_guard lock(mutex_);
    check = saturated_;
  }
  return check && check();
}

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
  if (rules_.max_connections_per_user > 0 && !s.auth_user.empty() &&
      sessions_of(s.auth_user) > rules_.max_connections_per_user) {
    spdlog::warn("client={} user={} refused: more than {} sessions open for the user", s.client.address, s.auth_user,
                 rules_.max_connections_per_user);
    return smtpd::Verdict::deny("421 4.7.0 Error: too many connections for this user", true);
  }
  if (!limits_.take(ClientLimits::Kind::message, s.client.address, s.auth_user, clock_())) {
    spdlog::warn("client={} user={} MAIL refused: over its messages-per-minute limit", s.client.address, s.auth_user);
    return smtpd::Verdict::deny("450 4.7.1 Error: too many messages, slow down");
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
  const std::string rcpt(forward_path);
  if (!may_relay(s)) {
    if (has_routing_syntax(forward_path)) {
      spdlog::warn("client={} rcpt=<{}> relay denied: routing syntax (open-relay probe)", s.client.address, rcpt);
    } else {
      spdlog::warn("client={} rcpt=<{}> relay denied", s.client.address, rcpt);
    }
    return smtpd::Verdict::deny("554 5.7.1 <" + rcpt + ">: Relay access denied");
  }
  if (!rules_.allowed_recipient_domains.empty()) {
    // A %-hack, bang path or quoted '@' would carry the mail past the domain check to another domain.
    if (has_routing_syntax(forward_path)) {
      spdlog::warn("client={} rcpt=<{}> refused: routing syntax with allowed_recipient_domains", s.client.address, rcpt);
      return smtpd::Verdict::deny("554 5.7.1 <" + rcpt + ">: Routing syntax in the address is not allowed");
    }
    if (!domain_listed(rules_.allowed_recipient_domains, forward_path))
      return smtpd::Verdict::deny("554 5.7.1 <" + rcpt + ">: Recipient domain not allowed");
  }
  if (upstreams_saturated()) {
    spdlog::warn("client={} rcpt=<{}> deferred: upstreams over their sending rate", s.client.address, rcpt);
    return smtpd::Verdict::deny("451 4.7.0 <" + rcpt + ">: Upstream sending rate exceeded, try again later");
  }
  if (!limits_.take(ClientLimits::Kind::recipient, s.client.address, s.auth_user, clock_())) {
    spdlog::warn("client={} user={} rcpt=<{}> deferred: over its recipients-per-minute limit", s.client.address,
                 s.auth_user, rcpt);
    return smtpd::Verdict::deny("450 4.7.1 <" + rcpt + ">: Too many recipients, slow down");
  }
  return smtpd::Verdict::allow();
}

smtpd::Verdict AccessPolicy::on_end_of_data(const smtpd::SessionView& s, const mail::Envelope&) {
  if (upstreams_saturated()) {
    spdlog::warn("client={} message deferred at end of data: upstreams over their sending rate", s.client.address);
    return smtpd::Verdict::deny("451 4.7.0 Upstream sending rate exceeded, try again later");
  }
  return smtpd::Verdict::allow();
}

void AccessPolicy::bind_session(uint64_t session_id, std::string_view user) {
  std::lock_guard lock(sessions_mutex_);
  auto [it, inserted] = session_users_.try_emplace(session_id, user);
  if (!inserted) {
    if (it->second == user) return;
    if (--user_sessions_[it->second] == 0) user_sessions_.erase(it->second);
    it->second = std::string(user);
  }
  ++user_sessions_[std::string(user)];
}

void AccessPolicy::on_disconnect(const smtpd::ClientInfo& client) {
  std::lock_guard lock(sessions_mutex_);
  auto it = session_users_.find(client.session_id);
  if (it == session_users_.end()) return;
  if (--user_sessions_[it->second] == 0) user_sessions_.erase(it->second);
  session_users_.erase(it);
}

uint32_t AccessPolicy::sessions_of(std::string_view user) const {
  std::lock_guard lock(sessions_mutex_);
  auto it = user_sessions_.find(std::string(user));
  return it == user_sessions_.end() ? 0 : it->second;
}

bool AccessPolicy::authenticate(const smtpd::ClientInfo& client, std::string_view user, std::string_view password) {
  bool ok = check_credentials(client, user, password);
  if (ok && rules_.max_connections_per_user > 0) bind_session(client.session_id, user);
  return ok;
}

bool AccessPolicy::check_credentials(const smtpd::ClientInfo& client, std::string_view user,
                                     std::string_view password) {
  auto now = clock_();
  const std::string key = auth_cache_key(user, password);
  {
    std::lock_guard lock(mutex_);
    auto found = failures_.find(client.address);
    if (found != failures_.end()) {
      auto& times = found->second;
      std::erase_if(times, [&](auto t) { return now - t > rules_.auth_failure_window; });
      if (times.size() >= rules_.max_auth_failures) {
        spdlog::warn("client={} AUTH refused: too many failures", client.address);
        return false;
      }
      if (times.empty()) failures_.erase(found);
    }
    auto cached = auth_cache_.find(key);
    if (cached != auth_cache_.end()) {
      if (cached->second > now) return true;
      auth_cache_.erase(cached);
    }
  }
  // The slow part (yescrypt, tens of milliseconds) runs without the lock.
  bool ok = auth_ && auth_->check(user, password);
  std::lock_guard lock(mutex_);
  if (ok) {
    if (auth_cache_.size() >= kAuthCacheMax) {
      std::erase_if(auth_cache_, [&](const auto& kv) { return kv.second <= now; });
      if (auth_cache_.size() >= kAuthCacheMax) auth_cache_.clear();
    }
    auth_cache_[key] = now + kAuthCacheTtl;
  } else {
    if (failures_.size() >= kFailureIpsMax) {
      for (auto it = failures_.begin(); it != failures_.end();) {
        std::erase_if(it->second, [&](auto t) { return now - t > rules_.auth_failure_window; });
        it = it->second.empty() ? failures_.erase(it) : std::next(it);
      }
    }
    if (failures_.size() < kFailureIpsMax || failures_.count(client.address)) failures_[client.address].push_back(now);
    spdlog::warn("client={} AUTH failed", client.address);
  }
  return ok;
}

}  // namespace smarthost::policy
