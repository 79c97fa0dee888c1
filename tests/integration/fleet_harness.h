// For the fleet scenarios: a real redis-server, one fake Mailgun API that records when each message arrived and
// from which relay, and N `smarthost serve` instances sharing that Redis, each with its own spool. Messages are
// told apart by their sender, "relay<i>-<n>@example.com". Header-only; used by tests/integration/fleet_*_test.cpp.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/policy_submit.h"
#include "tests/support/fake_providers/fake_http_server.h"
#include "tests/support/redis_server.h"
#include "tests/support/relay.h"

namespace smarthost::test {

struct Arrival {
  std::chrono::steady_clock::time_point at;
  std::string from;  // the message's sender
  int status = 200;  // what the fake answered
};

// The fake Mailgun: 200 by default; `answer` may script other replies (it is called with the arrival index).
class FleetApi {
 public:
  using Script = std::function<FakeAnswer(size_t index, const HttpExchange&)>;
  explicit FleetApi(Script script = {})
      : script_(std::move(script)), server_([this](const HttpExchange& e) { return answer(e); }) {}

  std::string base_url() const { return server_.base_url(); }
  std::vector<Arrival> arrivals() const {
    std::lock_guard lock(mutex_);
    return arrivals_;
  }
  size_t delivered() const {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto& a : arrivals_) n += a.status == 200;
    return n;
  }
  bool wait_arrived(size_t n, std::chrono::milliseconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (arrivals().size() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return arrivals().size() >= n;
  }
  bool wait_delivered(size_t n, std::chrono::milliseconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (delivered() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return delivered() >= n;
  }

 private:
  FakeAnswer answer(const HttpExchange& e) {
    // Mailgun's messages.mime: the message travels whole in the form; its From field names the sender.
    std::string from;
    auto field = e.body.find("From: <");
    if (field != std::string::npos) from = e.body.substr(field + 7, e.body.find('>', field) - field - 7);
    size_t index;
    {
      std::lock_guard lock(mutex_);
      index = arrivals_.size();
      arrivals_.push_back(Arrival{std::chrono::steady_clock::now(), from, 200});
    }
    FakeAnswer a;
    if (script_) a = script_(index, e);
    if (a.body.empty() && a.status == 200) {
      a.headers = {{"Content-Type", "application/json"}};
      a.body = R"({"id":"<)" + std::to_string(index) + R"(@mg.example.com>","message":"Queued. Thank you."})";
    }
    std::lock_guard lock(mutex_);
    arrivals_[index].status = a.status;
    return a;
  }

  Script script_;
  mutable std::mutex mutex_;
  std::vector<Arrival> arrivals_;
  FakeHttpServer server_;
};

struct FleetOptions {
  size_t relays = 3;
  std::string options;   // lines of the upstream's [options] table
  std::string caching;   // extra lines of [caching]
  bool redis = true;     // false: the same relays without Redis (each on its own limits)
};

// N relays in front of one fake API, sharing one Redis.
class Fleet {
 public:
  Fleet(const RedisServer& redis, const FleetApi& api, FleetOptions o) {
    for (size_t i = 0; i < o.relays; ++i) {
      RelayOptions r;
      r.upstream = "provider = \"mailgun\"\nname = \"api\"\n[config]\napi_key = \"key-test-123\"\ndomain = "
                   "\"mg.example.com\"\nendpoint = \"" + api.base_url() + "\"\n[options]\n" + o.options + "\n";
      if (o.redis) {
        r.extra = "\n[caching]\ncache_provider = \"redis\"\nredis_url = \"" + redis.url() + "\"\nredis_timeout = \"300ms\"\n" +
                  o.caching + "\n";
      }
      relays_.push_back(std::make_unique<Relay>(r));
    }
  }
  bool start() {
    for (auto& r : relays_)
      if (!r->start()) return false;
    return true;
  }
  Relay& operator[](size_t i) { return *relays_[i]; }
  size_t size() const { return relays_.size(); }
  std::string logs() const {
    std::string out;
    for (size_t i = 0; i < relays_.size(); ++i) out += "---- relay" + std::to_string(i) + "\n" + relays_[i]->log();
    return out;
  }

 private:
  std::vector<std::unique_ptr<Relay>> relays_;
};

// Submits `count` messages to `relay` over one SMTP session, senders relay<index>-<n>@example.com (n from
// `first`). Returns how many got 250.
inline size_t submit_many(Relay& relay, size_t index, size_t count, size_t first = 0) {
  SmtpWire wire(relay.port());
  if (reply_code(wire.reply()) != 220) return 0;
  wire.command("EHLO client.test");
  size_t accepted = 0;
  for (size_t n = first; n < first + count; ++n) {
    Letter l;
    l.from = "relay" + std::to_string(index) + "-" + std::to_string(n) + "@example.com";
    l.message_id = "<" + std::to_string(index) + "." + std::to_string(n) + "@fleet.test>";
    accepted += submit(wire, l).accepted();
  }
  wire.command("QUIT");
  return accepted;
}

// The most arrivals (answered 200 or not) within any span of `span` length.
inline size_t busiest(const std::vector<Arrival>& arrivals, std::chrono::milliseconds span) {
  size_t best = 0;
  for (size_t i = 0, j = 0; j < arrivals.size(); ++j) {
    while (arrivals[j].at - arrivals[i].at > span) ++i;
    best = std::max(best, j - i + 1);
  }
  return best;
}

}  // namespace smarthost::test
