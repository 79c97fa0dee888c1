// Loads, validates and freezes a configuration from TOML or JSON (with comments), or builds the embedded default.
// A load returns either a complete immutable Config or every error found, each with file:line:col.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"

namespace smarthost::conf {

struct Diagnostic {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string message;
  // "file:line:col: message" (or "file: message" without a position).
  std::string to_string() const;
};

// What loading does with the files behind `X_file` keys (API keys, passwords).
enum class SecretFiles {
  read,        // read them; one that cannot be read is an error (serve, validate)
  check,       // read them; one that cannot be read is a warning (check-config on a machine without the secrets)
  skip,        // do not open them (sendmail, queue, status: commands that never use a secret, run by any user)
};

// What an `X_file` key holds when its file was not read (SecretFiles::check or ::skip).
inline constexpr const char* kUnreadSecret = "(secret file not read)";

struct LoadOptions {
  SecretFiles secret_files = SecretFiles::read;
  // Overrides `environment` / SMARTHOST_ENV when set.
  std::optional<std::string> environment;
  // Looks up environment variables for ${NAME}; defaults to ::getenv. Tests inject their own.
  std::function<std::optional<std::string>(std::string_view)> getenv;
};

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when errors is not empty
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;  // e.g. a secrets file readable by group or others
  bool ok() const { return config != nullptr; }
};

// Reads `path`; a name ending in ".json" is JSON with // and /* */ comments, anything else is TOML.
// Merges smarthost.<environment>.toml (or .json) from the same directory over it, table by table.
LoadResult load_file(const std::string& path, const LoadOptions& options = {});

// Parses text as if it came from a file named `name` (its ending picks the format). No overlay is merged.
LoadResult load_string(std::string_view text, const std::string& name, const LoadOptions& options = {});

// The development profile used when no config file exists: listen on 127.0.0.1:2525, queue in
// ./smarthost-data/queue, deliver with the `file` provider into ./smarthost-data/outbox.
std::shared_ptr<const Config> embedded_default();

// The effective configuration as TOML, every default filled in, every secret shown as "***".
std::string print_effective(const Config& config);

}  // namespace smarthost::conf
