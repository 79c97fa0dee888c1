// `smarthost serve [--user NAME]`: loads the configuration (a file, the environment, or the embedded development
// profile), drops root when asked, and runs the relay.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <variant>

#include "app/commands.h"
#include "app/config_source.h"
#include "app/privileges.h"
#include "app/relay.h"
#include "app/validation.h"

namespace smarthost::app {
namespace {

// The directories the relay writes: the queue, and the outbox of each `file` upstream.
std::vector<std::filesystem::path> writable_dirs(const conf::Config& c) {
  std::vector<std::filesystem::path> dirs{c.queue.dir};
  for (const auto& u : c.upstreams)
    if (const auto* f = std::get_if<conf::FileConfig>(&u.config)) dirs.emplace_back(f->dir);
  return dirs;
}

// Started as root with --user: hand over the writable directories, then become that user for good (keeping only
// the right to bind ports below 1024). Without root, --user must name the current user.
bool become(const std::string& name, const conf::Config& config) {
  std::string error;
  auto account = find_account(name, error);
  if (!account) {
    spdlog::critical("--user: {}", error);
    return false;
  }
  if (::geteuid() != 0) {
    if (::geteuid() == account->uid) return true;
    spdlog::critical("--user {}: only root can switch users (running as uid {})", name, ::geteuid());
    return false;
  }
  if (!give_directories(writable_dirs(config), *account, error) || !drop_privileges(*account, error)) {
    spdlog::critical("--user {}: {}", name, error);
    return false;
  }
  spdlog::info("running as user {} (uid {}, gid {}) with CAP_NET_BIND_SERVICE only", account->name, account->uid,
               account->gid);
  return true;
}

}  // namespace

int run_serve(const Invocation& inv) {
  std::optional<std::string> user;
  for (size_t i = 0; i < inv.args.size(); ++i) {
    const auto& a = inv.args[i];
    if (a == "--user" && i + 1 < inv.args.size()) {
      user = inv.args[++i];
    } else if (a.rfind("--user=", 0) == 0) {
      user = a.substr(7);
    } else {
      std::cerr << "smarthost serve: unexpected argument '" << a << "'\n";
      return kExitUsage;
    }
  }
  auto loaded = load_config(inv.global, true);
  if (!loaded) return kExitConfig;
  setup_logging(inv.global, *loaded->config);
  if (loaded->embedded) {
    spdlog::info("no configuration file ({} does not exist): running the embedded development profile",
                 kDefaultConfigPath);
  } else if (loaded->environment) {
    spdlog::info("no configuration file ({} does not exist): configured from SMARTHOST_* environment variables",
                 kDefaultConfigPath);
  }
  if (user && !become(*user, *loaded->config)) return kExitConfig;
  if (auto plan = plan_from(*loaded->config); any_check(plan)) {
    // [validation]: the administrator asked for proof that the upstreams work before mail is accepted.
    bool ok = true;
    for (const auto& r : validate_upstreams(*loaded->config, plan)) {
      ok = ok && r.ok;
      if (r.ok) {
        spdlog::info("validation: upstream={} {} ok: {}", r.upstream, r.check, r.detail);
      } else {
        spdlog::error("validation: upstream={} {} FAILED: {}", r.upstream, r.check, r.detail);
      }
    }
    if (!ok) {
      spdlog::critical("cannot start: [validation] checks failed (see above; `smarthost validate` repeats them)");
      return kExitConfig;
    }
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
