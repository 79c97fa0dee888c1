// JSON and TOML-inline rendering of generic tree values (for values stored as JSON text).
// Parsing is done by the readers; this only writes.
#include "conf/node_text.h"

#include <memory>

#include "conf/readers.h"
#include "conf/toml_writer.h"

namespace smarthost::conf {

namespace {

// A TOML basic string is also a valid JSON string: the same quotes, the same escapes (\b \t \n \f \r \" \\ and
// \uXXXX for the other control characters).
std::string json_quote(std::string_view text) { return TomlWriter::quote(text); }

}  // namespace

std::string to_json(const Node& value) {
  switch (value.kind) {
    case Node::Kind::string: return json_quote(value.text);
    case Node::Kind::integer: return std::to_string(value.integer);
    case Node::Kind::floating: {
      std::string n = TomlWriter::number(value.floating);
      return (n == "inf" || n == "-inf" || n == "nan") ? "null" : n;
    }
    case Node::Kind::boolean: return value.boolean ? "true" : "false";
    case Node::Kind::array: {
      std::string out = "[";
      for (std::size_t i = 0; i < value.items.size(); ++i) {
        if (i != 0) out += ',';
        out += to_json(value.items[i]);
      }
      return out + "]";
    }
    case Node::Kind::table: {
      std::string out = "{";
      for (std::size_t i = 0; i < value.members.size(); ++i) {
        if (i != 0) out += ',';
        out += json_quote(value.members[i].key) + ":" + to_json(value.members[i].value);
      }
      return out + "}";
    }
  }
  return "null";
}

std::string to_toml_inline(const Node& value) {
  switch (value.kind) {
    case Node::Kind::string: return TomlWriter::quote(value.text);
    case Node::Kind::integer: return std::to_string(value.integer);
    case Node::Kind::floating: return TomlWriter::number(value.floating);
    case Node::Kind::boolean: return value.boolean ? "true" : "false";
    case Node::Kind::array: {
      std::string out = "[";
      for (std::size_t i = 0; i < value.items.size(); ++i) {
        if (i != 0) out += ", ";
        out += to_toml_inline(value.items[i]);
      }
      return out + "]";
    }
    case Node::Kind::table: {
      if (value.members.empty()) return "{}";
      std::string out = "{ ";
      for (std::size_t i = 0; i < value.members.size(); ++i) {
        if (i != 0) out += ", ";
        out += TomlWriter::key(value.members[i].key) + " = " + to_toml_inline(value.members[i].value);
      }
      return out + " }";
    }
  }
  return "\"\"";
}

std::optional<std::string> json_to_toml_inline(std::string_view json) {
  static const auto kName = std::make_shared<const std::string>("(value)");
  std::string wrapped = "{\"v\":" + std::string(json) + "}";
  ParsedTree parsed = parse_json(wrapped, kName);
  if (!parsed.tree || parsed.tree->members.size() != 1) return std::nullopt;
  return to_toml_inline(parsed.tree->members.front().value);
}

}  // namespace smarthost::conf
