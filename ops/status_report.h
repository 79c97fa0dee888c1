// The human-facing renderings of a relay snapshot: the /status JSON (for scripts and `smarthost status`) and the
// one-line summary that export_interval writes to the log for users without Prometheus. Secrets that reach an
// error text are masked (ops::redact).
#pragma once

#include <string>

#include "ops/relay_snapshot.h"

namespace smarthost::ops {

// {"version":..,"uptime_seconds":..,"ready":..,"upstreams":[{"name","state","circuit","healthy","rate_per_second",
//  "latency_ms","in_flight","delivered","failed",...}],"queue":{...},"messages":{...},"alerts":[..],
//  "last_errors":[..],...}
std::string status_json(const RelaySnapshot& snapshot);

// "stats: connections=2 accepted=10 rejected=1 delivered=9 deferred=0 failed=0 queue=1 oldest=4s
//  errors=0.0% p95=120ms upstreams=[mailgun0 up 310ms, smtp1 down]"
std::string summary_line(const RelaySnapshot& snapshot);

}  // namespace smarthost::ops
