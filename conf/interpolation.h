// ${NAME} and ${NAME:-default} in configuration strings, replaced from the environment (or an injected lookup).
// "$${" stands for a literal "${". Only strings are touched; this file does not know which values are secret.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "conf/tree.h"

namespace smarthost::conf {

using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

struct Expansion {
  std::string text;            // valid when error is empty
  std::string error;           // why the string could not be expanded
};

// Expands one string.
Expansion expand_variables(std::string_view text, const EnvLookup& getenv);

// Expands every string value in the tree (keys are left alone); calls `on_error` with the value's origin for each
// string that cannot be expanded and leaves that string unchanged.
void expand_tree(Node& root, const EnvLookup& getenv,
                 const std::function<void(const Origin&, const std::string&)>& on_error);

}  // namespace smarthost::conf
