// The fallback limits of fleet mode: each instance alone gets a share of what the fleet shares.
#include "policy/fleet_upstream.h"

#include <algorithm>
#include <cmath>

namespace smarthost::policy {

conf::UpstreamOptions fallback_options(const conf::UpstreamOptions& options, double fraction) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  if (fraction <= 0) fraction = 1.0;
  auto scaled = [fraction](uint32_t value) {
    return std::max<uint32_t>(1, static_cast<uint32_t>(std::floor(static_cast<double>(value) * fraction)));
  };
  conf::UpstreamOptions out = options;
  if (out.rate_limit) out.rate_limit = scaled(*out.rate_limit);
  if (out.burst_limit) out.burst_limit = scaled(*out.burst_limit);
  if (out.max_send_rate) out.max_send_rate = *out.max_send_rate * fraction;
  if (out.min_rate_limit) out.min_rate_limit = scaled(*out.min_rate_limit);
  if (out.max_rate_limit) out.max_rate_limit = scaled(*out.max_rate_limit);
  return out;
}

}  // namespace smarthost::policy
