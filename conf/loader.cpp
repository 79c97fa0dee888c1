// The loader's pipeline: read the file, parse it (TOML or JSON), merge the environment overlay, expand ${VAR},
// walk the schema into a Config, run the cross-key checks, then freeze the result with its secrets and SHA-256.
// Also the embedded development profile and the effective-configuration printer.
#include "conf/loader.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "conf/checks.h"
#include "conf/interpolation.h"
#include "conf/params.h"
#include "conf/readers.h"
#include "conf/secrets.h"
#include "conf/upstreams.h"

namespace smarthost::conf {

namespace {

// A configuration is a few kilobytes; anything this large is a mistake (or an attack on the reader).
constexpr std::uintmax_t kMaxConfigBytes = 4 * 1024 * 1024;

constexpr std::string_view kEmbeddedName = "(embedded default)";

constexpr std::string_view kDevelopmentProfile = R"(environment = "development"
provider = "file"
name = "outbox"

[config]
dir = "./smarthost-data/outbox"

[server]
listen = ["127.0.0.1:2525"]

[queue]
dir = "./smarthost-data/queue"

[metrics]
listen = "127.0.0.1:9325"
)";

constexpr std::string_view kPrintHeader =
    "# smarthost effective configuration: every default filled in, secrets shown as \"***\".\n";

struct FileText {
  std::string text;
  std::optional<Diagnostic> error;
};

FileText read_config_file(const std::filesystem::path& path) {
  FileText out;
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    out.error = Diagnostic{path.string(), 0, 0, "cannot read the configuration: " + ec.message()};
    return out;
  }
  if (size > kMaxConfigBytes) {
    out.error = Diagnostic{path.string(), 0, 0, "the configuration is larger than 4 MB"};
    return out;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.error = Diagnostic{path.string(), 0, 0, std::string("cannot open the configuration: ") + std::strerror(errno)};
    return out;
  }
  std::ostringstream content;
  content << in.rdbuf();
  out.text = content.str();
  return out;
}

ParsedTree parse_any(std::string_view text, const std::string& name) {
  auto file = std::make_shared<const std::string>(name);
  return is_json_name(name) ? parse_json(text, file) : parse_toml(text, file);
}

EnvLookup lookup_of(const LoadOptions& options) {
  if (options.getenv) return options.getenv;
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

// The environment in force: LoadOptions, then SMARTHOST_ENV, then the file's `environment` key. Only one of the
// known names is returned (it becomes part of a file name); a bad key value is reported by the schema walk.
std::string choose_environment(const Node& root, const LoadOptions& options, const EnvLookup& getenv, Walk& w) {
  std::string chosen;
  std::string source;
  if (options.environment) {
    chosen = *options.environment;
    source = "the requested environment";
  } else if (auto env = getenv("SMARTHOST_ENV"); env && !env->empty()) {
    chosen = *env;
    source = "SMARTHOST_ENV";
  } else if (const Member* m = root.find("environment"); m != nullptr && m->value.kind == Node::Kind::string) {
    chosen = m->value.text;
  }
  if (chosen.empty()) return chosen;
  const auto& names = environment_names();
  if (std::find(names.begin(), names.end(), chosen) != names.end()) return chosen;
  if (!source.empty()) w.error(root.origin, source + " \"" + chosen + "\" must be " + one_of(names));
  return {};
}

// smarthost.<env>.toml (or .json) beside the main file; also <stem>.<env>.* for a main file with another name.
std::optional<std::filesystem::path> find_overlay(const std::filesystem::path& main, const std::string& env) {
  const std::filesystem::path dir = main.parent_path();
  std::vector<std::string> stems{main.stem().string()};
  if (stems.front() != "smarthost") stems.push_back("smarthost");
  const std::string main_ext = main.extension().string();
  for (const std::string& stem : stems) {
    for (const std::string& ext : {main_ext == ".json" ? std::string(".json") : std::string(".toml"),
                                   main_ext == ".json" ? std::string(".toml") : std::string(".json")}) {
      std::filesystem::path candidate = dir / (stem + "." + env + ext);
      std::error_code ec;
      if (std::filesystem::is_regular_file(candidate, ec) &&
          !std::filesystem::equivalent(candidate, main, ec)) {
        return candidate;
      }
    }
  }
  return std::nullopt;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xF];
  }
  return out;
}

void sort_diagnostics(std::vector<Diagnostic>& list, const std::string& main_file) {
  std::stable_sort(list.begin(), list.end(), [&](const Diagnostic& a, const Diagnostic& b) {
    return std::tuple(a.file != main_file, a.file, a.line, a.column) <
           std::tuple(b.file != main_file, b.file, b.line, b.column);
  });
}

std::string print_config(const Config& config, const PrintOptions& po) {
  TomlWriter out;
  if (!config.environment.empty()) out.entry("environment", TomlWriter::quote(config.environment));
  print_upstream_entries(config, out, po);
  print_upstream_sections(config, out, po);
  print_table(config, tables_schema(), out, Place{}, po);
  return std::string(kPrintHeader) + out.text();
}

// Warns when `text` (the contents of `path`) holds one of `secrets` verbatim and group or others can read it.
void warn_readable_secrets(const std::filesystem::path& path, std::string_view text,
                           const std::vector<std::string>& secrets, std::vector<Diagnostic>& warnings) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & (S_IRGRP | S_IROTH)) == 0) return;
  std::size_t first = std::string_view::npos;
  for (const std::string& secret : secrets) first = std::min(first, text.find(secret));
  if (first == std::string_view::npos) return;
  const std::string_view before = text.substr(0, first);
  const int line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
  const std::size_t newline = before.rfind('\n');
  const int column = static_cast<int>(first - (newline == std::string_view::npos ? 0 : newline + 1)) + 1;
  warnings.push_back(Diagnostic{path.string(), line, column,
                                "this file holds a secret and is readable by group or others; restrict it with "
                                "chmod 600, or move the secret to ${VAR} or a KEY_file"});
}

// Everything after parsing: overlay (when `main_path` is set), ${VAR}, schema walk, checks, freeze.
LoadResult finish(ParsedTree parsed, const std::string& name, const std::optional<std::filesystem::path>& main_path,
                  std::string_view main_text, const LoadOptions& options) {
  LoadResult result;
  if (!parsed.tree) {
    result.errors = std::move(parsed.errors);
    return result;
  }
  Node root = std::move(*parsed.tree);
  const EnvLookup getenv = lookup_of(options);
  std::filesystem::path base_dir = main_path ? main_path->parent_path() : std::filesystem::path();
  Walk w(base_dir, options.secret_files);
  w.set_main_origin(Origin{root.origin.file, 1, 1});
  w.remember("", Origin{root.origin.file, 1, 1});

  std::vector<std::pair<std::filesystem::path, std::string>> files;  // read from disk, for the secrets check
  if (main_path) files.emplace_back(*main_path, std::string(main_text));

  const std::string environment = choose_environment(root, options, getenv, w);
  if (main_path && !environment.empty() && w.errors.empty()) {
    if (auto overlay_path = find_overlay(*main_path, environment)) {
      FileText overlay_text = read_config_file(*overlay_path);
      if (overlay_text.error) {
        result.errors.push_back(*overlay_text.error);
        return result;
      }
      ParsedTree overlay = parse_any(overlay_text.text, overlay_path->string());
      if (!overlay.tree) {
        result.errors = std::move(overlay.errors);
        return result;
      }
      merge_overlay(root, std::move(*overlay.tree));
      files.emplace_back(*overlay_path, std::move(overlay_text.text));
    }
  }

  expand_tree(root, getenv, [&w](const Origin& at, const std::string& why) { w.error(at, why); });

  auto config = std::make_shared<Config>();
  std::vector<std::string_view> handled = upstream_form_keys();
  handled.push_back("environment");
  read_table(root, *config, tables_schema(), w, Place{}, handled);
  if (const Member* m = root.find("environment")) {
    w.remember("environment", m->key_origin);
    if (auto i = read_choice(m->value, w, Place{}, "environment", environment_names())) {
      config->environment = std::string(environment_names()[*i]);
    }
  }
  if (!environment.empty()) config->environment = environment;
  read_upstreams(root, *config, w);
  if (w.errors.empty()) check_config(*config, w);

  result.warnings = std::move(w.warnings);
  if (!w.errors.empty()) {
    result.errors = std::move(w.errors);
    sort_diagnostics(result.errors, name);
    return result;
  }
  config->source_path = name;
  config->secrets = collect_secrets(*config);
  for (const auto& [path, text] : files) warn_readable_secrets(path, text, config->secrets, result.warnings);
  config->sha256 = sha256_hex(print_config(*config, PrintOptions{}));
  result.config = std::move(config);
  return result;
}

}  // namespace

std::string Diagnostic::to_string() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

LoadResult load_file(const std::string& path, const LoadOptions& options) {
  FileText text = read_config_file(path);
  if (text.error) {
    LoadResult result;
    result.errors.push_back(*text.error);
    return result;
  }
  return finish(parse_any(text.text, path), path, std::filesystem::path(path), text.text, options);
}

LoadResult load_string(std::string_view text, const std::string& name, const LoadOptions& options) {
  if (text.size() > kMaxConfigBytes) {
    LoadResult result;
    result.errors.push_back(Diagnostic{name, 0, 0, "the configuration is larger than 4 MB"});
    return result;
  }
  return finish(parse_any(text, name), name, std::nullopt, text, options);
}

std::shared_ptr<const Config> embedded_default() {
  LoadOptions options;
  options.environment = "development";
  options.getenv = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  LoadResult result = load_string(kDevelopmentProfile, std::string(kEmbeddedName), options);
  return result.config;  // the profile is fixed and tested to load
}

std::string print_effective(const Config& config) { return print_config(config, PrintOptions{}); }

}  // namespace smarthost::conf
