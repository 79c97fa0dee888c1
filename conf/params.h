// Every configuration key: its name, default and bounds, declared side by side in params.cpp (in the manner of
// Postfix's mail_params.h). The upstream forms and cross-key checks that a single key cannot express live in
// upstreams.cpp and checks.cpp.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "conf/config.h"
#include "conf/schema.h"

namespace smarthost::conf {

// Upstream-level keys (each entry of the three forms).
inline constexpr uint32_t kWeightDefault = 1;
inline constexpr uint32_t kWeightMin = 1;
inline constexpr uint32_t kWeightMax = 1000;
inline constexpr std::size_t kMaxUpstreams = 64;
inline constexpr std::size_t kMaxUpstreamNameLength = 64;

// "smtp", "mailgun", ... with their kinds, in the order of the guide.
const std::vector<std::pair<std::string_view, ProviderKind>>& provider_names();
// "round_robin", "weighted", ... for [load_balancing] strategy.
const std::vector<std::pair<std::string_view, Routing>>& strategy_names();
inline constexpr Routing kStrategyDefault = Routing::round_robin;
// "development", "staging", "production".
const std::vector<std::string_view>& environment_names();

// [..config]: the keys every provider has plus the provider's own, as keys of the Upstream.
const Schema<Upstream>& provider_config_schema(ProviderKind kind);
// [..options].
const Schema<UpstreamOptions>& options_schema();
// Every top-level table outside the upstream forms: [failover_policy], [security], ..., [logging].
const Schema<Config>& tables_schema();

// Value checks shared with the cross-key checks.
std::optional<std::string> check_address(std::string_view text);

}  // namespace smarthost::conf
