// `smarthost serve`: loads the configuration (or the embedded development profile) and runs the relay.
#include <spdlog/spdlog.h>

#include <iostream>
#include <stdexcept>

#include "app/commands.h"
#include "app/config_source.h"
#include "app/relay.h"

namespace smarthost::app {

int run_serve(const Invocation& inv) {
  if (!inv.args.empty()) {
    std::cerr << "smarthost serve: unexpected argument '" << inv.args.front() << "'\n";
    return kExitUsage;
  }
  auto loaded = load_config(inv.global, true);
  if (!loaded) return kExitConfig;
  setup_logging(inv.global, *loaded->config);
  if (loaded->embedded) {
    spdlog::info("no configuration file ({} does not exist): running the embedded development profile",
                 kDefaultConfigPath);
  }
  try {
    Relay relay(loaded->config);
    return relay.run();
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return kExitTempFail;
  }
}

}  // namespace smarthost::app
