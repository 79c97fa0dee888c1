// Test peers for the SMTP upstream: the scriptable fake server (fake_smtp.py, with its OAuth2 token endpoint),
// the real aiosmtpd sink (aiosmtpd_sink.py), and a throwaway PKI made with the openssl command.
// Each runs as a child process bound to OS-chosen ports inside the test's temporary directory.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace smarthost::test {

// A CA and server certificates signed by it, all for one EC key: good (127.0.0.1 and localhost), expired,
// and for the wrong host name (other.example only).
struct TestPki {
  explicit TestPki(const std::filesystem::path& dir);
  std::string ca;
  std::string key;
  std::string good;
  std::string expired;
  std::string wrong_host;
};

struct FakeMessage {
  int connection = 0;
  int number = 0;
  std::string mail_from;  // the MAIL command line
  std::vector<std::string> rcpts;  // accepted RCPT command lines
  std::string data;  // unstuffed, CRLF line ends
  bool tls = false;
};

class FakeSmtpServer {
 public:
  // Starts fake_smtp.py with `scenario` (JSON text; see the script) and waits until it listens.
  FakeSmtpServer(const std::filesystem::path& dir, const std::string& scenario);
  uint16_t port() const { return smtp_port_; }
  uint16_t token_port() const { return http_port_; }
  // Events logged so far, optionally only those of one type ("command", "message", "auth", "connect", ...).
  std::vector<boost::json::object> events(const std::string& type = {}) const;
  std::vector<FakeMessage> messages() const;
  std::vector<std::string> commands() const;
  int connections() const;
  int max_open() const;  // the most connections open at once

 private:
  std::filesystem::path events_path_;
  std::unique_ptr<Process> process_;
  uint16_t smtp_port_ = 0;
  uint16_t http_port_ = 0;
};

class AiosmtpdSink {
 public:
  // STARTTLS and AUTH required; messages land in dir/out as N.eml and N.json.
  AiosmtpdSink(const std::filesystem::path& dir, const std::string& cert, const std::string& key,
               const std::string& user, const std::string& password);
  uint16_t port() const { return port_; }
  // The raw content of message n (1-based), as received; empty when it has not arrived.
  std::string message(int n) const;
  boost::json::object envelope(int n) const;
  size_t count() const;

 private:
  std::filesystem::path out_;
  std::unique_ptr<Process> process_;
  uint16_t port_ = 0;
};

}  // namespace smarthost::test
