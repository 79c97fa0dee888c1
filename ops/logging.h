// Process-wide logging on spdlog: text or JSON lines on stderr, and redaction of every configured secret.
// Components log with spdlog directly; this file only sets the sinks up.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace smarthost::ops {

enum class LogStyle { text, json };
// Where log lines go: stderr (the default; the journal takes it under systemd) or stdout (containers).
enum class LogStream { standard_error, standard_output };

// Installs the default logger. `level` is a spdlog level name ("info", "debug", ...); an unknown name is "info".
void setup_logging(std::string_view level, LogStyle style, LogStream stream = LogStream::standard_error);

// Every occurrence of these strings is replaced by "***" in every log line from now on (at any level).
// Called with the configuration's secrets at each load and reload.
void set_redactions(std::vector<std::string> secrets);

// Replaces each registered secret in `text` with "***" (also used for protocol traces).
std::string redact(std::string_view text);

// Escapes a string for inclusion in a JSON string value (no surrounding quotes).
std::string json_escape(std::string_view text);

}  // namespace smarthost::ops
