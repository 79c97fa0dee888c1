// Global option parsing and command dispatch for the smarthost binary.
#include "app/cli.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace smarthost::app {
namespace {

constexpr std::string_view kGlobalHelp =
    "Global options (before or after the command):\n"
    "  --config FILE         configuration file (default: $SMARTHOST_CONFIG, then /etc/smarthost/smarthost.toml;\n"
    "                        with neither, `serve` runs the embedded development profile)\n"
    "  --log-level LEVEL     trace, debug, info, warn, error, critical or off\n"
    "  --log-format FORMAT   text or json\n"
    "  -h, --help            help for the command\n";

void print_overview(std::ostream& out) {
  out << "smarthost: an SMTP smart host that queues mail durably and relays it to provider APIs or SMTP relays.\n\n"
         "Usage: smarthost [global options] COMMAND [arguments]\n\nCommands:\n";
  size_t width = 0;
  for (const auto& c : commands()) width = std::max(width, c.name.size());
  for (const auto& c : commands()) {
    std::string name(c.name);
    name.resize(width + 2, ' ');  // never cut a name: the longest sets the column
    out << "  " << name << c.summary << "\n";
  }
  out << "\n" << kGlobalHelp << "\nRun `smarthost COMMAND --help` for a command's options.\n";
}

// Takes a global option at args[i] (with its value) out of the list; false on a missing value.
bool take_global(std::vector<std::string>& args, size_t i, GlobalOptions& g, std::string& error) {
  const std::string& a = args[i];
  auto value_of = [&](std::string_view flag) -> std::optional<std::string> {
    if (a.size() > flag.size() && a.compare(0, flag.size() + 1, std::string(flag) + "=") == 0)
      return a.substr(flag.size() + 1);
    if (a == flag) {
      if (i + 1 >= args.size()) {
        error = std::string(flag) + " needs a value";
        return std::nullopt;
      }
      std::string v = args[i + 1];
      args.erase(args.begin() + static_cast<long>(i) + 1);
      return v;
    }
    return std::nullopt;
  };
  for (auto [flag, slot] : {std::pair{"--config", &g.config_path}, std::pair{"--log-level", &g.log_level},
                            std::pair{"--log-format", &g.log_format}}) {
    if (a == flag || a.rfind(std::string(flag) + "=", 0) == 0) {
      auto v = value_of(flag);
      if (!v) return false;
      *slot = *v;
      args.erase(args.begin() + static_cast<long>(i));
      return true;
    }
  }
  return true;
}

}  // namespace

bool wants_help(const std::vector<std::string>& args) {
  for (const auto& a : args)
    if (a == "-h" || a == "--help") return true;
  return false;
}

std::optional<std::string> option_value(const std::vector<std::string>& args, size_t& i, std::string_view flag) {
  const std::string& a = args[i];
  if (a == flag && i + 1 < args.size()) return args[++i];
  if (a.size() > flag.size() && a.compare(0, flag.size(), flag) == 0 && a[flag.size()] == '=')
    return a.substr(flag.size() + 1);
  return std::nullopt;
}

int dispatch(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Invocation inv;
  // Global options may appear anywhere before "--"; everything else stays for the command.
  for (size_t i = 0; i < args.size();) {
    if (args[i] == "--") break;
    if (args[i].rfind("--config", 0) == 0 || args[i].rfind("--log-level", 0) == 0 ||
        args[i].rfind("--log-format", 0) == 0) {
      std::string error;
      if (!take_global(args, i, inv.global, error)) {
        std::cerr << "smarthost: " << error << "\n";
        return kExitUsage;
      }
      continue;
    }
    ++i;
  }
  if (!inv.global.config_path) {
    if (const char* env = std::getenv("SMARTHOST_CONFIG"); env && *env) inv.global.config_path = env;
  }
  if (inv.global.log_format && *inv.global.log_format != "text" && *inv.global.log_format != "json") {
    std::cerr << "smarthost: --log-format must be text or json\n";
    return kExitUsage;
  }
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    print_overview(args.empty() ? std::cerr : std::cout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  std::string name = args[0];
  if (name == "--version" || name == "-V") name = "version";
  inv.args.assign(args.begin() + 1, args.end());
  if (name == "help") {
    if (inv.args.empty()) {
      print_overview(std::cout);
      return kExitOk;
    }
    name = inv.args[0];
    inv.args = {"--help"};
  }
  for (const auto& c : commands()) {
    if (c.name != name) continue;
    if (wants_help(inv.args) && name != "sendmail") {
      std::cout << c.usage << "\n" << kGlobalHelp;
      return kExitOk;
    }
    return c.run(inv);
  }
  std::cerr << "smarthost: unknown command '" << name << "'. Run `smarthost help` for the list.\n";
  return kExitUsage;
}

}  // namespace smarthost::app
