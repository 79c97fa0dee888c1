// The integration-test harness around the smarthost binary.
#include "tests/support/relay.h"

#include <signal.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <thread>

namespace smarthost::test {

bool make_test_certificate(const std::filesystem::path& cert, const std::filesystem::path& key, const std::string& cn,
                           int days) {
  auto r = run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.string(), "-out",
                cert.string(), "-days", std::to_string(days), "-subj", "/CN=" + cn, "-addext",
                "subjectAltName=DNS:" + cn + ",IP:127.0.0.1"});
  return r.exit_code == 0;
}

Relay::Relay(RelayOptions options) : options_(std::move(options)) {
  port_ = free_port();
  metrics_port_ = free_port();
  if (options_.implicit_tls) tls_port_ = free_port();
  std::string cfg;
  if (options_.upstream.empty()) {
    cfg += "provider = \"file\"\n\n[config]\ndir = \"" + outbox().string() + "\"\n\n";
  } else {
    cfg += options_.upstream + "\n\n";
  }
  cfg += "[server]\nlisten = [\"127.0.0.1:" + std::to_string(port_) + "\"";
  for (const auto& l : options_.extra_listen) cfg += ", \"" + l + "\"";
  cfg += "]\nhostname = \"relay.test\"\n";
  if (options_.implicit_tls) cfg += "listen_tls = [\"127.0.0.1:" + std::to_string(tls_port_) + "\"]\n";
  cfg += options_.server_extra + "\n";
  cfg += "\n[queue]\ndir = \"" + queue_dir().string() + "\"\n";
  cfg += "\n[metrics]\nlisten = \"127.0.0.1:" + std::to_string(metrics_port_) + "\"\n";
  if (options_.tls || options_.implicit_tls) {
    make_test_certificate(cert(), tmp_.path() / "key.pem");
    cfg += "\n[security]\ncertificate_path = \"" + cert().string() + "\"\nprivate_key_path = \"" +
           (tmp_.path() / "key.pem").string() + "\"\n";
  }
  cfg += options_.extra;
  tmp_.write("smarthost.toml", cfg);
}

Relay::~Relay() {
  if (process_ && process_->running()) {
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds(5));
  }
}

bool Relay::start() {
  std::vector<std::string> argv{smarthost_bin().string(), "serve", "--config", config_path().string(), "--log-level",
                                "debug"};
  argv.insert(argv.end(), options_.args.begin(), options_.args.end());
  const size_t log_before = log().size();  // the log is appended to across restarts
  process_ = std::make_unique<Process>(argv, options_.env, (tmp_.path() / "relay.log").string());
  // Ready once the banner says so (it is logged after the listeners are bound). Not by connecting: that probe
  // would be a session of its own, counted against the per-IP limit until the server sees it close.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->running()) return false;
    if (log().find(" accepting SMTP on ", log_before) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int Relay::stop(std::chrono::milliseconds timeout) {
  if (!process_) return INT_MIN;
  process_->signal(SIGTERM);
  return process_->wait(timeout);
}

void Relay::kill() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait(std::chrono::seconds(5));
}

void Relay::signal(int sig) {
  if (process_) process_->signal(sig);
}

std::string Relay::log() const { return read_file(tmp_.path() / "relay.log"); }

std::vector<std::filesystem::path> Relay::delivered(const std::string& ext) const {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(outbox(), ec))
    if (e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

bool Relay::wait_delivered(size_t n, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    // The .json sidecar is written after the .eml: a message counts once both are there.
    if (delivered().size() >= n && delivered(".json").size() >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return delivered().size() >= n && delivered(".json").size() >= n;
}

}  // namespace smarthost::test
