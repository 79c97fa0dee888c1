// The list of secret values for log redaction. Which keys are secret is decided here and by the `secret` flag of
// the keys in params.cpp (which only affects printing); a test keeps the two in step.
#include "conf/secrets.h"

#include <algorithm>
#include <string_view>
#include <type_traits>
#include <variant>

namespace smarthost::conf {

namespace {

// The password of a URL like redis://user:password@host:6379 (or redis://password@host), else "".
std::string url_password(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  std::size_t authority = scheme_end + 3;
  auto at = url.substr(0, url.find('/', authority)).rfind('@');
  if (at == std::string_view::npos || at < authority) return {};
  std::string_view userinfo = url.substr(authority, at - authority);
  auto colon = userinfo.find(':');
  return std::string(colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1));
}

}  // namespace

std::vector<std::string> collect_secrets(const Config& config) {
  std::vector<std::string> out;
  auto add = [&out](const std::string& value) {
    if (!value.empty()) out.push_back(value);
  };
  for (const Upstream& u : config.upstreams) {
    std::visit(
        [&](const auto& c) {
          using C = std::decay_t<decltype(c)>;
          if constexpr (std::is_same_v<C, SmtpConfig>) add(c.password);
          if constexpr (std::is_same_v<C, MailgunConfig>) add(c.api_key);
          if constexpr (std::is_same_v<C, SendgridConfig>) add(c.api_key);
          if constexpr (std::is_same_v<C, PostmarkConfig>) add(c.server_token);
          if constexpr (std::is_same_v<C, SesConfig>) {
            add(c.aws_secret_access_key);
            add(c.aws_session_token);
          }
        },
        u.config);
  }
  add(config.authentication.client_secret);
  add(config.authentication.refresh_token);
  const std::string redis_password = url_password(config.caching.redis_url);
  if (!redis_password.empty()) {
    add(config.caching.redis_url);
    add(redis_password);
  }
  for (const NotificationChannel& ch : config.alerting.notification_channels) add(ch.url);
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace smarthost::conf
