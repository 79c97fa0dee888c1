// The environment-only configuration source: each SMARTHOST_* variable (or its _FILE twin) becomes one line of a
// generated TOML text, which the normal loader validates. Diagnostics are mapped back to the variable's name.
// It does not read any configuration file, and it never puts a secret into a message.
#include "conf/env_config.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "conf/spelling.h"
#include "conf/toml_writer.h"

extern char** environ;

namespace smarthost::conf {
namespace {

enum class Kind {
  text,      // a TOML string
  integer,   // a TOML integer (anything else is quoted, and the schema reports the type)
  boolean,   // true/false, also 1/0, yes/no, on/off
  list,      // comma-separated strings
  quantity,  // a duration or a size: an integer as is, "30s" or "25MB" quoted
};

struct Variable {
  std::string_view name;
  std::string_view table;  // "" = top level
  std::string_view key;    // "" = chosen by provider (SMARTHOST_API_KEY)
  Kind kind;
  std::string_view help;
};

constexpr std::string_view kPrefix = "SMARTHOST_";
constexpr std::string_view kFileSuffix = "_FILE";
constexpr std::string_view kDefaultListen = "0.0.0.0:2525";
// A secret file is a few kilobytes at most; a larger one is a mistake.
constexpr std::uintmax_t kMaxSecretFile = 64 * 1024;

const std::vector<Variable>& table() {
  static const std::vector<Variable> vars = {
      {"SMARTHOST_PROVIDER", "", "provider", Kind::text, "smtp, mailgun, sendgrid, postmark, ses or file (required)"},
      {"SMARTHOST_UPSTREAM_NAME", "", "name", Kind::text, "the upstream's name in logs and metrics"},
      {"SMARTHOST_API_KEY", "config", "", Kind::text,
       "mailgun/sendgrid api_key, postmark server_token"},
      {"SMARTHOST_DOMAIN", "config", "domain", Kind::text, "mailgun sending domain"},
      {"SMARTHOST_REGION", "config", "region", Kind::text, "mailgun us|eu, ses AWS region"},
      {"SMARTHOST_ENDPOINT", "config", "endpoint", Kind::text, "base URL (HTTP providers) or host:port (smtp)"},
      {"SMARTHOST_SMTP_HOST", "config", "host", Kind::text, "smtp: relay host"},
      {"SMARTHOST_SMTP_PORT", "config", "port", Kind::integer, "smtp: relay port"},
      {"SMARTHOST_SMTP_USERNAME", "config", "username", Kind::text, "smtp: AUTH user"},
      {"SMARTHOST_SMTP_PASSWORD", "config", "password", Kind::text, "smtp: AUTH password"},
      {"SMARTHOST_SMTP_STARTTLS", "config", "use_tls", Kind::boolean, "smtp: require STARTTLS"},
      {"SMARTHOST_SMTP_SSL", "config", "use_ssl", Kind::boolean, "smtp: implicit TLS"},
      {"SMARTHOST_AWS_ACCESS_KEY_ID", "config", "aws_access_key_id", Kind::text, "ses: access key id"},
      {"SMARTHOST_AWS_SECRET_ACCESS_KEY", "config", "aws_secret_access_key", Kind::text, "ses: secret key"},
      {"SMARTHOST_AWS_SESSION_TOKEN", "config", "aws_session_token", Kind::text, "ses: session token"},
      {"SMARTHOST_CONFIGURATION_SET", "config", "configuration_set", Kind::text, "ses: configuration set"},
      {"SMARTHOST_MESSAGE_STREAM", "config", "message_stream", Kind::text, "postmark: message stream"},
      {"SMARTHOST_OUTBOX_DIR", "config", "dir", Kind::text, "file: directory the messages are written to"},
      {"SMARTHOST_FROM_EMAIL", "config", "from_email", Kind::text, "sender address for messages without From"},
      {"SMARTHOST_FROM_NAME", "config", "from_name", Kind::text, "sender name with from_email"},
      {"SMARTHOST_REPLY_TO", "config", "reply_to", Kind::text, "Reply-To for messages without one"},
      {"SMARTHOST_FROM_MODE", "config", "from_mode", Kind::text, "missing|always"},
      {"SMARTHOST_RATE_LIMIT", "options", "rate_limit", Kind::integer, "messages per rate_limit_window"},
      {"SMARTHOST_RATE_LIMIT_WINDOW", "options", "rate_limit_window", Kind::quantity, "window of rate_limit"},
      {"SMARTHOST_LISTEN", "server", "listen", Kind::list, "SMTP listeners, comma-separated (default 0.0.0.0:2525)"},
      {"SMARTHOST_LISTEN_TLS", "server", "listen_tls", Kind::list, "implicit-TLS listeners, comma-separated"},
      {"SMARTHOST_HOSTNAME", "server", "hostname", Kind::text, "name in the greeting and Received headers"},
      {"SMARTHOST_MAX_MESSAGE_SIZE", "server", "max_message_size", Kind::quantity, "largest message, e.g. 25MB"},
      {"SMARTHOST_REQUIRE_AUTH", "server", "require_auth", Kind::boolean, "clients must AUTH to relay"},
      {"SMARTHOST_REQUIRE_TLS", "server", "require_tls", Kind::boolean, "clients must use TLS"},
      {"SMARTHOST_USERS_FILE", "server", "users_file", Kind::text, "user:hash lines for SMTP AUTH"},
      {"SMARTHOST_ALLOWED_SENDER_DOMAINS", "server", "allowed_sender_domains", Kind::list, "comma-separated"},
      {"SMARTHOST_DRAIN_TIMEOUT", "server", "drain_timeout", Kind::quantity, "SIGTERM: time open sessions get"},
      {"SMARTHOST_ALLOWED_IPS", "security", "allowed_ips", Kind::list,
       "client CIDRs allowed to relay, comma-separated (default: loopback only)"},
      {"SMARTHOST_BLOCKED_IPS", "security", "blocked_ips", Kind::list, "client CIDRs refused, comma-separated"},
      {"SMARTHOST_TLS_CERT", "security", "certificate_path", Kind::text, "server certificate (PEM) for STARTTLS"},
      {"SMARTHOST_TLS_KEY", "security", "private_key_path", Kind::text, "its private key (PEM)"},
      {"SMARTHOST_QUEUE_DIR", "queue", "dir", Kind::text, "the spool: the only writable path"},
      {"SMARTHOST_METRICS_LISTEN", "metrics", "listen", Kind::text, "/metrics, /healthz and /readyz address"},
      {"SMARTHOST_LOG_LEVEL", "logging", "level", Kind::text, "trace, debug, info, warn or error"},
      {"SMARTHOST_LOG_FORMAT", "logging", "format", Kind::text, "text or json"},
  };
  return vars;
}

// Variables that are read elsewhere, so not "unknown".
constexpr std::string_view kOtherNames[] = {"SMARTHOST_CONFIG", "SMARTHOST_ENV", "SMARTHOST_BIN",
                                            "SMARTHOST_SOURCE_DIR"};

std::vector<std::string> process_names() {
  std::vector<std::string> names;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    names.emplace_back(entry.substr(0, entry.find('=')));
  }
  return names;
}

std::optional<std::string> default_getenv(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

struct Value {
  std::optional<std::string> text;
  std::string error;
};

// NAME, or the contents of the file NAME_FILE names (one trailing newline stripped). Both at once is an error.
Value read_variable(std::string_view name, const EnvSource& source) {
  auto getenv = source.getenv ? source.getenv : default_getenv;
  Value v;
  auto direct = getenv(name);
  auto file = getenv(std::string(name) + std::string(kFileSuffix));
  if (direct && file) {
    v.error = std::string(name) + " and " + std::string(name) + "_FILE are both set; set only one";
    return v;
  }
  if (!file) {
    v.text = direct;
    return v;
  }
  std::error_code ec;
  auto size = std::filesystem::file_size(*file, ec);
  if (ec) {
    v.error = std::string(name) + "_FILE: cannot read " + *file + ": " + ec.message();
    return v;
  }
  if (size > kMaxSecretFile) {
    v.error = std::string(name) + "_FILE: " + *file + " is larger than 64 KB";
    return v;
  }
  std::ifstream in(*file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in && !in.eof()) {
    v.error = std::string(name) + "_FILE: cannot read " + *file;
    return v;
  }
  std::string text = content.str();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  v.text = std::move(text);
  return v;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// A string for the generated TOML: quoted, and "${" kept literal (the loader expands ${NAME} in strings).
std::string toml_string(std::string_view text) {
  std::string escaped;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "${") == 0) escaped += '$';
    escaped += text[i];
  }
  return TomlWriter::quote(escaped);
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string toml_value(const Variable& var, const std::string& raw) {
  switch (var.kind) {
    case Kind::text:
      return toml_string(raw);
    case Kind::integer:
    case Kind::quantity: {
      std::string t = trim(raw);
      return all_digits(t) ? t : toml_string(t);
    }
    case Kind::boolean: {
      std::string t = trim(raw);
      std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
      if (t == "true" || t == "1" || t == "yes" || t == "on") return "true";
      if (t == "false" || t == "0" || t == "no" || t == "off" || t.empty()) return "false";
      return toml_string(raw);
    }
    case Kind::list: {
      std::string out = "[";
      std::string_view rest = raw;
      bool first = true;
      while (!rest.empty()) {
        size_t comma = rest.find(',');
        std::string item = trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (item.empty()) continue;
        out += (first ? "" : ", ") + toml_string(item);
        first = false;
      }
      return out + "]";
    }
  }
  return toml_string(raw);
}

// The generated text and, per line, the variable it came from ("" for headers).
struct Generated {
  std::string text;
  std::vector<std::string> line_variable{""};  // index 0 unused: lines are 1-based
  void line(std::string_view content, std::string_view variable) {
    text += content;
    text += '\n';
    line_variable.emplace_back(variable);
  }
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

const std::vector<EnvVariable>& environment_variables() {
  static const std::vector<EnvVariable> list = [] {
    std::vector<EnvVariable> out;
    for (const auto& v : table()) out.push_back({v.name, v.key.empty() ? "config.api_key" : v.key, v.help});
    return out;
  }();
  return list;
}

bool environment_configured(const EnvSource& source) {
  auto getenv = source.getenv ? source.getenv : default_getenv;
  return getenv("SMARTHOST_PROVIDER").has_value() || getenv("SMARTHOST_PROVIDER_FILE").has_value();
}

LoadResult load_environment(const EnvSource& source) {
  LoadResult result;
  const std::string origin(kEnvironmentSource);

  std::map<std::string_view, std::string> values;  // variable -> raw value
  for (const auto& var : table()) {
    Value v = read_variable(var.name, source);
    if (!v.error.empty()) {
      result.errors.push_back(Diagnostic{origin, 0, 0, v.error});
      continue;
    }
    if (v.text) values[var.name] = std::move(*v.text);
  }

  // Unknown SMARTHOST_* names are most likely typos: say which known one was meant.
  std::vector<std::string> names = source.names_given || !source.names.empty() ? source.names : process_names();
  std::vector<std::string_view> known;
  for (const auto& var : table()) known.push_back(var.name);
  for (auto other : kOtherNames) known.push_back(other);
  for (const auto& name : names) {
    if (name.rfind(kPrefix, 0) != 0) continue;
    std::string_view base = name;
    if (base.size() > kFileSuffix.size() && base.ends_with(kFileSuffix)) base.remove_suffix(kFileSuffix.size());
    if (std::find(known.begin(), known.end(), base) != known.end()) continue;
    std::string message = "unknown variable " + name + " (ignored)";
    if (auto near = closest(base, known)) message += "; did you mean " + *near + "?";
    result.warnings.push_back(Diagnostic{origin, 0, 0, message});
  }

  if (!values.contains("SMARTHOST_PROVIDER")) {
    result.errors.push_back(Diagnostic{origin, 0, 0, "SMARTHOST_PROVIDER is not set"});
  }
  if (!result.errors.empty()) return result;

  const std::string provider = lower(trim(values["SMARTHOST_PROVIDER"]));
  values["SMARTHOST_PROVIDER"] = provider;
  if (!values.contains("SMARTHOST_LISTEN")) values["SMARTHOST_LISTEN"] = std::string(kDefaultListen);

  Generated g;
  // Top-level keys first, then one table at a time, in the order of the variable table.
  std::vector<std::string_view> tables{""};
  for (const auto& var : table())
    if (std::find(tables.begin(), tables.end(), var.table) == tables.end()) tables.push_back(var.table);
  for (auto t : tables) {
    bool header = false;
    for (const auto& var : table()) {
      if (var.table != t) continue;
      auto it = values.find(var.name);
      if (it == values.end()) continue;
      if (!t.empty() && !header) {
        g.line("[" + std::string(t) + "]", "");
        header = true;
      }
      std::string key(var.key);
      if (key.empty()) key = provider == "postmark" ? "server_token" : "api_key";
      g.line(key + " = " + toml_value(var, it->second), var.name);
    }
  }

  LoadOptions options;
  options.getenv = source.getenv ? source.getenv : default_getenv;
  LoadResult loaded = load_string(g.text, origin + ".toml", options);
  auto map_back = [&](Diagnostic d) {
    d.file = origin;
    if (d.line > 0 && static_cast<size_t>(d.line) < g.line_variable.size() && !g.line_variable[d.line].empty()) {
      d.message = g.line_variable[d.line] + ": " + d.message;
    }
    d.line = 0;
    d.column = 0;
    return d;
  };
  for (auto& d : loaded.errors) result.errors.push_back(map_back(std::move(d)));
  for (auto& d : loaded.warnings) result.warnings.push_back(map_back(std::move(d)));
  if (!loaded.ok()) return result;
  auto config = std::make_shared<Config>(*loaded.config);
  config->source_path = origin;
  result.config = std::move(config);
  return result;
}

}  // namespace smarthost::conf
