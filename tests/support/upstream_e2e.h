// Shared steps of the end-to-end upstream tests (tests/integration/upstream_*_test.cpp): submit exact messages to
// `smarthost serve` over SMTP, wait for the relay's log lines, read its queue with `smarthost queue list --json`,
// pick fields out of raw messages, and run the CONNECT proxy (connect_proxy.py). Header-only; knows no provider.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/relay.h"
#include "tests/support/smtp_wire.h"
#include "tests/support/temp_dir.h"

// Starts the relay inside a test; a provider left out of this build skips the test instead of failing it.
#define E2E_START_RELAY(relay)                                                                        \
  do {                                                                                                \
    if (!(relay).start()) {                                                                           \
      if ((relay).log().find("is not available in this build") != std::string::npos)                 \
        GTEST_SKIP() << "this provider is not built into smarthost";                                  \
      FAIL() << "smarthost serve did not start:\n" << (relay).log();                                 \
    }                                                                                                 \
  } while (0)

namespace smarthost::test::e2e {

using namespace std::chrono_literals;

// Polls `done` every 10 ms until it holds or `timeout` passes; returns its last value.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

// The first line of the relay's log holding every one of `needles`; empty when none does.
inline std::string log_line(const Relay& relay, const std::vector<std::string>& needles) {
  std::string log = relay.log();
  std::size_t pos = 0;
  while (pos < log.size()) {
    auto eol = log.find('\n', pos);
    std::string line = log.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    bool all = true;
    for (const auto& n : needles) all = all && line.find(n) != std::string::npos;
    if (all) return line;
    if (eol == std::string::npos) break;
    pos = eol + 1;
  }
  return {};
}

inline std::string wait_for_log_line(const Relay& relay, const std::vector<std::string>& needles,
                                     std::chrono::milliseconds timeout = 5s) {
  std::string line;
  wait_until([&] { return !(line = log_line(relay, needles)).empty(); }, timeout);
  return line;
}

// Inserts `line` at the top of `table` ("[queue]") in the relay's generated config (before start()).
inline bool add_to_table(const Relay& relay, const std::string& table, const std::string& line) {
  std::string cfg = read_file(relay.config_path());
  auto at = cfg.find(table + "\n");
  if (at == std::string::npos) return false;
  cfg.insert(at + table.size() + 1, line + "\n");
  std::ofstream(relay.config_path()) << cfg;
  return true;
}

// `content` made ready for DATA: CRLF at the end, a dot doubled at the start of each line, the final dot line.
inline std::string dot_stuffed(std::string_view content) {
  std::string out;
  bool line_start = true;
  for (char c : content) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  if (!out.ends_with("\r\n")) out += "\r\n";
  return out + ".\r\n";
}

struct Sent {
  std::string reply;   // the reply to the final dot, or to the step that failed
  bool accepted() const { return reply_code(reply) == 250; }
};

// One SMTP session to the relay: EHLO, MAIL FROM (with `mail_params`), each RCPT, DATA with `content` sent
// dot-stuffed exactly as given (CRLF line ends expected), QUIT.
inline Sent send_message(int port, const std::string& from, const std::vector<std::string>& rcpts,
                         std::string_view content, const std::string& mail_params = "",
                         const std::string& helo = "client.test") {
  SmtpWire wire(port);
  Sent sent;
  sent.reply = wire.reply();
  if (reply_code(sent.reply) != 220) return sent;
  sent.reply = wire.command("EHLO " + helo);
  if (reply_code(sent.reply) != 250) return sent;
  sent.reply = wire.command("MAIL FROM:<" + from + ">" + (mail_params.empty() ? "" : " " + mail_params));
  if (reply_code(sent.reply) != 250) return sent;
  for (const auto& rcpt : rcpts) {
    sent.reply = wire.command("RCPT TO:<" + rcpt + ">");
    if (reply_code(sent.reply) != 250) return sent;
  }
  sent.reply = wire.command("DATA");
  if (reply_code(sent.reply) != 354) return sent;
  wire.send(dot_stuffed(content));
  sent.reply = wire.reply(10s);
  wire.command("QUIT");
  return sent;
}

// The relay's queue, as `smarthost queue list --json` prints it (an array of entries); empty on any error.
inline boost::json::array queue_entries(const Relay& relay) {
  auto r = run({smarthost_bin().string(), "queue", "list", "--json", "--config", relay.config_path().string()}, "",
               10s);
  if (r.exit_code != 0) return {};
  boost::system::error_code ec;
  auto value = boost::json::parse(r.out, ec);
  if (ec || !value.is_array()) return {};
  return value.get_array();
}

// The header section of a raw message (up to, not including, the blank line).
inline std::string_view header_section(std::string_view raw) {
  auto end = raw.find("\r\n\r\n");
  return raw.substr(0, end == std::string_view::npos ? raw.size() : end + 2);
}

// Every field named `name` (case-insensitive) in the header section, unfolded, value without the leading space.
inline std::vector<std::string> header_values(std::string_view raw, std::string_view name) {
  std::vector<std::string> out;
  std::string_view headers = header_section(raw);
  auto lower = [](std::string_view s) {
    std::string o(s);
    for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
  };
  std::string wanted = lower(name) + ":";
  std::size_t pos = 0;
  while (pos < headers.size()) {
    auto eol = headers.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = headers.size();
    std::string_view line = headers.substr(pos, eol - pos);
    pos = eol + 2;
    if (lower(line.substr(0, wanted.size())) != wanted) continue;
    std::string value(line.substr(wanted.size()));
    while (pos < headers.size() && (headers[pos] == ' ' || headers[pos] == '\t')) {
      auto next = headers.find("\r\n", pos);
      if (next == std::string_view::npos) next = headers.size();
      value += std::string(headers.substr(pos, next - pos));
      pos = next + 2;
    }
    value.erase(0, value.find_first_not_of(" \t"));
    out.push_back(value);
  }
  return out;
}

inline std::string header_value(std::string_view raw, std::string_view name) {
  auto all = header_values(raw, name);
  return all.empty() ? std::string() : all.front();
}

// connect_proxy.py as a child: every CONNECT goes to 127.0.0.1:target_port; hosts() are the CONNECT targets.
class ConnectProxy {
 public:
  ConnectProxy(const std::filesystem::path& dir, int target_port)
      : record_(dir / "proxy-connects.txt"), port_file_(dir / "proxy-port.txt") {
    process_ = std::make_unique<Process>(
        std::vector<std::string>{python3(), (source_dir() / "tests/support/connect_proxy.py").string(),
                                 std::to_string(target_port), record_.string(), port_file_.string()},
        std::map<std::string, std::string>{}, (dir / "proxy.log").string());
    wait_until([&] { return std::filesystem::exists(port_file_); }, 10s);
    std::string text = read_file(port_file_);
    port_ = text.empty() ? 0 : std::stoi(text);
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> hosts() const {
    std::vector<std::string> out;
    std::string text = read_file(record_);
    std::size_t pos = 0;
    while (pos < text.size()) {
      auto eol = text.find('\n', pos);
      if (eol == std::string::npos) eol = text.size();
      if (eol > pos) out.push_back(text.substr(pos, eol - pos));
      pos = eol + 1;
    }
    return out;
  }

 private:
  std::filesystem::path record_, port_file_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

}  // namespace smarthost::test::e2e
