// Fleet assembly: the URL and TLS settings for the client, one hash key per upstream under cache_key_prefix,
// and the status fed by the client's connection changes.
#include "policy/redis/fleet.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "policy/redis/redis_cache.h"
#include "policy/redis/shared_token_store.h"
#include "policy/redis/shared_upstream.h"
#include "upstream/smtp/tls_context.h"

namespace smarthost::policy::redis {

std::unique_ptr<Fleet> Fleet::from_config(const conf::Config& config, boost::asio::any_io_executor executor,
                                          const Clock& clock) {
  const auto& caching = config.caching;
  if (caching.cache_provider != conf::CacheProvider::redis) return nullptr;
  std::string error;
  auto endpoint = parse_redis_url(caching.redis_url, error);
  if (!endpoint) throw std::runtime_error("[caching] redis_url: " + error);

  std::unique_ptr<Fleet> fleet(new Fleet());
  fleet->executor_ = executor;
  fleet->clock_ = &clock;
  fleet->key_prefix_ = caching.cache_key_prefix;
  RedisClientSettings settings;
  settings.endpoint = *endpoint;
  settings.timeout = caching.redis_timeout;
  if (endpoint->kind == RedisEndpoint::Kind::tls) {
    settings.tls = upstream::smtp::make_client_tls_context(config.security);
    settings.verify_certificates = config.security.verify_certificates;
  }
  fleet->client_ = RedisClient::create(executor, settings);
  fleet->status_ = std::make_shared<FleetStatus>(endpoint->describe(), caching.redis_fallback_fraction);
  auto status = fleet->status_;
  fleet->client_->on_state([status](bool up, const std::string& why) { status->on_connection(up, why); });

  for (const auto& u : config.upstreams) fleet->upstreams_.push_back(fleet->make_upstream(u));
  fleet->cache_ = std::make_unique<RedisCache>(fleet->client_);
  fleet->tokens_ = std::make_shared<SharedTokenCache>(*fleet->cache_, caching.cache_key_prefix);
  return fleet;
}

Fleet::~Fleet() = default;

std::shared_ptr<SharedUpstream> Fleet::make_upstream(const conf::Upstream& u) {
  SharedUpstreamSettings s;
  s.name = u.name;
  s.key = key_prefix_ + "fleet:" + u.name;
  s.options = u.options;
  auto shared = SharedUpstream::create(executor_, client_, std::move(s), *clock_);
  if (shared->limited()) {
    spdlog::debug("fleet: upstream={} shares {:.4g}/s (burst {:.0f}) in leases of up to {} slots", u.name,
                  shared->rate(), shared->burst(), shared->batch());
  }
  return shared;
}

void Fleet::start() {
  std::lock_guard lock(mutex_);
  started_ = true;
  client_->start();
  for (auto& u : upstreams_) u->start();
}

void Fleet::stop() {
  std::lock_guard lock(mutex_);
  for (auto& u : upstreams_) u->stop();
  client_->stop();
}

std::vector<std::shared_ptr<FleetUpstream>> Fleet::upstreams() const {
  std::lock_guard lock(mutex_);
  return {upstreams_.begin(), upstreams_.end()};
}

std::vector<std::shared_ptr<FleetUpstream>> Fleet::upstreams_for(const conf::Config& config) {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<FleetUpstream>> out;
  for (const auto& u : config.upstreams) {
    std::shared_ptr<SharedUpstream> found;
    for (const auto& s : upstreams_)
      if (s->name() == u.name) found = s;
    if (!found) {
      found = make_upstream(u);
      upstreams_.push_back(found);
      if (started_) found->start();
    }
    out.push_back(found);
  }
  return out;
}

}  // namespace smarthost::policy::redis
