// Environment-variable substitution in configuration strings: ${NAME}, ${NAME:-default}, and $${ for "${".
// An unset variable without a default is an error; an empty one is used as is.
#include "conf/interpolation.h"

#include <cctype>

namespace smarthost::conf {

namespace {

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

}  // namespace

Expansion expand_variables(std::string_view text, const EnvLookup& getenv) {
  Expansion out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.substr(i, 3) == "$${") {
      out.text += "${";
      i += 3;
      continue;
    }
    if (text.substr(i, 2) != "${") {
      out.text += text[i++];
      continue;
    }
    auto close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      out.error = "unterminated ${ (write $${ for a literal ${)";
      return out;
    }
    std::string_view inner = text.substr(i + 2, close - i - 2);
    std::string_view name = inner;
    std::optional<std::string_view> fallback;
    if (auto sep = inner.find(":-"); sep != std::string_view::npos) {
      name = inner.substr(0, sep);
      fallback = inner.substr(sep + 2);
    }
    if (!valid_name(name)) {
      out.error = "'${" + std::string(inner) + "}' does not name an environment variable (letters, digits, _)";
      return out;
    }
    std::optional<std::string> value = getenv(name);
    if (value) {
      out.text += *value;
    } else if (fallback) {
      out.text += *fallback;
    } else {
      out.error = "environment variable " + std::string(name) + " is not set (write ${" + std::string(name) +
                  ":-default} to give a default)";
      return out;
    }
    i = close + 1;
  }
  return out;
}

void expand_tree(Node& root, const EnvLookup& getenv,
                 const std::function<void(const Origin&, const std::string&)>& on_error) {
  switch (root.kind) {
    case Node::Kind::string:
      if (root.text.find('$') != std::string::npos) {
        Expansion e = expand_variables(root.text, getenv);
        if (e.error.empty()) {
          root.text = std::move(e.text);
        } else {
          on_error(root.origin, e.error);
        }
      }
      break;
    case Node::Kind::table:
      for (Member& m : root.members) expand_tree(m.value, getenv, on_error);
      break;
    case Node::Kind::array:
      for (Node& item : root.items) expand_tree(item, getenv, on_error);
      break;
    default:
      break;
  }
}

}  // namespace smarthost::conf
