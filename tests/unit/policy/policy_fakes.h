// Test doubles for policy/: a fake clock whose sleeps move time instead of waiting, a scriptable Transport, and
// a way to run one awaitable to completion. Shared by the policy unit tests.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "policy/clock.h"
#include "upstream/transport.h"

namespace smarthost::policy::test {

class FakeClock final : public Clock {
 public:
  SteadyTime now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  WallTime wall_now() const override {
    std::lock_guard lock(mutex_);
    return wall_ + (now_ - start_);
  }
  // Moves time forward to `until` at once (never backwards), records the sleep.
  boost::asio::awaitable<void> sleep_until(SteadyTime until) const override {
    {
      std::lock_guard lock(mutex_);
      if (until > now_) {
        slept_ += until - now_;
        now_ = until;
      }
    }
    co_return;
  }
  void advance(std::chrono::nanoseconds d) {
    std::lock_guard lock(mutex_);
    now_ += d;
  }
  std::chrono::nanoseconds slept() const {
    std::lock_guard lock(mutex_);
    return slept_;
  }

 private:
  mutable std::mutex mutex_;
  SteadyTime start_ = SteadyTime{} + std::chrono::hours(1000);
  mutable SteadyTime now_ = start_;
  WallTime wall_ = WallTime{} + std::chrono::hours(24 * 365 * 50);
  mutable std::chrono::nanoseconds slept_{0};
};

inline upstream::DeliveryResult result_for(const upstream::OutboundMessage& m, upstream::Outcome outcome,
                                           std::string reply) {
  upstream::DeliveryResult r;
  r.outcome = outcome;
  r.reply = reply;
  for (const auto& rcpt : m.envelope.recipients) r.recipients.push_back({rcpt.address, outcome, reply});
  return r;
}

// A transport that answers through a script and records what it was given.
class FakeTransport final : public upstream::Transport {
 public:
  using Script = std::function<upstream::DeliveryResult(const upstream::OutboundMessage&, int call)>;
  FakeTransport(std::string name, Script script, const FakeClock* clock = nullptr,
                std::chrono::milliseconds latency = std::chrono::milliseconds(0))
      : name_(std::move(name)), script_(std::move(script)), clock_(clock), latency_(latency) {}

  static Script always(upstream::Outcome outcome, std::string reply = "") {
    return [outcome, reply](const upstream::OutboundMessage& m, int) {
      std::string text = reply.empty() ? (outcome == upstream::Outcome::delivered ? "250 2.0.0 ok" : "451 4.4.1 down")
                                       : reply;
      return result_for(m, outcome, text);
    };
  }

  boost::asio::awaitable<upstream::DeliveryResult> deliver(const upstream::OutboundMessage& m) override {
    int call = calls_++;
    {
      std::lock_guard lock(mutex_);
      seen_.push_back(m);
      if (clock_) times_.push_back(clock_->now());
    }
    if (clock_ && latency_.count() > 0) co_await clock_->sleep_until(clock_->now() + latency_);
    co_return script_(m, call);
  }
  const std::string& name() const override { return name_; }

  int calls() const { return calls_; }
  std::vector<upstream::OutboundMessage> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  std::vector<SteadyTime> times() const {
    std::lock_guard lock(mutex_);
    return times_;
  }
  void set_script(Script s) { script_ = std::move(s); }

 private:
  std::string name_;
  Script script_;
  const FakeClock* clock_;
  std::chrono::milliseconds latency_;
  std::atomic<int> calls_{0};
  mutable std::mutex mutex_;
  std::vector<upstream::OutboundMessage> seen_;
  std::vector<SteadyTime> times_;
};

inline upstream::OutboundMessage message(std::string id, std::vector<std::string> rcpts) {
  upstream::OutboundMessage m;
  m.queue_id = std::move(id);
  m.envelope.mail_from = "sender@example.org";
  for (auto& r : rcpts) m.envelope.recipients.push_back(mail::Recipient{std::move(r), mail::RecipientState::pending, {}});
  return m;
}

// Runs one awaitable on a fresh io_context and returns its value.
template <typename T>
T run(boost::asio::awaitable<T> work) {
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, std::move(work), boost::asio::use_future);
  io.run();
  return future.get();
}

}  // namespace smarthost::policy::test
