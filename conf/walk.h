// The state of one schema walk: where we are (Place), the errors and warnings found so far, where each table and
// key was seen (for checks that run after the walk), and the reading of `X_file` values.
// It does not know any key; schema.h and params.cpp do.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/interpolation.h"
#include "conf/loader.h"
#include "conf/tree.h"

namespace smarthost::conf {

// A table's place in the configuration.
struct Place {
  std::string path;    // with indices, for messages: "fallback_providers[1].config"; "" at the top level
  std::string header;  // without indices, for printing TOML headers: "fallback_providers.config"

  // "[fallback_providers[1].config]" or "the top level".
  std::string display() const;
  // "'port' in [config]" or "'environment' at the top level".
  std::string describe_key(std::string_view key) const;
  // The dotted path of a key in this table: "config.port".
  std::string key_path(std::string_view key) const;
  Place child(std::string_view key) const;
  Place item(std::string_view key, std::size_t index) const;
};

class Walk {
 public:
  explicit Walk(std::filesystem::path base_dir = {}, SecretFiles secret_files = SecretFiles::read);

  void error(const Origin& at, std::string message);
  void warning(const Origin& at, std::string message);

  // "<key> must be <expected>; got <a string>".
  void type_error(const Node& value, const Place& place, std::string_view key, std::string_view expected);
  // "<key> must be <range>; got <shown>".
  void range_error(const Node& value, const Place& place, std::string_view key, std::string_view range,
                   std::string_view shown);

  // Records where a table or key was seen, under its dotted path with indices ("security.allowed_ips").
  void remember(const std::string& path, const Origin& at);
  bool seen(std::string_view path) const;
  // The recorded origin of `path`, else of its closest recorded parent, else the top of the main file.
  Origin where(std::string_view path) const;

  // The value of an `X_file` key: the file's contents without one trailing newline. A relative path is taken
  // from the main configuration file's directory. Warns when the file is readable by group or others. With
  // SecretFiles::check a file that cannot be read is a warning, with ::skip it is not opened; both then give
  // kUnreadSecret.
  std::optional<std::string> read_value_file(const std::string& path, const Origin& at, std::string_view key_desc);

  void set_main_origin(Origin origin) { main_origin_ = std::move(origin); }

  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;

 private:
  std::filesystem::path base_dir_;
  SecretFiles secret_files_;
  std::map<std::string, Origin, std::less<>> seen_;
  Origin main_origin_;
};

// A Diagnostic at `at`.
Diagnostic diagnostic_at(const Origin& at, std::string message);

}  // namespace smarthost::conf
