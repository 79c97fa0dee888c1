// The configuration as a generic tree with source positions: what the TOML and JSON readers produce and what the
// schema walker (schema.h) consumes. Also merges an environment overlay over a base tree, table by table.
// It knows nothing of the configuration's keys.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace smarthost::conf {

// Where a key or a value starts in its file (line and column are 1-based; 0 when unknown).
struct Origin {
  std::shared_ptr<const std::string> file;
  int line = 0;
  int column = 0;
};

struct Member;

struct Node {
  enum class Kind { table, array, string, integer, floating, boolean };

  Kind kind = Kind::table;
  Origin origin;
  std::string text;         // string
  int64_t integer = 0;      // integer
  double floating = 0;      // floating
  bool boolean = false;     // boolean
  std::vector<Node> items;  // array
  std::vector<Member> members;  // table, in document order

  bool is_table() const { return kind == Kind::table; }
  // The member called `key`, or null.
  const Member* find(std::string_view key) const;
  Member* find(std::string_view key);
};

struct Member {
  std::string key;
  Origin key_origin;
  Node value;
};

// "a table", "an integer", ...: for messages.
std::string_view describe(Node::Kind kind);

// Merges `overlay` over `base`: tables merge key by key (recursively); any other value, arrays included, replaces
// the base value. At the top level, choosing an upstream form in the overlay (single `provider`, failover
// `primary_provider`/`fallback_providers`, or `load_balancing`) drops the base's other forms, and naming a
// different `provider` drops the base's provider `config`, so an overlay can switch providers cleanly.
void merge_overlay(Node& base, Node overlay);

}  // namespace smarthost::conf
