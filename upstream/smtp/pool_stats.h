// Counters of one upstream's SMTP connection pool, for metrics and tests. A plain value type.
#pragma once

#include <cstdint>

namespace smarthost::upstream::smtp {

struct PoolStats {
  uint64_t opened = 0;  // connections opened successfully since start
  uint64_t open_failures = 0;
  uint64_t reused = 0;    // idle connections handed out again after a good probe
  uint64_t replaced = 0;  // idle connections that failed the probe or had expired
  uint32_t open_now = 0;  // open or opening
  uint32_t peak_open = 0;  // the most open at once
};

}  // namespace smarthost::upstream::smtp
