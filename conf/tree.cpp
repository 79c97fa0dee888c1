// The generic configuration tree: member lookup and the table-by-table overlay merge.
// Parsing lives in json_reader.cpp and toml_reader.cpp; meaning lives in the schema.
#include "conf/tree.h"

#include <algorithm>
#include <array>
#include <utility>

namespace smarthost::conf {

namespace {

// The three upstream forms, by their top-level keys.
constexpr std::array<std::string_view, 4> kSingleForm{"provider", "config", "options", "name"};
constexpr std::array<std::string_view, 2> kFailoverForm{"primary_provider", "fallback_providers"};
constexpr std::array<std::string_view, 1> kBalancedForm{"load_balancing"};

template <std::size_t N>
bool has_any(const Node& table, const std::array<std::string_view, N>& keys) {
  return std::any_of(keys.begin(), keys.end(), [&](std::string_view k) { return table.find(k) != nullptr; });
}

template <std::size_t N>
void drop(Node& table, const std::array<std::string_view, N>& keys) {
  std::erase_if(table.members, [&](const Member& m) {
    return std::find(keys.begin(), keys.end(), m.key) != keys.end();
  });
}

void merge_tables(Node& base, Node overlay) {
  for (Member& m : overlay.members) {
    Member* existing = base.find(m.key);
    if (existing == nullptr) {
      base.members.push_back(std::move(m));
    } else if (existing->value.is_table() && m.value.is_table()) {
      merge_tables(existing->value, std::move(m.value));
    } else {
      existing->value = std::move(m.value);
      existing->key_origin = m.key_origin;
    }
  }
}

}  // namespace

const Member* Node::find(std::string_view key) const {
  for (const Member& m : members) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

Member* Node::find(std::string_view key) {
  for (Member& m : members) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

std::string_view describe(Node::Kind kind) {
  switch (kind) {
    case Node::Kind::table: return "a table";
    case Node::Kind::array: return "an array";
    case Node::Kind::string: return "a string";
    case Node::Kind::integer: return "an integer";
    case Node::Kind::floating: return "a float";
    case Node::Kind::boolean: return "a boolean";
  }
  return "a value";
}

void merge_overlay(Node& base, Node overlay) {
  const bool single = has_any(overlay, kSingleForm) && overlay.find("provider") != nullptr;
  const bool failover = has_any(overlay, kFailoverForm);
  const bool balanced = has_any(overlay, kBalancedForm);
  if (single || failover || balanced) {
    if (!single) drop(base, kSingleForm);
    if (!failover) drop(base, kFailoverForm);
    if (!balanced) drop(base, kBalancedForm);
  }
  if (single) {
    const Member* new_provider = overlay.find("provider");
    const Member* old_provider = base.find("provider");
    const bool same = old_provider != nullptr && old_provider->value.kind == Node::Kind::string &&
                      new_provider->value.kind == Node::Kind::string &&
                      old_provider->value.text == new_provider->value.text;
    if (!same) {
      std::erase_if(base.members, [](const Member& m) { return m.key == "config"; });
    }
  }
  merge_tables(base, std::move(overlay));
}

}  // namespace smarthost::conf
