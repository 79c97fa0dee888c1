// Runs the real `smarthost serve` for integration tests: writes a TOML config into a temp dir (listener on a free
// port, queue and outbox inside the temp dir), starts the binary, waits until it listens, and stops it.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace smarthost::test {

struct RelayOptions {
  // TOML appended to the generated config. It may add tables ([server] keys go in `server_extra`).
  std::string extra;
  std::string server_extra;  // lines inside [server]
  std::vector<std::string> extra_listen;  // more [server] listen entries after the harness's own TCP port
  std::string upstream;      // the upstream part; default: provider "file" writing into outbox()
  bool tls = false;          // generate a certificate and configure [security] for STARTTLS
  bool implicit_tls = false; // also listen_tls on a second port
  std::map<std::string, std::string> env;
  std::vector<std::string> args;  // more arguments for `serve`, e.g. {"--user", "nobody"}
};

class Relay {
 public:
  explicit Relay(RelayOptions options = {});
  ~Relay();

  bool start();  // false when the binary exits or does not listen within 10 s
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(15));  // SIGTERM; returns the exit code
  void kill();   // SIGKILL
  void signal(int sig);  // e.g. SIGHUP to reload
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  bool running() { return process_ && process_->running(); }

  int port() const { return port_; }
  int tls_port() const { return tls_port_; }
  int metrics_port() const { return metrics_port_; }
  const std::filesystem::path& dir() const { return tmp_.path(); }
  std::filesystem::path config_path() const { return tmp_.path() / "smarthost.toml"; }
  std::filesystem::path outbox() const { return tmp_.path() / "outbox"; }
  std::filesystem::path queue_dir() const { return tmp_.path() / "queue"; }
  std::filesystem::path cert() const { return tmp_.path() / "cert.pem"; }
  std::string log() const;

  // Files in the outbox with the given extension, sorted.
  std::vector<std::filesystem::path> delivered(const std::string& ext = ".eml") const;
  // Waits until the outbox holds at least `n` messages.
  bool wait_delivered(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  RelayOptions options_;
  TempDir tmp_;
  int port_ = 0, tls_port_ = 0, metrics_port_ = 0;
  std::unique_ptr<Process> process_;
};

// Makes a self-signed certificate and key for "localhost" into `cert` and `key` with the openssl CLI.
bool make_test_certificate(const std::filesystem::path& cert, const std::filesystem::path& key,
                           const std::string& cn = "localhost", int days = 2);

}  // namespace smarthost::test
