// `smarthost check-config [--print]`: validates the configuration offline; exit 1 on any error.
#include <iostream>

#include "app/commands.h"
#include "app/config_source.h"
#include "conf/loader.h"

namespace smarthost::app {

int run_check_config(const Invocation& inv) {
  bool print = false;
  for (const auto& a : inv.args) {
    if (a == "--print") {
      print = true;
    } else {
      std::cerr << "smarthost check-config: unknown argument '" << a << "'\n";
      return kExitUsage;
    }
  }
  auto loaded = load_config(inv.global, true, conf::SecretFiles::check);
  if (!loaded) return kExitConfig;
  const auto& c = *loaded->config;
  if (print) {
    std::cout << conf::print_effective(c);
  } else {
    std::cout << (loaded->embedded ? std::string("embedded development profile") : loaded->path) << ": ok ("
              << c.upstreams.size() << (c.upstreams.size() == 1 ? " upstream" : " upstreams") << ", routing "
              << conf::to_string(c.routing) << ")\n";
  }
  return kExitOk;
}

}  // namespace smarthost::app
