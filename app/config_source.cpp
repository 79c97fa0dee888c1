// Configuration lookup and loading for CLI commands.
#include "app/config_source.h"

#include <filesystem>
#include <iostream>

#include "conf/loader.h"
#include "ops/logging.h"

namespace smarthost::app {

std::optional<LoadedConfig> load_config(const GlobalOptions& global, bool allow_embedded) {
  LoadedConfig loaded;
  std::string path;
  if (global.config_path) {
    path = *global.config_path;
  } else if (std::error_code ec; std::filesystem::exists(kDefaultConfigPath, ec)) {
    path = kDefaultConfigPath;
  } else if (allow_embedded) {
    loaded.config = conf::embedded_default();
    loaded.embedded = true;
    return loaded;
  } else {
    std::cerr << "smarthost: no configuration file: " << kDefaultConfigPath
              << " does not exist (use --config FILE or SMARTHOST_CONFIG)\n";
    return std::nullopt;
  }
  auto result = conf::load_file(path);
  for (const auto& w : result.warnings) std::cerr << "warning: " << w.to_string() << "\n";
  if (!result.ok()) {
    for (const auto& e : result.errors) std::cerr << e.to_string() << "\n";
    std::cerr << path << ": " << result.errors.size() << (result.errors.size() == 1 ? " error" : " errors") << "\n";
    return std::nullopt;
  }
  loaded.config = result.config;
  loaded.path = path;
  return loaded;
}

void setup_logging(const GlobalOptions& global, const conf::Config& config) {
  std::string level = global.log_level.value_or(config.logging.level);
  bool json = global.log_format ? *global.log_format == "json" : config.logging.format == conf::LogFormat::json;
  ops::set_redactions(config.secrets);
  ops::setup_logging(level, json ? ops::LogStyle::json : ops::LogStyle::text);
}

}  // namespace smarthost::app
