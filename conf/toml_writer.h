// Writes TOML text: table headers, key = value lines and comments, with correct quoting of keys and strings.
// Used by print_effective; it knows TOML syntax, not the configuration's keys.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace smarthost::conf {

class TomlWriter {
 public:
  // "[path]" (or "[[path]]" for an array-of-tables element), after a blank line.
  void header(std::string_view path, bool array_item = false);
  // "key = value"; `value` is already TOML (see quote(), number()).
  void entry(std::string_view key, std::string_view value);
  // "# text".
  void comment(std::string_view text);

  const std::string& text() const { return out_; }

  // A TOML basic string with escapes: "a \"b\"\n".
  static std::string quote(std::string_view text);
  // A bare key when possible, else a quoted one.
  static std::string key(std::string_view name);
  // A TOML float that reads back to the same double ("0.1", "14.0").
  static std::string number(double value);

 private:
  std::string out_;
};

}  // namespace smarthost::conf
