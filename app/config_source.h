// Finds and loads the configuration for a command: --config, $SMARTHOST_CONFIG, /etc/smarthost/smarthost.toml,
// or the embedded development profile; prints every error; sets up logging from it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "app/cli.h"
#include "conf/config.h"

namespace smarthost::app {

inline constexpr const char* kDefaultConfigPath = "/etc/smarthost/smarthost.toml";

struct LoadedConfig {
  std::shared_ptr<const conf::Config> config;
  bool embedded = false;  // no file: the development profile
  std::string path;       // the file loaded, or "" when embedded
};

// Loads the configuration. When no file is named and the default path does not exist, the embedded default is used
// if `allow_embedded`. Errors and warnings go to stderr; nullopt means "exit with kExitConfig".
std::optional<LoadedConfig> load_config(const GlobalOptions& global, bool allow_embedded);

// Installs logging from the config, with --log-level / --log-format overriding it, and registers the secrets.
void setup_logging(const GlobalOptions& global, const conf::Config& config);

}  // namespace smarthost::app
