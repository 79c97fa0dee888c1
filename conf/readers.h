// The two file formats: TOML (through toml++) and JSON with // and /* */ comments (a small reader of our own,
// since we need line:column for every key and value). Both produce the same generic tree (tree.h).
// Neither knows what the keys mean.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/loader.h"
#include "conf/tree.h"

namespace smarthost::conf {

struct ParsedTree {
  std::optional<Node> tree;  // the top-level table; empty when errors is not empty
  std::vector<Diagnostic> errors;
};

// JSON (RFC 8259) plus // and /* */ comments and trailing commas. The top level must be an object.
// Duplicate keys, null and nesting deeper than 64 levels are errors.
ParsedTree parse_json(std::string_view text, std::shared_ptr<const std::string> file);

// TOML 1.0. Dates and times are errors (no key takes one).
ParsedTree parse_toml(std::string_view text, std::shared_ptr<const std::string> file);

// The format by file name: true when `name` ends in ".json".
bool is_json_name(std::string_view name);

}  // namespace smarthost::conf
