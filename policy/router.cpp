// One attempt cycle per deliver(): pick an upstream (strategy order, open circuits and paused or unhealthy upstreams
// skipped), wait for its send slot, deliver the recipients still open, merge their results, and move on with
// what is left. The lock guards the per-upstream state and is never held across co_await.
#include "policy/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <mutex>

#include "policy/balancer.h"
#include "policy/fleet_upstream.h"

namespace smarthost::policy {
namespace {

using upstream::DeliveryResult;
using upstream::Outcome;
using upstream::OutboundMessage;
using upstream::RecipientResult;

constexpr double kLatencyWeight = 0.3;  // of a new sample in the moving average

struct Member {
  Member(std::unique_ptr<upstream::Transport> t, UpstreamSettings s, const conf::FailoverPolicy& failover,
         SteadyTime now)
      : transport(std::move(t)),
        settings(std::move(s)),
        breaker(transport->name(), failover.circuit_breaker.failure_threshold, failover.circuit_breaker.recovery_timeout),
        limiter(settings.options, now) {}

  std::unique_ptr<upstream::Transport> transport;
  UpstreamSettings settings;
  CircuitBreaker breaker;
  SendLimiter limiter;
  uint32_t in_flight = 0;
  uint32_t waiting = 0;
  std::optional<double> latency_ms;
  bool healthy = true;
  uint64_t attempts = 0, delivered = 0, failed = 0;
  SteadyTime fleet_next{};  // fleet mode: the fleet had no slot before then

  // Fleet mode with the shared store answering: the fleet's budget limits sends instead of the local limiter.
  bool fleet_shared() const { return settings.fleet && settings.fleet->shared(); }
  // Takes on what the fleet says: a pause seen elsewhere pauses this upstream here too; a circuit opened
  // elsewhere opens it here until the same time.
  void follow_fleet(SteadyTime now) {
    if (!settings.fleet) return;
    const FleetView view = settings.fleet->view();
    // A quarter second of slack: the same pause read back from Redis differs by the round trip.
    if (view.paused_until > now && view.paused_until > limiter.paused_until() + std::chrono::milliseconds(250)) {
      const bool was_paused = limiter.paused(now);
      limiter.pause_until(view.paused_until, now);
      if (!was_paused) {
        spdlog::info("upstream={} paused for {:.1f}s (seen by another relay instance)", transport->name(),
                     std::chrono::duration<double>(limiter.paused_until() - now).count());
      }
    }
    if (view.open_until > now && breaker.state(now) == BreakerState::closed) breaker.trip_until(now, view.open_until);
  }
};

// What one attempt says about the upstream's health.
enum class Health { good, bad, neutral };

Health health_of(const DeliveryResult& r) {
  if (r.throttled) return Health::neutral;
  if (r.outcome == Outcome::delivered || r.outcome == Outcome::permanent) return Health::good;
  for (const auto& rr : r.recipients)
    if (rr.outcome == Outcome::delivered || rr.outcome == Outcome::permanent) return Health::good;
  return Health::bad;
}

std::string one_line(std::string_view text) {
  std::string out(text.substr(0, 300));
  std::replace_if(out.begin(), out.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return out;
}

}  // namespace

struct Router::State {
  State(RouterSettings s, const Clock& c) : settings(std::move(s)), clock(c) {}

  // An attempt already made (by a batch) that a cycle starts from.
  struct Attempt {
    size_t index;
    DeliveryResult result;
  };
  // One attempt cycle for one message (see Router::deliver), optionally continuing after `first`.
  boost::asio::awaitable<DeliveryResult> cycle(const OutboundMessage& message, const Attempt* first);

  RouterSettings settings;
  const Clock& clock;
  mutable std::mutex mutex;
  std::vector<Member> members;
  std::unique_ptr<Balancer> balancer;

  bool usable(const Member& m, SteadyTime now) const { return m.healthy && m.breaker.would_allow(now); }

  // The earliest time some healthy upstream could take a message (its pause, rate and circuit considered).
  std::optional<SteadyTime> earliest_possible(SteadyTime now) const {
    std::optional<SteadyTime> best;
    for (const Member& m : members) {
      if (!m.healthy) continue;
      SteadyTime t = m.fleet_shared() ? std::max(m.limiter.paused_until(), m.fleet_next) : m.limiter.next_free(now);
      if (m.breaker.state(now) == BreakerState::open) t = std::max(t, m.breaker.reopens_at());
      if (!best || t < *best) best = t;
    }
    return best;
  }

  // A send slot again for a delivery whose slot was taken in the other fleet mode: from the fleet while it is
  // shared, else from the local limiter. The slot (none within the longest wait: nullopt), and whether it is
  // the fleet's.
  boost::asio::awaitable<std::pair<std::optional<SteadyTime>, bool>> retake_slot(size_t index) {
    Member& m = members[index];
    std::pair<std::optional<SteadyTime>, bool> out{std::nullopt, false};
    if (m.fleet_shared()) {
      auto ask = m.settings.fleet->acquire(settings.longest_rate_wait);
      const FleetSlot slot = co_await std::move(ask);
      if (slot.kind == FleetSlot::Kind::granted) {
        out = {slot.due, true};
        co_return out;
      }
      if (slot.kind == FleetSlot::Kind::refused) {
        std::lock_guard lock(mutex);
        m.fleet_next = slot.next;
        co_return out;
      }
    }
    {
      std::lock_guard lock(mutex);
      out.first = m.limiter.reserve(clock.now(), settings.longest_rate_wait);
    }
    co_return out;
  }

  void record(size_t index, const DeliveryResult& r, SteadyTime started, SteadyTime now) {
    Member& m = members[index];
    --m.in_flight;
    ++m.attempts;
    const BreakerState before = m.breaker.state(now);
    switch (health_of(r)) {
      case Health::good: {
        m.breaker.record_success(now);
        double sample = std::chrono::duration<double, std::milli>(now - started).count();
        m.latency_ms = m.latency_ms ? *m.latency_ms * (1 - kLatencyWeight) + sample * kLatencyWeight : sample;
        break;
      }
      case Health::bad: {
        m.breaker.record_failure(now);
        // A failure counts as a slow answer, so response_time turns away from it.
        double penalty = std::chrono::duration<double, std::milli>(m.settings.options.timeout).count();
        m.latency_ms = m.latency_ms ? *m.latency_ms * (1 - kLatencyWeight) + penalty * kLatencyWeight : penalty;
        break;
      }
      case Health::neutral: m.breaker.record_neutral(); break;
    }
    if (r.outcome == Outcome::delivered) ++m.delivered;
    if (r.outcome != Outcome::delivered && r.outcome != Outcome::permanent) ++m.failed;
    if (m.settings.fleet) {
      // The fleet hears of this instance's circuit changes and of every answer (throttling, Retry-After).
      const BreakerState after = m.breaker.state(now);
      if (after == BreakerState::open && before != BreakerState::open) {
        m.settings.fleet->on_circuit(after, m.breaker.reopens_at());
      } else if (after == BreakerState::closed && before != BreakerState::closed) {
        m.settings.fleet->on_circuit(after, now);
      }
      m.settings.fleet->on_result(r, now, clock.wall_now());
    }
    const double rate = m.limiter.rate();
    const SteadyTime paused = m.limiter.paused_until();
    m.limiter.on_result(r, now, clock.wall_now());
    if (m.limiter.rate() < rate || (rate == 0 && m.limiter.rate() > 0)) {
      spdlog::info("upstream={} rate lowered to {:.3g}/s (throttled: {})", m.transport->name(), m.limiter.rate(),
                   one_line(r.reply));
    } else if (m.limiter.rate() > rate) {
      spdlog::info("upstream={} rate raised to {:.3g}/s", m.transport->name(), m.limiter.rate());
    }
    if (m.limiter.paused_until() > paused && m.limiter.paused_until() > now) {
      spdlog::info("upstream={} paused for {:.1f}s (Retry-After / rate-limit reset)", m.transport->name(),
                   std::chrono::duration<double>(m.limiter.paused_until() - now).count());
    }
  }
};

Router::Router(conf::Routing routing, std::vector<std::unique_ptr<upstream::Transport>> upstreams)
    : Router(RouterSettings{routing, {}, 0, std::chrono::seconds(60)}, std::move(upstreams), {}) {}

Router::Router(RouterSettings settings, std::vector<std::unique_ptr<upstream::Transport>> upstreams,
               std::vector<UpstreamSettings> per_upstream, const Clock& clock)
    : state_(std::make_unique<State>(std::move(settings), clock)) {
  auto& s = *state_;
  const SteadyTime now = clock.now();
  s.members.reserve(upstreams.size());
  for (size_t i = 0; i < upstreams.size(); ++i) {
    UpstreamSettings u = i < per_upstream.size() ? per_upstream[i] : UpstreamSettings{};
    s.members.emplace_back(std::move(upstreams[i]), std::move(u), s.settings.failover, now);
  }
  s.balancer = make_balancer(s.settings.routing, s.members.size(), s.settings.seed);
  if (s.members.size() == 1) name_ = s.members.front().transport->name();
}

std::unique_ptr<Router> Router::from_config(const conf::Config& config,
                                            std::vector<std::unique_ptr<upstream::Transport>> upstreams,
                                            const Clock& clock, std::vector<std::shared_ptr<FleetUpstream>> fleet) {
  RouterSettings settings;
  settings.routing = config.routing;
  settings.failover = config.failover_policy;
  std::vector<UpstreamSettings> per;
  for (size_t i = 0; i < config.upstreams.size(); ++i) {
    const auto& u = config.upstreams[i];
    UpstreamSettings one{u.weight, u.options};
    if (i < fleet.size() && fleet[i]) {
      one.fleet = fleet[i];
      one.options = fallback_options(u.options, config.caching.redis_fallback_fraction);
    }
    per.push_back(std::move(one));
  }
  return std::make_unique<Router>(settings, std::move(upstreams), std::move(per), clock);
}

Router::~Router() = default;

size_t Router::size() const { return state_->members.size(); }

boost::asio::awaitable<DeliveryResult> Router::State::cycle(const OutboundMessage& message, const Attempt* first) {
  State& s = *this;
  const auto& all = message.envelope.recipients;
  const size_t n = s.members.size();

  std::vector<RecipientResult> results;
  for (const auto& r : all) results.push_back({r.address, Outcome::temporary, ""});
  std::vector<bool> open(all.size(), true);
  auto any_open = [&] { return std::find(open.begin(), open.end(), true) != open.end(); };

  // ruled_out: not again in this cycle (refused us, throttled, rate-limited beyond the wait); tried: this round.
  std::vector<bool> ruled_out(n, false), tried(n, false);
  uint32_t attempts_left = s.settings.routing == conf::Routing::single ? 1 : 1 + s.settings.failover.max_retries;
  bool attempted = false, throttled = false;
  std::string last_reply, remote_id;

  // Takes one attempt's answer: per-recipient results, what is still open, what not to try again this cycle.
  auto absorb = [&](size_t pick, const DeliveryResult& r) {
    attempted = true;
    --attempts_left;
    tried[pick] = true;
    if (r.outcome == Outcome::upstream_refused || r.throttled) ruled_out[pick] = true;
    throttled = throttled || r.throttled;
    if (!r.remote_id.empty()) remote_id = r.remote_id;
    last_reply = r.reply;

    size_t moved_on = 0;
    for (size_t i = 0, k = 0; i < all.size(); ++i) {
      if (!open[i]) continue;
      RecipientResult rr{all[i].address, r.outcome, r.reply};
      if (k < r.recipients.size() && r.recipients[k].address == all[i].address) {
        rr = r.recipients[k];
      } else {
        for (const auto& c : r.recipients)
          if (c.address == all[i].address) rr = c;
      }
      ++k;
      if (rr.reply.empty()) rr.reply = r.reply;
      rr.upstream = s.members[pick].transport->name();
      results[i] = rr;
      if (rr.outcome == Outcome::delivered || rr.outcome == Outcome::permanent) {
        open[i] = false;
      } else {
        ++moved_on;
      }
    }
    if (moved_on > 0 && attempts_left > 0 && n > 1) {
      spdlog::info("qid={} upstream={} {} for {} recipient(s) ({}); trying the next upstream", message.queue_id,
                   s.members[pick].transport->name(), upstream::to_string(r.outcome), moved_on, one_line(r.reply));
    }
  };
  if (first) absorb(first->index, first->result);

  while (attempts_left > 0 && any_open() && n > 0) {
    size_t pick = n;
    SteadyTime slot{};
    bool new_round = false;
    bool ask_fleet = false;  // the pick's slot comes from the fleet's budget (fleet mode)
    bool slot_from_fleet = false;
    {
      std::lock_guard lock(s.mutex);
      const SteadyTime now = s.clock.now();
      std::vector<Candidate> candidates;
      bool any_usable = false;
      for (size_t i = 0; i < n; ++i) {
        Member& m = s.members[i];
        m.follow_fleet(now);
        if (ruled_out[i] || !s.usable(m, now)) continue;
        any_usable = true;
        if (!tried[i]) candidates.push_back(Candidate{i, m.settings.weight, m.in_flight, m.latency_ms});
      }
      if (!any_usable) break;
      if (candidates.empty()) {
        new_round = true;
      } else {
        for (size_t index : s.balancer->order(candidates)) {
          Member& m = s.members[index];
          if (!m.breaker.allow(now)) continue;
          if (m.fleet_shared()) {
            pick = index;
            ask_fleet = true;
            break;
          }
          auto due = m.limiter.reserve(now, s.settings.longest_rate_wait);
          if (!due) {
            m.breaker.record_neutral();
            ruled_out[index] = true;
            spdlog::debug("qid={} upstream={} over its rate limit for longer than {}s; not this cycle",
                          message.queue_id, m.transport->name(), s.settings.longest_rate_wait.count());
            continue;
          }
          pick = index;
          slot = *due;
          if (slot > now) ++m.waiting;
          break;
        }
      }
    }
    if (new_round) {
      // Every usable upstream had its turn: wait retry_delay, then go round again with the attempts left.
      co_await s.clock.sleep_until(s.clock.now() + s.settings.failover.retry_delay);
      std::fill(tried.begin(), tried.end(), false);
      continue;
    }
    if (ask_fleet) {
      // Asked outside the lock: the shared store answers within its timeout, or the local limiter decides.
      auto ask = s.members[pick].settings.fleet->acquire(s.settings.longest_rate_wait);
      const FleetSlot fleet_slot = co_await std::move(ask);
      std::lock_guard lock(s.mutex);
      Member& m = s.members[pick];
      const SteadyTime now = s.clock.now();
      std::optional<SteadyTime> due;
      if (fleet_slot.kind == FleetSlot::Kind::granted) {
        due = fleet_slot.due;
      } else if (fleet_slot.kind == FleetSlot::Kind::refused) {
        m.fleet_next = fleet_slot.next;
      } else {
        due = m.limiter.reserve(now, s.settings.longest_rate_wait);
      }
      if (due) {
        slot = *due;
        slot_from_fleet = fleet_slot.kind == FleetSlot::Kind::granted;
        if (slot > now) ++m.waiting;
      } else {
        m.breaker.record_neutral();
        ruled_out[pick] = true;
        spdlog::debug("qid={} upstream={} over the fleet's rate limit for longer than {}s; not this cycle",
                      message.queue_id, m.transport->name(), s.settings.longest_rate_wait.count());
        pick = n;
      }
    }
    if (pick == n) continue;  // every candidate was ruled out just now; the loop re-checks (and may stop)

    Member& m = s.members[pick];
    upstream::Transport& transport = *m.transport;
    if (slot > s.clock.now()) {
      spdlog::debug("qid={} upstream={} waits {:.3f}s for its send slot", message.queue_id, transport.name(),
                    std::chrono::duration<double>(slot - s.clock.now()).count());
      co_await s.clock.sleep_until(slot);
      spdlog::debug("qid={} upstream={} send slot reached", message.queue_id, transport.name());
      std::lock_guard lock(s.mutex);
      --m.waiting;
    }
    // Fleet mode: when the shared store went down or came back while this delivery waited, its slot is taken again
    // in the mode now in force, so local and shared slots never add up over either limit.
    for (int again = 0; again < 2 && m.settings.fleet && m.fleet_shared() != slot_from_fleet; ++again) {
      auto retake = s.retake_slot(pick);
      const std::pair<std::optional<SteadyTime>, bool> retaken = co_await std::move(retake);
      slot_from_fleet = retaken.second;
      if (!retaken.first) {
        std::lock_guard lock(s.mutex);
        m.breaker.record_neutral();
        ruled_out[pick] = true;
        pick = n;
        break;
      }
      if (*retaken.first > s.clock.now()) co_await s.clock.sleep_until(*retaken.first);
    }
    if (pick == n) continue;
    // A pause that began while this delivery waited for its slot still holds it back (within the longest wait).
    for (int i = 0; i < 3; ++i) {
      SteadyTime until;
      {
        std::lock_guard lock(s.mutex);
        until = m.limiter.paused_until();
      }
      if (until <= s.clock.now() || until - s.clock.now() > s.settings.longest_rate_wait) break;
      co_await s.clock.sleep_until(until);
    }

    OutboundMessage sub = message;
    sub.envelope.recipients.clear();
    for (size_t i = 0; i < all.size(); ++i)
      if (open[i]) sub.envelope.recipients.push_back(all[i]);

    SteadyTime started;
    {
      std::lock_guard lock(s.mutex);
      ++m.in_flight;
      started = s.clock.now();
    }
    DeliveryResult r;
    try {
      r = co_await transport.deliver(sub);
    } catch (const std::exception& e) {
      r.outcome = Outcome::temporary;
      r.reply = std::string("451 4.3.0 local error in upstream ") + transport.name() + ": " + e.what();
    }
    {
      std::lock_guard lock(s.mutex);
      s.record(pick, r, started, s.clock.now());
    }
    absorb(pick, r);
  }

  DeliveryResult out;
  bool any_delivered = false;
  for (auto& rr : results) {
    if (rr.outcome == Outcome::upstream_refused) rr.outcome = Outcome::temporary;  // another upstream may take it later
    any_delivered = any_delivered || rr.outcome == Outcome::delivered;
  }
  if (any_open()) {
    out.outcome = Outcome::temporary;
  } else {
    out.outcome = any_delivered ? Outcome::delivered : Outcome::permanent;
  }
  out.reply = last_reply;
  out.remote_id = remote_id;
  out.throttled = throttled;
  if (any_open()) {
    std::lock_guard lock(s.mutex);
    const SteadyTime now = s.clock.now();
    auto when = s.earliest_possible(now);
    if (!attempted) {
      out.reply = n == 0 ? "451 4.4.0 No upstream configured"
                         : "451 4.4.1 No upstream available now (circuits open, paused or over their rate limits)";
      for (auto& rr : results)
        if (rr.reply.empty()) rr.reply = out.reply;
    }
    // Pauses (Retry-After), rate limits and open circuits tell the queue when to look at this message again.
    if (when && *when > now)
      out.retry_after = s.clock.wall_now() + std::chrono::duration_cast<WallTime::duration>(*when - now);
  }
  out.recipients = std::move(results);
  co_return out;
}

boost::asio::awaitable<DeliveryResult> Router::deliver(const OutboundMessage& message) {
  co_return co_await state_->cycle(message, nullptr);
}

boost::asio::awaitable<std::vector<DeliveryResult>> Router::deliver_batch(std::span<const OutboundMessage> batch) {
  State& s = *state_;
  std::vector<DeliveryResult> out;
  out.reserve(batch.size());
  // One upstream takes the whole batch (one SMTP session, one Postmark /email/batch call) when it can: its circuit
  // lets it and it has no rate limit (a batch goes out back to back, which a limit would not allow).
  size_t pick = s.members.size();
  SteadyTime started{};
  if (batch.size() > 1) {
    std::lock_guard lock(s.mutex);
    const SteadyTime now = s.clock.now();
    std::vector<Candidate> candidates;
    for (size_t i = 0; i < s.members.size(); ++i) {
      Member& m = s.members[i];
      m.follow_fleet(now);
      if (s.usable(m, now) && !m.limiter.limited() && !m.limiter.paused(now))
        candidates.push_back(Candidate{i, m.settings.weight, m.in_flight, m.latency_ms});
    }
    if (!candidates.empty()) {
      for (size_t index : s.balancer->order(candidates)) {
        if (!s.members[index].breaker.allow(now)) continue;
        pick = index;
        s.members[index].in_flight += static_cast<uint32_t>(batch.size());
        started = now;
        break;
      }
    }
  }
  if (pick == s.members.size()) {
    for (const auto& message : batch) out.push_back(co_await s.cycle(message, nullptr));
    co_return out;
  }
  upstream::Transport& transport = *s.members[pick].transport;
  std::vector<DeliveryResult> results;
  try {
    results = co_await transport.deliver_batch(batch);
  } catch (const std::exception& e) {
    results.clear();
    DeliveryResult failed;
    failed.outcome = Outcome::temporary;
    failed.reply = std::string("451 4.3.0 local error in upstream ") + transport.name() + ": " + e.what();
    results.assign(batch.size(), failed);
  }
  if (results.size() < batch.size()) {
    DeliveryResult missing;
    missing.outcome = Outcome::temporary;
    missing.reply = "451 4.3.0 no result for this message in the batch";
    results.resize(batch.size(), missing);
  }
  {
    std::lock_guard lock(s.mutex);
    const SteadyTime now = s.clock.now();
    for (const auto& r : results) s.record(pick, r, started, now);
  }
  // Each message then goes on alone with what its batch attempt left open (failover, retries, merging).
  for (size_t i = 0; i < batch.size(); ++i) {
    State::Attempt first{pick, std::move(results[i])};
    out.push_back(co_await s.cycle(batch[i], &first));
  }
  co_return out;
}

bool Router::saturated(size_t queued) const {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  const SteadyTime now = s.clock.now();
  // Deliveries waiting for a slot or running already hold their reservations in the limiters; the rest of the
  // queue is still to come, and the new message would come after all of it.
  size_t busy = 0;
  for (const auto& m : s.members) busy += m.waiting + m.in_flight;
  const size_t ahead = queued > busy ? queued - busy : 0;
  std::vector<const Member*> usable;
  for (const auto& m : s.members)
    if (s.usable(m, now)) usable.push_back(&m);
  if (usable.empty()) return false;  // everything is down: store and forward, the queue keeps it

  if (s.settings.routing == conf::Routing::single || s.settings.routing == conf::Routing::failover) {
    const SendLimiter& l = usable.front()->limiter;
    return !l.queue_on_limit() && l.limited() && l.backlog(now, ahead + 1) > l.timeout();
  }
  // Balanced: saturated only when every member is limited and refuses to queue, and together they cannot send
  // what is ahead plus the new message within the shortest timeout.
  double rate = 0, tokens = 0;
  auto timeout = std::chrono::seconds::max();
  for (const Member* m : usable) {
    if (m->limiter.queue_on_limit() || !m->limiter.limited()) return false;
    rate += m->limiter.rate();
    tokens += m->limiter.snapshot(now).tokens;
    timeout = std::min(timeout, m->limiter.timeout());
  }
  double seconds = (static_cast<double>(ahead + 1) - tokens) / rate;
  return seconds > static_cast<double>(timeout.count());
}

void Router::retry_now() {
  std::lock_guard lock(state_->mutex);
  const SteadyTime now = state_->clock.now();
  for (auto& m : state_->members) {
    const BreakerState before = m.breaker.state(now);
    m.breaker.close("queue flushed by an administrator");
    if (m.settings.fleet && before != BreakerState::closed) m.settings.fleet->on_circuit(BreakerState::closed, now);
  }
}

void Router::set_healthy(size_t index, bool healthy) {
  std::lock_guard lock(state_->mutex);
  if (index >= state_->members.size()) return;
  Member& m = state_->members[index];
  if (m.healthy != healthy) {
    spdlog::info("upstream={} {} rotation (health check)", m.transport->name(), healthy ? "back in" : "taken out of");
  }
  m.healthy = healthy;
}

std::vector<UpstreamSnapshot> Router::snapshot() const {
  std::lock_guard lock(state_->mutex);
  const SteadyTime now = state_->clock.now();
  std::vector<UpstreamSnapshot> out;
  for (const auto& m : state_->members) {
    UpstreamSnapshot u;
    u.name = m.transport->name();
    u.breaker = m.breaker.snapshot(now);
    u.limiter = m.limiter.snapshot(now);
    u.in_flight = m.in_flight;
    u.waiting = m.waiting;
    u.latency_ms = m.latency_ms;
    u.healthy = m.healthy;
    u.attempts = m.attempts;
    u.delivered = m.delivered;
    u.failed = m.failed;
    if (m.settings.fleet) u.fleet_shared = m.settings.fleet->shared();
    out.push_back(std::move(u));
  }
  return out;
}

}  // namespace smarthost::policy
