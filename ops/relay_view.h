// How ops/ sees the running relay: read-only views of its parts (and the one control it needs, taking an upstream
// out of rotation), as functions the relay fills in. Each is cheap and thread-safe unless it says otherwise;
// an empty function means the part is absent. ops/ never holds the parts themselves, so a reload may swap them.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "conf/config.h"
#include "policy/router.h"
#include "queue/queue_admin.h"
#include "queue/scheduler.h"
#include "smtpd/server.h"
#include "upstream/transport.h"

namespace smarthost::ops {

struct RelayView {
  std::function<std::shared_ptr<const conf::Config>()> config;  // the configuration in force
  std::function<smtpd::ServerStats()> server_stats;
  std::function<std::vector<std::string>()> listeners;  // where SMTP is accepted; empty when not listening
  std::function<size_t()> queued;                       // active messages (delivering ones included)
  std::function<size_t()> delivering;
  std::function<queue::SchedulerStats()> scheduler_stats;
  std::function<queue::SpoolSyncStats()> spool_syncs;  // the group commit's counts
  std::function<queue::RecoveryReport()> spool_recovery;  // what opening the spool found (fixed for the run)
  // What the spool holds: a disk scan (in constant memory), so called at most every few seconds (QueueCensus
  // caches it).
  std::function<queue::QueueTally(std::error_code&)> queue_tally;
  std::function<std::vector<policy::UpstreamSnapshot>()> upstreams;  // in router order
  std::function<void(size_t index, bool healthy)> set_healthy;        // the health checks' verdict
  // Where alert mail goes: the relay's own delivery path (router), bypassing the queue. Null: no email alerts.
  std::function<upstream::Transport*()> alert_transport;
};

}  // namespace smarthost::ops
