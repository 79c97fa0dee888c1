// /metrics: the relay snapshot in the Prometheus text format. Names start with smarthost_; labels are bounded
// (upstream names from the configuration, fixed reason/result/state sets; never a recipient or a client address).
// The [metrics] track_* flags switch families off; queue, upstream state, health checks, alerts, process and
// config info are always there.
#pragma once

#include <string>

#include "ops/relay_snapshot.h"

namespace smarthost::ops {

std::string render_metrics(const RelaySnapshot& snapshot, const MetricFamilies& families);

}  // namespace smarthost::ops
