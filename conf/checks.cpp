// Cross-key rules of the configuration, each reported at the key it concerns.
// Single-key bounds and syntax are not here: they are declared with the key in params.cpp.
#include "conf/checks.h"

#include <string>

namespace smarthost::conf {

namespace {

void check_security(const Config& c, Walk& w) {
  const SecurityConfig& s = c.security;
  if (s.certificate_path.empty() != s.private_key_path.empty()) {
    const char* given = s.certificate_path.empty() ? "private_key_path" : "certificate_path";
    const char* missing = s.certificate_path.empty() ? "certificate_path" : "private_key_path";
    w.error(w.where(std::string("security.") + given),
            std::string("'") + given + "' in [security] needs '" + missing + "' as well");
  }
  if (!c.server.listen_tls.empty() && s.certificate_path.empty()) {
    w.error(w.where("server.listen_tls"),
            "'listen_tls' in [server] needs a certificate: set 'certificate_path' and 'private_key_path' in [security]");
  }
  if (c.server.require_tls && s.certificate_path.empty()) {
    w.error(w.where("server.require_tls"),
            "'require_tls' in [server] needs a certificate: set 'certificate_path' and 'private_key_path' in "
            "[security]");
  }
}

void check_server(const Config& c, Walk& w) {
  if (c.server.require_auth && c.server.users_file.empty()) {
    w.error(w.where("server.require_auth"), "'require_auth' in [server] needs 'users_file' (lines user:crypt-hash)");
  }
  if (c.server.listen.empty() && c.server.listen_tls.empty()) {
    w.error(w.where("server.listen"), "'listen' in [server] is empty and so is 'listen_tls': nothing would accept mail");
  }
  if (c.queue.dir.empty()) w.error(w.where("queue.dir"), "'dir' in [queue] must not be empty");
  if (c.server.max_connections_per_ip > c.server.max_connections) {
    w.error(w.where("server.max_connections_per_ip"),
            "'max_connections_per_ip' in [server] (" + std::to_string(c.server.max_connections_per_ip) +
                ") must not exceed 'max_connections' (" + std::to_string(c.server.max_connections) + ")");
  }
}

void check_authentication(const Config& c, Walk& w) {
  const AuthenticationConfig& a = c.authentication;
  if (a.type == "oauth2") {
    for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"client_id", &a.client_id},
                                     {"refresh_token", &a.refresh_token},
                                     {"token_url", &a.token_url}}) {
      if (value->empty()) {
        w.error(w.where("authentication.type"),
                std::string("missing '") + key + "' in [authentication]: type \"oauth2\" needs it");
      }
    }
  } else if (!a.client_id.empty() || !a.client_secret.empty() || !a.refresh_token.empty() || !a.token_url.empty()) {
    w.error(w.where("authentication"), "[authentication] has credentials but no 'type'; set type = \"oauth2\"");
  }
}

void check_caching(const Config& c, Walk& w) {
  if (c.caching.cache_provider == CacheProvider::redis && c.caching.redis_url.empty()) {
    w.error(w.where("caching.cache_provider"),
            "'cache_provider' in [caching] is \"redis\" but 'redis_url' is not set (e.g. redis://localhost:6379/0)");
  }
}

void check_pools(const Config& c, Walk& w) {
  const ConnectionPoolConfig& p = c.performance.connection_pool;
  if (p.max_idle_connections > p.max_connections) {
    w.error(w.where("performance.connection_pool.max_idle_connections"),
            "'max_idle_connections' in [performance.connection_pool] (" + std::to_string(p.max_idle_connections) +
                ") must not exceed 'max_connections' (" + std::to_string(p.max_connections) + ")");
  }
  const HealthCheckConfig& h = c.monitoring.health_check;
  if (h.timeout > h.interval) {
    w.error(w.where("monitoring.health_check.timeout"),
            "'timeout' in [monitoring.health_check] must not exceed 'interval'");
  }
}

void check_alerting(const Config& c, Walk& w) {
  const auto& channels = c.alerting.notification_channels;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const NotificationChannel& ch = channels[i];
    const std::string path = "alerting.notification_channels[" + std::to_string(i) + "]";
    const std::string where = "[" + path + "]";
    if (ch.type.empty()) {
      w.error(w.where(path), "missing 'type' in " + where + " (\"email\" or \"webhook\")");
    } else if (ch.type == "email") {
      if (ch.recipients.empty()) w.error(w.where(path + ".type"), "an email channel needs 'recipients' in " + where);
      if (!ch.url.empty()) w.error(w.where(path + ".url"), "'url' in " + where + " is for webhook channels");
    } else {
      if (ch.url.empty()) w.error(w.where(path + ".type"), "a webhook channel needs 'url' in " + where);
      if (!ch.recipients.empty()) {
        w.error(w.where(path + ".recipients"), "'recipients' in " + where + " is for email channels");
      }
    }
  }
}

}  // namespace

void check_config(const Config& config, Walk& w) {
  check_security(config, w);
  check_server(config, w);
  check_authentication(config, w);
  check_caching(config, w);
  check_pools(config, w);
  check_alerting(config, w);
}

}  // namespace smarthost::conf
