// Test doubles for ops/: a scripted Transport (results and probe answers in order), a SessionPolicy that refuses
// what it is told to, and a runner for one awaitable on a private io_context.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "smtpd/session.h"
#include "upstream/transport.h"

namespace smarthost::ops::test {

class ScriptedTransport : public upstream::Transport {
 public:
  explicit ScriptedTransport(std::string name) : name_(std::move(name)) {}

  void push_result(upstream::Outcome outcome, std::string reply = "", bool throttled = false) {
    std::lock_guard lock(mutex_);
    upstream::DeliveryResult r;
    r.outcome = outcome;
    r.reply = std::move(reply);
    r.throttled = throttled;
    results_.push_back(r);
  }
  // Probe answers in order; after them, `steady_probe`.
  void push_probe(bool ok, std::string detail = "") {
    std::lock_guard lock(mutex_);
    probes_.push_back({ok, std::move(detail)});
  }
  void set_steady_probe(bool ok, std::string detail) {
    std::lock_guard lock(mutex_);
    steady_ = {ok, std::move(detail)};
  }
  void set_probe_delay(std::chrono::milliseconds delay) { probe_delay_ = delay; }
  int probes() const { return probe_count_.load(); }
  std::vector<upstream::OutboundMessage> delivered() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }

  boost::asio::awaitable<upstream::DeliveryResult> deliver(const upstream::OutboundMessage& message) override {
    upstream::DeliveryResult r;
    {
      std::lock_guard lock(mutex_);
      seen_.push_back(message);
      if (!results_.empty()) {
        r = results_.front();
        results_.pop_front();
      } else {
        r.outcome = upstream::Outcome::delivered;
      }
    }
    for (const auto& rcpt : message.envelope.recipients) r.recipients.push_back({rcpt.address, r.outcome, r.reply});
    co_return r;
  }
  const std::string& name() const override { return name_; }
  boost::asio::awaitable<upstream::ProbeResult> probe(std::chrono::milliseconds) override {
    ++probe_count_;
    if (probe_delay_.count() > 0) {
      boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, probe_delay_);
      co_await timer.async_wait(boost::asio::use_awaitable);
    }
    upstream::ProbeResult r;
    {
      std::lock_guard lock(mutex_);
      if (!probes_.empty()) {
        r = probes_.front();
        probes_.pop_front();
      } else {
        r = steady_;
      }
    }
    co_return r;
  }

 private:
  std::string name_;
  mutable std::mutex mutex_;
  std::deque<upstream::DeliveryResult> results_;
  std::deque<upstream::ProbeResult> probes_;
  upstream::ProbeResult steady_{true, "ok"};
  std::chrono::milliseconds probe_delay_{0};
  std::atomic<int> probe_count_{0};
  std::vector<upstream::OutboundMessage> seen_;
};

class RefusingPolicy : public smtpd::SessionPolicy {
 public:
  std::string connect_reply, mail_reply, rcpt_reply, data_reply;  // empty: allow
  bool password_ok = true;

  smtpd::Verdict on_connect(const smtpd::ClientInfo&) override { return verdict(connect_reply); }
  smtpd::Verdict on_mail(const smtpd::SessionView&, std::string_view) override { return verdict(mail_reply); }
  smtpd::Verdict on_rcpt(const smtpd::SessionView&, std::string_view, std::string_view) override {
    return verdict(rcpt_reply);
  }
  smtpd::Verdict on_end_of_data(const smtpd::SessionView&, const mail::Envelope&) override {
    return verdict(data_reply);
  }
  bool authenticate(const smtpd::ClientInfo&, std::string_view, std::string_view) override { return password_ok; }

 private:
  static smtpd::Verdict verdict(const std::string& reply) {
    return reply.empty() ? smtpd::Verdict::allow() : smtpd::Verdict::deny(reply);
  }
};

template <typename T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> work,
      std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
  std::optional<T> result;
  std::exception_ptr error;
  bool done = false;
  boost::asio::co_spawn(io, std::move(work), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result = std::move(value);
    done = true;
  });
  auto until = std::chrono::steady_clock::now() + deadline;
  io.restart();
  while (!done && std::chrono::steady_clock::now() < until) io.run_one_for(std::chrono::milliseconds(50));
  if (!done) throw std::runtime_error("awaitable did not finish before the deadline");
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

inline upstream::OutboundMessage message(std::string queue_id, std::vector<std::string> rcpts = {"a@example.net"}) {
  upstream::OutboundMessage m;
  m.queue_id = std::move(queue_id);
  m.envelope.mail_from = "s@example.org";
  for (auto& r : rcpts) m.envelope.recipients.push_back(mail::Recipient{std::move(r)});
  return m;
}

}  // namespace smarthost::ops::test
