// Fleet mode, built from [caching] cache_provider = "redis": one Redis client and its status, a SharedUpstream
// per configured upstream (same order), the shared cache (dedup) and the shared OAuth token store. app/ builds
// it, hands the parts to the router, the queue sink and upstream/smtp, and starts it. No mail is kept in Redis:
// each instance keeps its own spool.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <mutex>
#include <vector>

#include "conf/config.h"
#include "policy/cache.h"
#include "policy/clock.h"
#include "policy/fleet_upstream.h"
#include "policy/redis/fleet_status.h"
#include "policy/redis/redis_client.h"

namespace smarthost::upstream::smtp {
class SharedTokenStore;
}

namespace smarthost::policy::redis {

class SharedUpstream;

class Fleet {
 public:
  // nullptr unless cache_provider is "redis". Throws std::runtime_error when redis_url cannot be used (start-up).
  static std::unique_ptr<Fleet> from_config(const conf::Config& config, boost::asio::any_io_executor executor,
                                            const Clock& clock = system_clock());
  ~Fleet();

  // Connects (in the background) and starts reading the fleet's view; mail flows on local limits until then.
  void start();
  void stop();

  // In config.upstreams order, for Router::from_config.
  std::vector<std::shared_ptr<FleetUpstream>> upstreams() const;
  // The same for another configuration (a reload): the shared state by upstream name, new names added (and
  // started when the fleet runs). Options are taken from the configuration the name was first seen in.
  std::vector<std::shared_ptr<FleetUpstream>> upstreams_for(const conf::Config& config);
  std::vector<std::shared_ptr<SharedUpstream>> shared_upstreams() const {
    std::lock_guard lock(mutex_);
    return upstreams_;
  }
  Cache& cache() { return *cache_; }
  std::shared_ptr<upstream::smtp::SharedTokenStore> token_store() const { return tokens_; }
  FleetStatus& status() { return *status_; }
  const RedisClient& client() const { return *client_; }

 private:
  Fleet() = default;
  std::shared_ptr<SharedUpstream> make_upstream(const conf::Upstream& u);

  boost::asio::any_io_executor executor_;
  const Clock* clock_ = nullptr;
  std::string key_prefix_;
  bool started_ = false;
  mutable std::mutex mutex_;  // guards upstreams_ and started_ (a reload may add upstreams)
  std::shared_ptr<RedisClient> client_;
  std::shared_ptr<FleetStatus> status_;
  std::vector<std::shared_ptr<SharedUpstream>> upstreams_;
  std::unique_ptr<Cache> cache_;
  std::shared_ptr<upstream::smtp::SharedTokenStore> tokens_;
};

}  // namespace smarthost::policy::redis
