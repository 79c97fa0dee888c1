// Configuration lookup and loading for CLI commands.
#include "app/config_source.h"

#include <filesystem>
#include <iostream>

#include "conf/env_config.h"
#include "conf/loader.h"
#include "ops/logging.h"

namespace smarthost::app {

std::optional<LoadedConfig> load_config(const GlobalOptions& global, bool allow_embedded,
                                        conf::SecretFiles secret_files) {
  LoadedConfig loaded;
  std::string path;
  if (global.config_path) {
    path = *global.config_path;
  } else if (std::error_code ec; std::filesystem::exists(kDefaultConfigPath, ec)) {
    path = kDefaultConfigPath;
    if (conf::environment_configured()) {
      std::cerr << "warning: " << kDefaultConfigPath << " exists, so SMARTHOST_PROVIDER and the other SMARTHOST_* "
                << "configuration variables are ignored\n";
    }
  } else if (conf::environment_configured()) {
    auto result = conf::load_environment();
    for (const auto& w : result.warnings) std::cerr << "warning: " << w.to_string() << "\n";
    if (!result.ok()) {
      for (const auto& e : result.errors) std::cerr << e.to_string() << "\n";
      std::cerr << conf::kEnvironmentSource << ": " << result.errors.size()
                << (result.errors.size() == 1 ? " error" : " errors") << "\n";
      return std::nullopt;
    }
    loaded.config = result.config;
    loaded.environment = true;
    return loaded;
  } else if (allow_embedded) {
    loaded.config = conf::embedded_default();
    loaded.embedded = true;
    return loaded;
  } else {
    std::cerr << "smarthost: no configuration file: " << kDefaultConfigPath
              << " does not exist (use --config FILE or SMARTHOST_CONFIG)\n";
    return std::nullopt;
  }
  conf::LoadOptions options;
  options.secret_files = secret_files;
  auto result = conf::load_file(path, options);
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

conf::LoadResult reload_config(const conf::Config& running) {
  if (running.source_path == conf::kEnvironmentSource) return conf::load_environment();
  if (running.source_path.empty() || running.source_path.front() == '(') {
    conf::LoadResult result;
    result.errors.push_back(conf::Diagnostic{running.source_path, 0, 0,
                                             "the embedded default has no file to reload; start with --config"});
    return result;
  }
  return conf::load_file(running.source_path);
}

void setup_logging(const GlobalOptions& global, const conf::Config& config) {
  std::string level = global.log_level.value_or(config.logging.level);
  bool json = global.log_format ? *global.log_format == "json" : config.logging.format == conf::LogFormat::json;
  bool container = config.source_path == conf::kEnvironmentSource;
  ops::set_redactions(config.secrets);
  ops::setup_logging(level, json ? ops::LogStyle::json : ops::LogStyle::text,
                     container ? ops::LogStream::standard_output : ops::LogStream::standard_error);
}

}  // namespace smarthost::app
