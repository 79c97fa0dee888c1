// The command dispatcher: global options, the command table, help text and exit codes (sysexits).
// Each command lives in its own cmd_*.cpp and registers itself in commands.cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smarthost::app {

// Exit codes: 0 ok, 1 config error, 2 usage error, 75 temporary failure (EX_TEMPFAIL).
inline constexpr int kExitOk = 0;
inline constexpr int kExitConfig = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitTempFail = 75;

struct GlobalOptions {
  std::optional<std::string> config_path;  // --config or SMARTHOST_CONFIG
  std::optional<std::string> log_level;    // --log-level
  std::optional<std::string> log_format;   // --log-format text|json
};

struct Invocation {
  GlobalOptions global;
  std::vector<std::string> args;  // the command's own arguments
};

struct Command {
  std::string_view name;
  std::string_view summary;  // one line for `smarthost help`
  std::string_view usage;    // the full `--help` text
  int (*run)(const Invocation&);
};

// Every command, in the order `help` lists them.
const std::vector<Command>& commands();

// Parses argv (after the program name) and runs the command. Returns the process exit code.
int dispatch(int argc, char** argv);

// True when `args` asks for help (-h or --help).
bool wants_help(const std::vector<std::string>& args);

// The value of `flag` when args[i] is `--flag VALUE` (then `i` moves onto VALUE) or `--flag=VALUE`; else nothing.
std::optional<std::string> option_value(const std::vector<std::string>& args, size_t& i, std::string_view flag);

}  // namespace smarthost::app
