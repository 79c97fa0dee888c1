// Compares two configurations through their effective TOML prints: one with secrets masked (what is shown) and one
// without (what is compared), each turned into a flat list of dotted key = value pairs.
#include "conf/config_diff.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "conf/params.h"
#include "conf/schema.h"
#include "conf/toml_writer.h"
#include "conf/upstreams.h"

namespace smarthost::conf {
namespace {

std::string print(const Config& config, bool mask) {
  TomlWriter out;
  PrintOptions po;
  po.mask_secrets = mask;
  if (!config.environment.empty()) out.entry("environment", TomlWriter::quote(config.environment));
  print_upstream_entries(config, out, po);
  print_upstream_sections(config, out, po);
  print_table(config, tables_schema(), out, Place{}, po);
  return out.text();
}

using Flat = std::vector<std::pair<std::string, std::string>>;

// "[a.b]" / "[[a]]" headers and "key = value" lines into ("a.b.key", "value"); array-of-tables elements get an
// index ("fallback_providers[1]"), and the tables under them follow that index.
Flat flatten(const std::string& text) {
  Flat out;
  std::map<std::string, int> array_count;
  std::string prefix;
  std::istringstream in(text);
  std::string line;
  auto indexed = [&](const std::string& path) {
    // Insert the current index after the longest array-of-tables name that starts the path.
    std::string best;
    for (const auto& [name, count] : array_count) {
      if ((path == name || path.rfind(name + ".", 0) == 0) && name.size() > best.size()) best = name;
    }
    if (best.empty()) return path;
    return best + "[" + std::to_string(array_count[best] - 1) + "]" + path.substr(best.size());
  };
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    if (line.rfind("[[", 0) == 0) {
      std::string name = line.substr(2, line.find("]]") - 2);
      ++array_count[name];
      prefix = indexed(name) + ".";
      continue;
    }
    if (line.front() == '[') {
      prefix = indexed(line.substr(1, line.find(']') - 1)) + ".";
      continue;
    }
    size_t eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    out.emplace_back(prefix + line.substr(0, eq), line.substr(eq + 3));
  }
  return out;
}

const std::string* find(const Flat& flat, const std::string& key) {
  for (const auto& [k, v] : flat)
    if (k == key) return &v;
  return nullptr;
}

}  // namespace

std::vector<KeyChange> changed_keys(const Config& before, const Config& after) {
  const Flat raw_before = flatten(print(before, false)), raw_after = flatten(print(after, false));
  const Flat shown_before = flatten(print(before, true)), shown_after = flatten(print(after, true));
  std::vector<KeyChange> changes;
  auto shown = [](const Flat& flat, const std::string& key) {
    const std::string* v = find(flat, key);
    return v ? *v : std::string();
  };
  for (const auto& [key, value] : raw_after) {
    const std::string* old = find(raw_before, key);
    if (old && *old == value) continue;
    changes.push_back({key, shown(shown_before, key), shown(shown_after, key)});
  }
  for (const auto& [key, value] : raw_before) {
    if (find(raw_after, key)) continue;
    changes.push_back({key, shown(shown_before, key), ""});
  }
  return changes;
}

}  // namespace smarthost::conf
