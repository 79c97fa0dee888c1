// TOML through toml++ (the only file that includes it: it is slow to compile), converted into the generic tree
// with each key's and value's line:column. It reports toml++'s syntax error; it does not interpret keys.
#include <algorithm>
#include <toml++/toml.h>

#include "conf/readers.h"

namespace smarthost::conf {

namespace {

Origin origin_of(const toml::source_region& region, const std::shared_ptr<const std::string>& file) {
  return Origin{file, static_cast<int>(region.begin.line), static_cast<int>(region.begin.column)};
}

class TomlConverter {
 public:
  explicit TomlConverter(std::shared_ptr<const std::string> file) : file_(std::move(file)) {}

  Node convert(const toml::node& in) {
    Node out;
    out.origin = origin_of(in.source(), file_);
    switch (in.type()) {
      case toml::node_type::table: {
        out.kind = Node::Kind::table;
        for (auto&& [key, value] : *in.as_table()) {
          Member m;
          m.key = std::string(key.str());
          m.key_origin = origin_of(key.source(), file_);
          m.value = convert(value);
          out.members.push_back(std::move(m));
        }
        // toml++ keeps keys sorted by name; restore the document order so that errors read top to bottom.
        std::stable_sort(out.members.begin(), out.members.end(), [](const Member& a, const Member& b) {
          return std::pair(a.key_origin.line, a.key_origin.column) < std::pair(b.key_origin.line, b.key_origin.column);
        });
        break;
      }
      case toml::node_type::array:
        out.kind = Node::Kind::array;
        for (const toml::node& item : *in.as_array()) out.items.push_back(convert(item));
        break;
      case toml::node_type::string:
        out.kind = Node::Kind::string;
        out.text = in.as_string()->get();
        break;
      case toml::node_type::integer:
        out.kind = Node::Kind::integer;
        out.integer = in.as_integer()->get();
        break;
      case toml::node_type::floating_point:
        out.kind = Node::Kind::floating;
        out.floating = in.as_floating_point()->get();
        break;
      case toml::node_type::boolean:
        out.kind = Node::Kind::boolean;
        out.boolean = in.as_boolean()->get();
        break;
      default:
        errors_.push_back(Diagnostic{*file_, out.origin.line, out.origin.column,
                                     "dates and times are not used by any key; write a string or a number"});
        break;
    }
    return out;
  }

  std::vector<Diagnostic> errors_;

 private:
  std::shared_ptr<const std::string> file_;
};

}  // namespace

ParsedTree parse_toml(std::string_view text, std::shared_ptr<const std::string> file) {
  ParsedTree result;
  toml::table table;
  try {
    table = toml::parse(text, *file);
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    result.errors.push_back(
        Diagnostic{*file, static_cast<int>(begin.line), static_cast<int>(begin.column), std::string(e.description())});
    return result;
  }
  TomlConverter converter(file);
  Node root = converter.convert(table);
  root.origin = Origin{file, 1, 1};
  if (!converter.errors_.empty()) {
    result.errors = std::move(converter.errors_);
    return result;
  }
  result.tree = std::move(root);
  return result;
}

}  // namespace smarthost::conf
