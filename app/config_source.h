// Finds and loads the configuration for a command: --config, $SMARTHOST_CONFIG, /etc/smarthost/smarthost.toml,
// the environment (SMARTHOST_PROVIDER and friends, for containers), or the embedded development profile; prints
// every error; sets up logging from it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "app/cli.h"
#include "conf/config.h"
#include "conf/loader.h"

namespace smarthost::app {

inline constexpr const char* kDefaultConfigPath = "/etc/smarthost/smarthost.toml";

struct LoadedConfig {
  std::shared_ptr<const conf::Config> config;
  bool embedded = false;     // no file: the development profile
  bool environment = false;  // no file: built from SMARTHOST_* variables
  std::string path;       // the file loaded, or "" when embedded
};

// Loads the configuration. When no file is named and the default path does not exist, the embedded default is used
// if `allow_embedded`. Errors and warnings go to stderr; nullopt means "exit with kExitConfig". `secret_files` says
// whether the files behind `X_file` keys are needed (serve, validate), checked (check-config) or left alone
// (commands any user may run that never use a secret: sendmail, queue, status, send-test).
std::optional<LoadedConfig> load_config(const GlobalOptions& global, bool allow_embedded,
                                        conf::SecretFiles secret_files = conf::SecretFiles::read);

// Loads the running configuration's source again (its file, or the environment) for a reload. The embedded
// default has nothing to reload: the result then carries one error saying so.
conf::LoadResult reload_config(const conf::Config& running);

// Installs logging from the config, with --log-level / --log-format overriding it, and registers the secrets.
// A configuration from the environment (a container) logs to stdout; any other to stderr.
void setup_logging(const GlobalOptions& global, const conf::Config& config);

}  // namespace smarthost::app
