// Test shorthand: load a configuration from text with an injected environment, and join diagnostics for
// readable assertion failures.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "conf/loader.h"

namespace smarthost::conf::test {

// Variables visible to ${NAME} (and SMARTHOST_ENV); nothing from the real environment leaks in.
inline LoadOptions env(std::map<std::string, std::string> vars = {}) {
  LoadOptions options;
  options.getenv = [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  return options;
}

inline LoadResult load(std::string_view text, const std::string& name = "test.toml", LoadOptions options = env()) {
  return load_string(text, name, options);
}

// The minimal valid upstream, to put before keys under test.
inline constexpr std::string_view kFileUpstream = "provider = \"file\"\n[config]\ndir = \"/tmp/out\"\n";

inline std::string joined(const std::vector<Diagnostic>& list) {
  std::string out;
  for (const Diagnostic& d : list) out += d.to_string() + "\n";
  return out;
}

}  // namespace smarthost::conf::test
