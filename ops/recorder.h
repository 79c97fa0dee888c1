// What the relay did, recorded as it happens: each delivery attempt per upstream (outcome and latency), each
// refusal of the SMTP access policy by reason, and the last errors. Fed by the observing wrappers built here
// (observe_all for the transports, observe for the policy); read by /metrics, /status, the alert rules and the
// log summary. Counters are lock-free; the upstream list, the error list and the window take short locks.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ops/metrics.h"
#include "ops/sliding_window.h"
#include "smtpd/session.h"
#include "upstream/transport.h"

namespace smarthost::ops {

// Why the SMTP side refused something. A fixed set, so metric labels stay bounded.
enum class RejectReason {
  client_blocked,      // the connect hook refused the client (blocked or not allowed IP)
  sender_denied,       // MAIL FROM refused (domain not allowed, not owned by the user)
  relay_denied,        // RCPT TO refused (relay access, routing syntax, recipient domain)
  rate_limited,        // a per-client message or recipient rate
  upstream_saturated,  // 451 4.7.0: the upstreams cannot take more now
  auth_failed,         // AUTH with a wrong user name or password
  policy,              // any other refusal of the access policy
};
inline constexpr size_t kRejectReasons = 7;
std::string_view to_string(RejectReason reason);

// Counters of one upstream (by name). Message attempts, as the transport answered them.
struct UpstreamTally {
  explicit UpstreamTally(std::string upstream_name) : name(std::move(upstream_name)) {}
  const std::string name;
  Counter delivered;          // messages the upstream took
  Counter temporary;          // attempts that failed for now
  Counter permanent;          // messages refused for good (bounced)
  Counter upstream_refused;   // refused for reasons of this upstream (credentials, quota)
  Counter throttled;          // answers that said "slow down"
  Counter recipients_delivered;
  Histogram latency{latency_buckets()};  // seconds per attempt
};

struct RecentError {
  std::chrono::system_clock::time_point when;
  std::string upstream;
  std::string queue_id;
  std::string reply;
};

// A transport the health checks may probe, in router order.
struct ProbeTarget {
  size_t index = 0;  // the upstream's position in the router
  std::string name;
  std::weak_ptr<upstream::Transport> transport;
};

class Recorder : public std::enable_shared_from_this<Recorder> {
 public:
  static constexpr size_t kMaxUpstreams = 64;    // more names share one "other" tally
  static constexpr size_t kRecentErrors = 20;
  // Messages whose queue id starts with this are the relay's own alert mail: never counted, so that alert
  // mail cannot feed the alerts.
  static constexpr std::string_view kAlertQueueIdPrefix = "alert-";

  using SteadyNow = std::function<std::chrono::steady_clock::time_point()>;
  explicit Recorder(SteadyNow now = {}, std::chrono::seconds window = std::chrono::seconds(300));

  // Wraps each transport (in place, router order kept) so that every attempt is recorded, and offers them to the
  // health checks as one generation of probe targets. Call it for every set of transports built (a reload builds
  // a new set): the newest generation whose transports are all still alive is the one probed, so a set that was
  // built and then thrown away (a refused reload) leaves the running one in place.
  void observe_all(std::vector<std::unique_ptr<upstream::Transport>>& transports);
  // A SessionPolicy that counts the refusals of `inner` by reason and otherwise answers as it does. `inner`
  // must outlive the returned policy.
  std::unique_ptr<smtpd::SessionPolicy> observe(smtpd::SessionPolicy& inner);
  // The same, keeping `inner` alive as long as the returned policy.
  std::shared_ptr<smtpd::SessionPolicy> observe(std::shared_ptr<smtpd::SessionPolicy> inner);

  // Records one attempt (what the wrappers call).
  void record_delivery(std::string_view upstream, const upstream::OutboundMessage& message,
                       const upstream::DeliveryResult& result, std::chrono::steady_clock::duration took);
  void record_rejection(RejectReason reason, bool after_data = false);

  UpstreamTally& upstream(std::string_view name);
  // Every upstream tally seen so far, in first-seen order.
  std::vector<const UpstreamTally*> upstreams() const;
  // The newest generation of targets whose transports are all alive; empty when none is.
  std::vector<ProbeTarget> probe_targets() const;
  uint64_t rejections(RejectReason reason) const { return rejections_[static_cast<size_t>(reason)].value(); }
  // Refusals decided at end of data by the policy (the server's own message counter includes them).
  uint64_t data_stage_rejections() const { return data_rejections_.value(); }
  std::vector<RecentError> recent_errors() const;  // newest first
  SlidingWindow::Summary window() const;
  std::chrono::seconds window_span() const { return window_.span(); }

 private:
  std::chrono::steady_clock::time_point now() const;

  SteadyNow now_;
  SlidingWindow window_;
  Counter rejections_[kRejectReasons];
  Counter data_rejections_;
  static constexpr size_t kGenerations = 8;  // probe target sets kept (older ones are dropped)
  mutable std::mutex mutex_;  // guards tallies_, generations_ and errors_
  std::deque<std::unique_ptr<UpstreamTally>> tallies_;
  std::deque<std::vector<ProbeTarget>> generations_;  // newest last
  std::deque<RecentError> errors_;
};

// The refusal reason of a policy verdict's reply at one SMTP stage ("connect", "mail", "rcpt", "data").
RejectReason classify_rejection(std::string_view stage, std::string_view reply);

}  // namespace smarthost::ops
