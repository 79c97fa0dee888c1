// The recorder and its observing wrappers (see recorder.h).
#include "ops/recorder.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace smarthost::ops {

namespace asio = boost::asio;

std::string_view to_string(RejectReason reason) {
  switch (reason) {
    case RejectReason::client_blocked: return "client_blocked";
    case RejectReason::sender_denied: return "sender_denied";
    case RejectReason::relay_denied: return "relay_denied";
    case RejectReason::rate_limited: return "rate_limited";
    case RejectReason::upstream_saturated: return "upstream_saturated";
    case RejectReason::auth_failed: return "auth_failed";
    case RejectReason::policy: return "policy";
  }
  return "policy";
}

RejectReason classify_rejection(std::string_view stage, std::string_view reply) {
  // "554 5.7.1 text": the enhanced status code is the second word.
  std::string_view code;
  if (auto space = reply.find(' '); space != std::string_view::npos) {
    code = reply.substr(space + 1);
    code = code.substr(0, code.find(' '));
  }
  if (stage == "connect") return RejectReason::client_blocked;
  if (code == "4.7.0") return RejectReason::upstream_saturated;
  if (code == "4.7.1") return RejectReason::rate_limited;
  if (code == "5.7.1") {
    if (stage == "mail") return RejectReason::sender_denied;
    if (stage == "rcpt") return RejectReason::relay_denied;
  }
  return RejectReason::policy;
}

namespace {

// Times each attempt of the transport it wraps and records it; everything else is passed through.
class ObservedTransport final : public upstream::Transport {
 public:
  ObservedTransport(std::shared_ptr<upstream::Transport> inner, std::shared_ptr<Recorder> recorder)
      : inner_(std::move(inner)), recorder_(std::move(recorder)) {}

  asio::awaitable<upstream::DeliveryResult> deliver(const upstream::OutboundMessage& message) override {
    auto started = std::chrono::steady_clock::now();
    upstream::DeliveryResult result = co_await inner_->deliver(message);
    recorder_->record_delivery(inner_->name(), message, result, std::chrono::steady_clock::now() - started);
    co_return result;
  }

  asio::awaitable<std::vector<upstream::DeliveryResult>> deliver_batch(
      std::span<const upstream::OutboundMessage> batch) override {
    auto started = std::chrono::steady_clock::now();
    std::vector<upstream::DeliveryResult> results = co_await inner_->deliver_batch(batch);
    // One exchange for the whole batch: each message is charged its share of the time.
    auto took = (std::chrono::steady_clock::now() - started) / static_cast<int64_t>(std::max<size_t>(batch.size(), 1));
    for (size_t i = 0; i < results.size() && i < batch.size(); ++i)
      recorder_->record_delivery(inner_->name(), batch[i], results[i], took);
    co_return results;
  }

  const std::string& name() const override { return inner_->name(); }

  asio::awaitable<upstream::ProbeResult> probe(std::chrono::milliseconds timeout) override {
    upstream::ProbeResult result = co_await inner_->probe(timeout);
    co_return result;
  }

 private:
  std::shared_ptr<upstream::Transport> inner_;
  std::shared_ptr<Recorder> recorder_;
};

// Counts the refusals of the access policy it wraps.
class ObservedPolicy final : public smtpd::SessionPolicy {
 public:
  ObservedPolicy(smtpd::SessionPolicy& inner, std::shared_ptr<Recorder> recorder)
      : inner_(inner), recorder_(std::move(recorder)) {}

  smtpd::Verdict on_connect(const smtpd::ClientInfo& client) override {
    return count("connect", inner_.on_connect(client));
  }
  smtpd::Verdict on_mail(const smtpd::SessionView& session, std::string_view reverse_path) override {
    return count("mail", inner_.on_mail(session, reverse_path));
  }
  smtpd::Verdict on_rcpt(const smtpd::SessionView& session, std::string_view reverse_path,
                         std::string_view forward_path) override {
    return count("rcpt", inner_.on_rcpt(session, reverse_path, forward_path));
  }
  smtpd::Verdict on_end_of_data(const smtpd::SessionView& session, const mail::Envelope& envelope) override {
    return count("data", inner_.on_end_of_data(session, envelope));
  }
  bool authenticate(const smtpd::ClientInfo& client, std::string_view user, std::string_view password) override {
    bool ok = inner_.authenticate(client, user, password);
    if (!ok) recorder_->record_rejection(RejectReason::auth_failed);
    return ok;
  }

 private:
  smtpd::Verdict count(std::string_view stage, smtpd::Verdict verdict) {
    if (!verdict.allowed) recorder_->record_rejection(classify_rejection(stage, verdict.reply), stage == "data");
    return verdict;
  }

  smtpd::SessionPolicy& inner_;
  std::shared_ptr<Recorder> recorder_;
};

bool is_alert_mail(const upstream::OutboundMessage& message) {
  return std::string_view(message.queue_id).starts_with(Recorder::kAlertQueueIdPrefix);
}

}  // namespace

Recorder::Recorder(SteadyNow now, std::chrono::seconds window) : now_(std::move(now)), window_(window) {}

std::chrono::steady_clock::time_point Recorder::now() const {
  return now_ ? now_() : std::chrono::steady_clock::now();
}

void Recorder::observe_all(std::vector<std::unique_ptr<upstream::Transport>>& transports) {
  std::vector<ProbeTarget> targets;
  for (size_t i = 0; i < transports.size(); ++i) {
    std::shared_ptr<upstream::Transport> inner(std::move(transports[i]));
    upstream(inner->name());  // known from the start, so it shows in /metrics before its first message
    targets.push_back(ProbeTarget{i, inner->name(), inner});
    transports[i] = std::make_unique<ObservedTransport>(inner, shared_from_this());
  }
  std::lock_guard lock(mutex_);
  generations_.push_back(std::move(targets));
  while (generations_.size() > kGenerations) generations_.pop_front();
}

std::unique_ptr<smtpd::SessionPolicy> Recorder::observe(smtpd::SessionPolicy& inner) {
  return std::make_unique<ObservedPolicy>(inner, shared_from_this());
}

std::shared_ptr<smtpd::SessionPolicy> Recorder::observe(std::shared_ptr<smtpd::SessionPolicy> inner) {
  if (!inner) return nullptr;
  auto wrapper = std::make_shared<ObservedPolicy>(*inner, shared_from_this());
  // The wrapper and `inner` live and die together.
  auto both = std::make_shared<std::pair<std::shared_ptr<smtpd::SessionPolicy>, std::shared_ptr<ObservedPolicy>>>(
      std::move(inner), wrapper);
  return std::shared_ptr<smtpd::SessionPolicy>(both, both->second.get());
}

UpstreamTally& Recorder::upstream(std::string_view name) {
  std::lock_guard lock(mutex_);
  for (auto& t : tallies_)
    if (t->name == name) return *t;
  std::string key(tallies_.size() >= kMaxUpstreams ? std::string_view("other") : name);
  for (auto& t : tallies_)
    if (t->name == key) return *t;
  tallies_.push_back(std::make_unique<UpstreamTally>(key));
  return *tallies_.back();
}

std::vector<const UpstreamTally*> Recorder::upstreams() const {
  std::lock_guard lock(mutex_);
  std::vector<const UpstreamTally*> out;
  for (const auto& t : tallies_) out.push_back(t.get());
  return out;
}

std::vector<ProbeTarget> Recorder::probe_targets() const {
  std::lock_guard lock(mutex_);
  for (auto it = generations_.rbegin(); it != generations_.rend(); ++it) {
    bool alive = std::all_of(it->begin(), it->end(), [](const ProbeTarget& t) { return !t.transport.expired(); });
    if (alive) return *it;
  }
  return {};
}

void Recorder::record_delivery(std::string_view name, const upstream::OutboundMessage& message,
                               const upstream::DeliveryResult& result, std::chrono::steady_clock::duration took) {
  if (is_alert_mail(message)) return;
  UpstreamTally& tally = upstream(name);
  double seconds = std::chrono::duration<double>(took).count();
  bool error = false;
  switch (result.outcome) {
    case upstream::Outcome::delivered: tally.delivered.inc(); break;
    case upstream::Outcome::temporary:
      tally.temporary.inc();
      error = true;
      break;
    case upstream::Outcome::permanent: tally.permanent.inc(); break;
    case upstream::Outcome::upstream_refused:
      tally.upstream_refused.inc();
      error = true;
      break;
  }
  for (const auto& r : result.recipients)
    if (r.outcome == upstream::Outcome::delivered) tally.recipients_delivered.inc();
  if (result.throttled) tally.throttled.inc();
  tally.latency.observe(seconds);
  window_.record(now(), error, seconds * 1000.0);
  if (result.outcome != upstream::Outcome::delivered) {
    std::lock_guard lock(mutex_);
    errors_.push_front(RecentError{std::chrono::system_clock::now(), std::string(name), message.queue_id,
                                   result.reply.substr(0, 300)});
    if (errors_.size() > kRecentErrors) errors_.pop_back();
  }
}

void Recorder::record_rejection(RejectReason reason, bool after_data) {
  rejections_[static_cast<size_t>(reason)].inc();
  if (after_data) data_rejections_.inc();
}

std::vector<RecentError> Recorder::recent_errors() const {
  std::lock_guard lock(mutex_);
  return {errors_.begin(), errors_.end()};
}

SlidingWindow::Summary Recorder::window() const { return window_.summary(now()); }

}  // namespace smarthost::ops
