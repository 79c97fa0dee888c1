// A real redis-server (the Debian package) for fleet tests: a free port (or a unix socket, or TLS) in a temp dir,
// no persistence. It can be killed and started again on the same port, and paused (SIGSTOP) to play a slow Redis.
// Header-only, on top of process.h and temp_dir.h.
#pragma once

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace smarthost::test {

class RedisServer {
 public:
  struct Options {
    std::string password;      // --requirepass
    bool unix_socket = false;  // listen on dir()/redis.sock only
    bool tls = false;          // --tls-port with a self-signed certificate (cert())
  };

  static bool available() { return std::filesystem::exists("/usr/bin/redis-server"); }

  explicit RedisServer(Options options) : options_(std::move(options)) { port_ = free_port(); }
  RedisServer() : RedisServer(Options{}) {}
  ~RedisServer() { kill(); }

  // Starts it (again, on the same port) and waits until it answers PING. False when it does not within 10 s.
  bool start() {
    kill();
    std::vector<std::string> argv{"/usr/bin/redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                  "--dir", tmp_.path().string()};
    if (options_.unix_socket) {
      argv.insert(argv.end(), {"--port", "0", "--unixsocket", socket_path().string(), "--unixsocketperm", "700"});
    } else if (options_.tls) {
      if (!std::filesystem::exists(cert())) make_certificate();
      argv.insert(argv.end(), {"--port", "0", "--tls-port", std::to_string(port_), "--tls-cert-file", cert().string(),
                               "--tls-key-file", (tmp_.path() / "key.pem").string(), "--tls-auth-clients", "no"});
    } else {
      argv.insert(argv.end(), {"--port", std::to_string(port_)});
    }
    if (!options_.password.empty()) argv.insert(argv.end(), {"--requirepass", options_.password});
    process_ = std::make_unique<Process>(argv, std::map<std::string, std::string>{},
                                         (tmp_.path() / "redis.log").string());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!process_->running()) return false;
      if (ping()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  void kill() {
    if (!process_) return;
    process_->signal(SIGCONT);
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds(5));
    process_.reset();
  }
  void pause() { if (process_) process_->signal(SIGSTOP); }
  void resume() { if (process_) process_->signal(SIGCONT); }
  bool running() { return process_ && process_->running(); }

  int port() const { return port_; }
  std::filesystem::path socket_path() const { return tmp_.path() / "redis.sock"; }
  std::filesystem::path cert() const { return tmp_.path() / "cert.pem"; }
  std::string url() const {
    std::string auth = options_.password.empty() ? "" : ":" + options_.password + "@";
    if (options_.unix_socket) {
      return "unix://" + socket_path().string() + (options_.password.empty() ? "" : "?password=" + options_.password);
    }
    return std::string(options_.tls ? "rediss://" : "redis://") + auth + "127.0.0.1:" + std::to_string(port_) + "/0";
  }
  std::string log() const { return read_file(tmp_.path() / "redis.log"); }

  // redis-cli against this server; its stdout.
  std::string cli(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"/usr/bin/redis-cli"};
    if (options_.unix_socket) {
      argv.insert(argv.end(), {"-s", socket_path().string()});
    } else {
      argv.insert(argv.end(), {"-h", "127.0.0.1", "-p", std::to_string(port_)});
    }
    if (options_.tls) argv.insert(argv.end(), {"--tls", "--cacert", cert().string()});
    if (!options_.password.empty()) argv.insert(argv.end(), {"--no-auth-warning", "-a", options_.password});
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", std::chrono::seconds(5)).out;
  }
  bool ping() const { return cli({"PING"}).find("PONG") != std::string::npos; }

 private:
  void make_certificate() const {
    run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", (tmp_.path() / "key.pem").string(),
         "-out", cert().string(), "-days", "2", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1"});
  }

  Options options_;
  TempDir tmp_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace smarthost::test
