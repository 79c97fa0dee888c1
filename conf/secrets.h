// Collects every secret value of a configuration (passwords, API keys, tokens, a redis_url's password, webhook
// URLs) into Config::secrets, for log redaction. It does not print or mask anything itself.
#pragma once

#include <string>
#include <vector>

#include "conf/config.h"

namespace smarthost::conf {

// The distinct non-empty secrets of `config`, longest first (so that redaction replaces whole values first).
std::vector<std::string> collect_secrets(const Config& config);

}  // namespace smarthost::conf
