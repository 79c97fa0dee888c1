// One upstream's fleet state over Redis (policy::FleetUpstream): send slots leased from a GCRA bucket shared by
// every instance, in small batches; throttling and Retry-After published so the whole fleet slows down or
// pauses; circuit changes published so the fleet agrees an upstream is down. Everything runs on its own strand;
// the router's calls return at once or within the Redis call timeout.
//
// The bound: leases follow GCRA exactly (burst + rate * t in any span t), and an instance holds at most one
// batch of leased slots at a time, so the fleet sends at most burst + rate * t + (instances x batch) in any
// span t: never more than one batch per instance over the limit. batch() is small (a quarter second of the
// rate, at most kMaxBatch), and leases grow to it only while the instance keeps using them up (slow start),
// so a quiet instance takes one slot at a time and wastes none of the fleet's budget.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "conf/config.h"
#include "policy/clock.h"
#include "policy/fleet_upstream.h"
#include "policy/redis/redis_client.h"

namespace smarthost::policy::redis {

struct SharedUpstreamSettings {
  std::string name;                        // the upstream's name, for logs
  std::string key;                         // its Redis hash: cache_key_prefix + "fleet:" + name
  conf::UpstreamOptions options;           // the fleet's limits (not the fallback ones)
  std::chrono::seconds key_ttl{86400};     // the hash goes after this long unused
  std::chrono::milliseconds lease_span{250};     // a batch is about this much of the rate
  std::chrono::milliseconds slot_lifetime{1000};  // leased slots not handed out this long after due are dropped
  std::chrono::milliseconds refresh{1000};  // how often the fleet's view (pause, circuit) is read
};

class SharedUpstream final : public FleetUpstream, public std::enable_shared_from_this<SharedUpstream> {
 public:
  static constexpr size_t kMaxBatch = 16;
  // Background writes (throttle, raise, circuit) waiting at once; more are dropped (the fleet learns later).
  static constexpr size_t kMaxPublishing = 64;

  static std::shared_ptr<SharedUpstream> create(boost::asio::any_io_executor executor,
                                                std::shared_ptr<RedisClient> client, SharedUpstreamSettings settings,
                                                const Clock& clock = system_clock());

  // Starts the periodic read of the fleet's view; stop() ends it.
  void start();
  void stop();

  bool shared() const override;
  boost::asio::awaitable<FleetSlot> acquire(std::chrono::nanoseconds max_wait) override;
  void on_result(const upstream::DeliveryResult& result, SteadyTime now, WallTime wall_now) override;
  void on_circuit(BreakerState state, SteadyTime reopens_at) override;
  FleetView view() const override;

  const std::string& name() const { return settings_.name; }
  // The most slots one lease takes (the per-instance slack of the bound above); 0 when unlimited.
  size_t batch() const { return batch_; }
  bool limited() const { return rate_ > 0; }
  double rate() const { return rate_; }    // the configured fleet rate per second
  double burst() const { return burst_; }
  uint64_t leases() const { return leases_.load(); }  // lease calls that reached Redis

 private:
  SharedUpstream(boost::asio::any_io_executor executor, std::shared_ptr<RedisClient> client,
                 SharedUpstreamSettings settings, const Clock& clock);
  struct Inner;
  static boost::asio::awaitable<FleetSlot> acquire_on_strand(std::shared_ptr<SharedUpstream> self,
                                                             std::chrono::nanoseconds max_wait);
  static boost::asio::awaitable<void> lease(std::shared_ptr<SharedUpstream> self, std::chrono::nanoseconds max_wait);
  static boost::asio::awaitable<void> refresh_loop(std::shared_ptr<SharedUpstream> self);
  static boost::asio::awaitable<void> publish(std::shared_ptr<SharedUpstream> self, const RedisScript* script,
                                              std::vector<std::string> args);
  void spawn_publish(const RedisScript& script, std::vector<std::string> args);
  void note_view(int64_t paused_offset_us, int64_t open_offset_us, SteadyTime now);

  std::shared_ptr<RedisClient> client_;
  SharedUpstreamSettings settings_;
  const Clock& clock_;
  double rate_ = 0;   // per second; 0 = unlimited
  double burst_ = 1;
  size_t batch_ = 0;
  double floor_rate_ = 0, ceiling_rate_ = 0;
  std::unique_ptr<Inner> inner_;
  mutable std::mutex view_mutex_;
  FleetView view_;
  std::atomic<uint32_t> successes_{0};
  std::atomic<size_t> publishing_{0};
  std::atomic<uint64_t> leases_{0};
};

}  // namespace smarthost::policy::redis
