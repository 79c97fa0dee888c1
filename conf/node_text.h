// Renders a generic tree value as compact JSON text or as a TOML inline value.
// Used for values kept verbatim (Mailgun custom_variables are JSON text); no schema knowledge.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "conf/tree.h"

namespace smarthost::conf {

// Compact JSON: {"a":1,"b":[true,"x"]}.
std::string to_json(const Node& value);

// A TOML inline value: { a = 1, b = [true, "x"] }.
std::string to_toml_inline(const Node& value);

// The TOML inline form of a JSON text made by to_json(); nothing when it is not valid JSON.
std::optional<std::string> json_to_toml_inline(std::string_view json);

}  // namespace smarthost::conf
