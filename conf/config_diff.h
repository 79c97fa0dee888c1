// Which keys differ between two configurations, for the reload log line ("changed: server.listen, config.api_key").
// Secrets are compared by value but only ever shown as "***". It does not load or validate anything.
#pragma once

#include <string>
#include <vector>

#include "conf/config.h"

namespace smarthost::conf {

struct KeyChange {
  std::string key;     // dotted, e.g. "server.listen", "fallback_providers[1].config.api_key"
  std::string before;  // the value as TOML text with secrets as "***"; "" when the key was absent
  std::string after;
};

// The keys whose effective values (defaults included) differ, in the order the configuration prints them.
std::vector<KeyChange> changed_keys(const Config& before, const Config& after);

}  // namespace smarthost::conf
