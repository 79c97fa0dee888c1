// `smarthost validate [--to ADDR] [--check LIST] [--timeout SECONDS]`: checks each upstream (credentials,
// connection, optionally a test message and the sending domain) and prints one line per check. Exit 0 when all
// passed, 1 when a check failed or the configuration is invalid.
#include <iostream>
#include <sstream>

#include "app/commands.h"
#include "app/config_source.h"
#include "app/validation.h"

namespace smarthost::app {
namespace {

bool parse_checks(const std::string& list, ValidationPlan& plan) {
  plan.credentials = plan.connection = plan.send_test = plan.domain = false;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item == "credentials" || item == "validate_credentials") {
      plan.credentials = true;
    } else if (item == "connection" || item == "test_connection") {
      plan.connection = true;
    } else if (item == "send_test_email" || item == "send") {
      plan.send_test = true;
    } else if (item == "verify_domain" || item == "domain") {
      plan.domain = true;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int run_validate(const Invocation& inv) {
  auto loaded = load_config(inv.global, true);
  if (!loaded) return kExitConfig;
  const auto& config = *loaded->config;
  ValidationPlan plan;  // credentials and connection by default
  plan.domain = config.validation.verify_domain;
  if (config.validation.send_test_email && !config.test_mode.test_email.empty()) {
    plan.send_test = true;
    plan.test_to = config.test_mode.test_email;
  }
  std::optional<std::string> checks;
  for (size_t i = 0; i < inv.args.size(); ++i) {
    const std::string& a = inv.args[i];
    auto value = [&](std::string_view flag) { return option_value(inv.args, i, flag); };
    if (auto v = value("--to")) {
      plan.test_to = *v;
      plan.send_test = true;
    } else if (auto v = value("--check")) {
      checks = *v;
    } else if (auto v = value("--timeout")) {
      char* end = nullptr;
      long seconds = std::strtol(v->c_str(), &end, 10);
      if (end == v->c_str() || *end != '\0' || seconds < 1 || seconds > 600) {
        std::cerr << "smarthost validate: --timeout takes 1 to 600 seconds\n";
        return kExitUsage;
      }
      plan.timeout = std::chrono::seconds(seconds);
    } else {
      std::cerr << "smarthost validate: unknown argument '" << a << "'\n";
      return kExitUsage;
    }
  }
  if (checks) {
    std::string to = plan.test_to;
    if (!parse_checks(*checks, plan)) {
      std::cerr << "smarthost validate: --check takes credentials, connection, send_test_email and verify_domain\n";
      return kExitUsage;
    }
    plan.test_to = to;
  }
  if (plan.send_test && plan.test_to.empty()) {
    std::cerr << "smarthost validate: send_test_email needs --to ADDR (or [test_mode] test_email)\n";
    return kExitUsage;
  }
  auto results = validate_upstreams(config, plan);
  bool ok = print_checks(results, std::cout);
  std::cout << (ok ? "all checks passed\n" : "some checks failed\n");
  return ok ? kExitOk : kExitConfig;
}

}  // namespace smarthost::app
