// Leasing on the upstream's strand: one lease call at a time, sized to the deliveries waiting (at most batch());
// callers that arrive meanwhile wait for it (bounded by the Redis timeout), then take slots from the pool in
// order. Throttling, raises and circuit changes go out as background script calls, capped in number.
#include "policy/redis/shared_upstream.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>
#include <exception>
#include <vector>

#include "policy/redis/fleet_scripts.h"
#include "policy/send_limiter.h"

namespace smarthost::policy::redis {
namespace {

namespace asio = boost::asio;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string number(double value) { return fmt::format("{:.9g}", value); }

void log_escaped(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("fleet: background Redis call ended by an exception: {}", ex.what());
  }
}

}  // namespace

struct SharedUpstream::Inner {
  explicit Inner(asio::any_io_executor ex) : strand(asio::make_strand(ex)), refresh_timer(strand) {}
  asio::strand<asio::any_io_executor> strand;
  std::deque<SteadyTime> slots;  // leased, not handed out yet, in due order
  bool leasing = false;
  bool last_lease_ok = true;
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;  // callers waiting for the lease in flight
  size_t demand = 0;            // callers inside acquire() now
  size_t lease_size = 1;        // grows while leased slots all get used, shrinks when some expire unused
  bool expired_since_lease = false;
  SteadyTime last_lease{};
  SteadyTime refused_until{};   // the last lease found no slot before then
  asio::steady_timer refresh_timer;
  bool stopped = false;
};

std::shared_ptr<SharedUpstream> SharedUpstream::create(asio::any_io_executor executor,
                                                       std::shared_ptr<RedisClient> client,
                                                       SharedUpstreamSettings settings, const Clock& clock) {
  return std::shared_ptr<SharedUpstream>(
      new SharedUpstream(std::move(executor), std::move(client), std::move(settings), clock));
}

SharedUpstream::SharedUpstream(asio::any_io_executor executor, std::shared_ptr<RedisClient> client,
                               SharedUpstreamSettings settings, const Clock& clock)
    : client_(std::move(client)), settings_(std::move(settings)), clock_(clock),
      inner_(std::make_unique<Inner>(std::move(executor))) {
  // The same rate and burst the local limiter would use, so shared and local modes mean the same thing.
  const SendLimiter reference(settings_.options, clock_.now());
  const LimiterSnapshot snap = reference.snapshot(clock_.now());
  rate_ = snap.limited ? snap.rate_per_second : 0;
  burst_ = std::max(1.0, snap.burst);
  if (rate_ > 0) {
    const double span = std::chrono::duration<double>(settings_.lease_span).count();
    batch_ = static_cast<size_t>(std::clamp(std::floor(rate_ * span), 1.0, std::min<double>(kMaxBatch, burst_)));
  }
  const auto& o = settings_.options;
  const double window = std::max<double>(1.0, static_cast<double>(o.rate_limit_window.count()));
  floor_rate_ = o.min_rate_limit ? *o.min_rate_limit / window : 1.0 / window;
  ceiling_rate_ = o.max_rate_limit ? *o.max_rate_limit / window : 0.0;
}

bool SharedUpstream::shared() const { return client_->connected(); }

FleetView SharedUpstream::view() const {
  std::lock_guard lock(view_mutex_);
  return view_;
}

void SharedUpstream::note_view(int64_t paused_offset_us, int64_t open_offset_us, SteadyTime now) {
  std::lock_guard lock(view_mutex_);
  view_.paused_until = paused_offset_us > 0 ? now + microseconds(paused_offset_us) : SteadyTime{};
  view_.open_until = open_offset_us > 0 ? now + microseconds(open_offset_us) : SteadyTime{};
}

void SharedUpstream::start() {
  auto self = shared_from_this();
  asio::co_spawn(inner_->strand, refresh_loop(self), [](std::exception_ptr e) { log_escaped(e); });
}

void SharedUpstream::stop() {
  auto self = shared_from_this();
  asio::post(inner_->strand, [self] {
    self->inner_->stopped = true;
    self->inner_->refresh_timer.cancel();
  });
}

asio::awaitable<void> SharedUpstream::refresh_loop(std::shared_ptr<SharedUpstream> self) {
  auto& in = *self->inner_;
  while (!in.stopped) {
    if (self->client_->connected()) {
      std::vector<std::string> keys{self->settings_.key};
      auto op = self->client_->eval(view_script(), std::move(keys), {});
      RedisResult r = co_await std::move(op);
      if (r.ok() && r.reply.elements.size() >= 2) {
        self->note_view(r.reply.elements[0].as_int(-1), r.reply.elements[1].as_int(-1), self->clock_.now());
      }
    }
    if (in.stopped) break;
    in.refresh_timer.expires_after(self->settings_.refresh);
    co_await in.refresh_timer.async_wait(kTuple);
  }
}

asio::awaitable<FleetSlot> SharedUpstream::acquire(nanoseconds max_wait) {
  auto self = shared_from_this();
  auto op = acquire_on_strand(self, max_wait);
  FleetSlot slot = co_await asio::co_spawn(inner_->strand, std::move(op), asio::use_awaitable);
  co_return slot;
}

asio::awaitable<FleetSlot> SharedUpstream::acquire_on_strand(std::shared_ptr<SharedUpstream> self,
                                                             nanoseconds max_wait) {
  auto& in = *self->inner_;
  FleetSlot out;
  if (!self->limited()) {
    out.kind = FleetSlot::Kind::granted;
    out.due = self->clock_.now();
    co_return out;
  }
  ++in.demand;
  // Waiting for other callers' leases is bounded too: past this, the local limiter decides.
  const auto give_up = std::chrono::steady_clock::now() + 2 * self->client_->settings().timeout + milliseconds(100);
  for (;;) {
    const SteadyTime now = self->clock_.now();
    while (!in.slots.empty() && in.slots.front() + self->settings_.slot_lifetime < now) {
      in.slots.pop_front();
      in.expired_since_lease = true;
    }
    if (!in.slots.empty()) {
      const SteadyTime due = in.slots.front();
      if (due - now > max_wait) {
        out.kind = FleetSlot::Kind::refused;
        out.next = due;
      } else {
        in.slots.pop_front();
        out.kind = FleetSlot::Kind::granted;
        out.due = due;
      }
      break;
    }
    if (now < in.refused_until) {
      out.kind = FleetSlot::Kind::refused;
      out.next = in.refused_until;
      break;
    }
    if (!self->client_->connected() || std::chrono::steady_clock::now() > give_up) {
      out.kind = FleetSlot::Kind::local;
      break;
    }
    if (in.leasing) {
      auto timer = std::make_shared<asio::steady_timer>(in.strand, self->client_->settings().timeout + milliseconds(100));
      in.waiters.push_back(timer);
      co_await timer->async_wait(kTuple);
      continue;
    }
    auto op = lease(self, max_wait);
    co_await std::move(op);
    if (!in.last_lease_ok) {
      out.kind = FleetSlot::Kind::local;
      break;
    }
  }
  --in.demand;
  co_return out;
}

asio::awaitable<void> SharedUpstream::lease(std::shared_ptr<SharedUpstream> self, nanoseconds max_wait) {
  auto& in = *self->inner_;
  in.leasing = true;
  // Like slow start: an instance that used its last lease up soon leases twice as many at once (up to batch());
  // one whose slots expired unused, half as many; a quiet one, a single slot.
  const SteadyTime asked = self->clock_.now();
  if (in.expired_since_lease) {
    in.lease_size = std::max<size_t>(1, in.lease_size / 2);
  } else if (asked - in.last_lease <= self->settings_.lease_span) {
    in.lease_size = std::min(self->batch_, in.lease_size * 2);
  } else {
    in.lease_size = 1;
  }
  in.expired_since_lease = false;
  const size_t want = std::clamp<size_t>(std::max(in.demand, in.lease_size), 1, self->batch_);
  std::vector<std::string> keys{self->settings_.key};
  std::vector<std::string> args{number(self->rate_), number(self->burst_), std::to_string(want),
                                std::to_string(duration_cast<microseconds>(max_wait).count()),
                                std::to_string(self->settings_.key_ttl.count())};
  auto op = self->client_->eval(lease_script(), std::move(keys), std::move(args));
  RedisResult r = co_await std::move(op);
  const SteadyTime now = self->clock_.now();
  in.leasing = false;
  in.last_lease = now;
  in.last_lease_ok = r.ok() && r.reply.elements.size() >= 7;
  if (in.last_lease_ok) {
    ++self->leases_;
    const auto& e = r.reply.elements;
    const int64_t granted = e[0].as_int(), tat = e[1].as_int(), interval = e[2].as_int(),
                  tolerance = e[3].as_int(), paused = e[4].as_int(-1), open = e[5].as_int(-1);
    for (int64_t i = 0; i < granted; ++i) {
      const int64_t offset = std::max<int64_t>({0, tat + i * interval - tolerance, paused});
      in.slots.push_back(now + microseconds(offset));
    }
    if (granted == 0) {
      const int64_t first = std::max<int64_t>({0, tat - tolerance, paused});
      in.refused_until = now + microseconds(first);
    }
    self->note_view(paused, open, now);
  } else {
    spdlog::debug("fleet: upstream={} lease failed: {}", self->settings_.name, r.error());
  }
  for (auto& w : in.waiters) w->cancel();
  in.waiters.clear();
}

void SharedUpstream::spawn_publish(const RedisScript& script, std::vector<std::string> args) {
  if (publishing_.load() >= kMaxPublishing) {
    spdlog::debug("fleet: upstream={} too many updates waiting for Redis; one dropped", settings_.name);
    return;
  }
  ++publishing_;
  asio::co_spawn(inner_->strand, publish(shared_from_this(), &script, std::move(args)),
                 [](std::exception_ptr e) { log_escaped(e); });
}

asio::awaitable<void> SharedUpstream::publish(std::shared_ptr<SharedUpstream> self, const RedisScript* script,
                                              std::vector<std::string> args) {
  std::vector<std::string> keys{self->settings_.key};
  auto op = self->client_->eval(*script, std::move(keys), std::move(args));
  RedisResult r = co_await std::move(op);
  --self->publishing_;
  if (!r.ok()) {
    spdlog::debug("fleet: upstream={} update not shared: {}", self->settings_.name, r.error());
    co_return;
  }
  if (script == &throttle_script() && r.reply.elements.size() >= 2) {
    const int64_t rate = r.reply.elements[0].as_int();
    const int64_t paused = r.reply.elements[1].as_int(-1);
    if (rate > 0) {
      spdlog::info("fleet: upstream={} shared rate now {:.3g}/s", self->settings_.name, static_cast<double>(rate) / 1e6);
    }
    std::lock_guard lock(self->view_mutex_);
    if (paused > 0) self->view_.paused_until = self->clock_.now() + microseconds(paused);
  }
}

void SharedUpstream::on_result(const upstream::DeliveryResult& result, SteadyTime, WallTime wall_now) {
  if (!client_->connected()) return;
  const auto& o = settings_.options;
  int64_t pause_us = 0;
  if (result.retry_after && *result.retry_after > wall_now) {
    auto wait = std::min<nanoseconds>(duration_cast<nanoseconds>(*result.retry_after - wall_now), SendLimiter::kLongestPause);
    pause_us = duration_cast<microseconds>(wait).count();
  }
  const bool adaptive = o.adaptive_rate_limiting && rate_ > 0;
  if ((result.throttled && adaptive) || pause_us > 0) {
    successes_ = 0;
    spawn_publish(throttle_script(),
                  {number(rate_), number(burst_), adaptive && result.throttled ? "1" : "0",
                   number(std::clamp(o.rate_adjustment_factor, 0.001, 0.999)), number(floor_rate_),
                   number(ceiling_rate_), std::to_string(pause_us), std::to_string(settings_.key_ttl.count())});
  } else if (adaptive && result.outcome == upstream::Outcome::delivered) {
    if (++successes_ >= SendLimiter::kRaiseAfterSuccesses) {
      successes_ = 0;
      const auto raise_after = duration_cast<microseconds>(SendLimiter::kRaiseAfterTime).count();
      spawn_publish(raise_script(), {number(rate_), number(std::clamp(o.rate_adjustment_factor, 0.001, 0.999)),
                                     number(ceiling_rate_), std::to_string(raise_after),
                                     std::to_string(settings_.key_ttl.count())});
    }
  }
}

void SharedUpstream::on_circuit(BreakerState state, SteadyTime reopens_at) {
  if (state == BreakerState::closed) {
    // This instance's probe went through: it no longer follows an opening it may still have in its view.
    std::lock_guard lock(view_mutex_);
    view_.open_until = {};
  }
  if (!client_->connected()) return;
  int64_t open_us = 0;
  if (state == BreakerState::open) {
    open_us = std::max<int64_t>(1, duration_cast<microseconds>(reopens_at - clock_.now()).count());
  }
  spawn_publish(circuit_script(), {std::to_string(open_us), std::to_string(settings_.key_ttl.count())});
}

}  // namespace smarthost::policy::redis
