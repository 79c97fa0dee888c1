// The configuration entirely from environment variables, for containers: SMARTHOST_PROVIDER, SMARTHOST_API_KEY and
// the others listed by environment_variables(), each also as NAME_FILE (Docker secrets). It turns them into a
// configuration text and runs that through the normal loader, so every check and default is the file's.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/loader.h"

namespace smarthost::conf {

// Config::source_path of a configuration built from the environment.
inline constexpr std::string_view kEnvironmentSource = "(environment)";

struct EnvVariable {
  std::string_view name;  // e.g. "SMARTHOST_API_KEY"
  std::string_view key;   // where it goes, e.g. "config.api_key" (documentation)
  std::string_view help;  // one line
};

// Every variable the environment source reads, in documentation order.
const std::vector<EnvVariable>& environment_variables();

struct EnvSource {
  // Looks a variable up; defaults to ::getenv.
  std::function<std::optional<std::string>(std::string_view)> getenv;
  // The names of every variable set, to warn about unknown SMARTHOST_* names; defaults to the process's environ.
  std::vector<std::string> names;
  bool names_given = false;  // use `names` even when empty
};

// True when SMARTHOST_PROVIDER (or SMARTHOST_PROVIDER_FILE) is set: the environment describes a configuration.
bool environment_configured(const EnvSource& source = {});

// Builds the configuration from the environment. Errors name the variable ("SMARTHOST_SMTP_PORT: ..."); setting
// both NAME and NAME_FILE is an error; an unknown SMARTHOST_* name is a warning with a "did you mean".
LoadResult load_environment(const EnvSource& source = {});

}  // namespace smarthost::conf
