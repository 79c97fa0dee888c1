// The SMTP test peers (see the header).
#include "tests/support/smtp_fake/fake_smtp_server.h"

#include <boost/json/parse.hpp>
#include <openssl/evp.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/temp_dir.h"

namespace smarthost::test {
namespace {

std::filesystem::path script(const char* name) { return source_dir() / "tests/support/smtp_fake" / name; }

// Waits for a file the child writes (atomically, by rename) once it listens.
std::string wait_for_file(const std::filesystem::path& path, Process& process) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = read_file(path);
    if (!text.empty()) return text;
    if (!process.running()) throw std::runtime_error("test peer exited early; see its log in " + path.parent_path().string());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("test peer did not start: " + path.string());
}

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = run(argv, "", std::chrono::seconds(30));
  if (r.exit_code != 0) throw std::runtime_error("openssl " + args.front() + " failed: " + r.err);
}

std::string base64_decode(const std::string& in) {
  std::string out(in.size() / 4 * 3 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return {};
  size_t pad = in.ends_with("==") ? 2 : in.ends_with("=") ? 1 : 0;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

}  // namespace

TestPki::TestPki(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  auto p = [&](const char* name) { return (dir / name).string(); };
  ca = p("ca.pem");
  key = p("server.key");
  good = p("good.pem");
  expired = p("expired.pem");
  wrong_host = p("wrong_host.pem");
  const std::vector<std::string> ec{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
  std::vector<std::string> ca_args{"req", "-x509"};
  ca_args.insert(ca_args.end(), ec.begin(), ec.end());
  ca_args.insert(ca_args.end(), {"-keyout", p("ca.key"), "-out", ca, "-days", "2", "-subj", "/CN=smarthost test CA",
                                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                                 "keyUsage=critical,keyCertSign,cRLSign"});
  openssl(ca_args);
  std::vector<std::string> csr_args{"req"};
  csr_args.insert(csr_args.end(), ec.begin(), ec.end());
  csr_args.insert(csr_args.end(), {"-keyout", key, "-out", p("server.csr"), "-subj", "/CN=smarthost test server"});
  openssl(csr_args);
  auto sign = [&](const std::string& out, const std::string& san, const char* days, const char* serial) {
    std::string ext = p("ext.cnf");
    std::ofstream(ext) << "subjectAltName=" << san << "\nextendedKeyUsage=serverAuth\n";
    openssl({"x509", "-req", "-in", p("server.csr"), "-CA", ca, "-CAkey", p("ca.key"), "-set_serial", serial,
             "-days", days, "-extfile", ext, "-out", out});
  };
  sign(good, "IP:127.0.0.1,DNS:localhost", "2", "2");
  sign(expired, "IP:127.0.0.1,DNS:localhost", "-1", "3");  // notAfter before notBefore: expired
  sign(wrong_host, "DNS:other.example", "2", "4");
}

FakeSmtpServer::FakeSmtpServer(const std::filesystem::path& dir, const std::string& scenario) {
  std::filesystem::create_directories(dir);
  auto scenario_path = dir / "scenario.json";
  std::ofstream(scenario_path) << scenario;
  auto ports_path = dir / "ports.json";
  events_path_ = dir / "events.jsonl";
  process_ = std::make_unique<Process>(
      std::vector<std::string>{python3(), script("fake_smtp.py").string(), scenario_path.string(), ports_path.string(),
                               events_path_.string()},
      std::map<std::string, std::string>{}, (dir / "fake_smtp.log").string());
  boost::json::object ports = boost::json::parse(wait_for_file(ports_path, *process_)).as_object();
  smtp_port_ = static_cast<uint16_t>(ports.at("smtp").as_int64());
  http_port_ = static_cast<uint16_t>(ports.at("http").as_int64());
}

std::vector<boost::json::object> FakeSmtpServer::events(const std::string& type) const {
  std::vector<boost::json::object> out;
  std::istringstream lines(read_file(events_path_));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    auto value = boost::json::parse(line, ec);
    if (ec || !value.is_object()) continue;  // a line still being written
    if (!type.empty() && value.as_object().at("event").as_string() != type) continue;
    out.push_back(std::move(value.as_object()));
  }
  return out;
}

std::vector<FakeMessage> FakeSmtpServer::messages() const {
  std::vector<FakeMessage> out;
  for (const auto& e : events("message")) {
    FakeMessage m;
    m.connection = static_cast<int>(e.at("conn").as_int64());
    m.number = static_cast<int>(e.at("number").as_int64());
    m.mail_from = std::string(e.at("mail_from").as_string());
    for (const auto& r : e.at("rcpts").as_array()) m.rcpts.emplace_back(r.as_string());
    m.data = base64_decode(std::string(e.at("data").as_string()));
    m.tls = e.at("tls").as_bool();
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<std::string> FakeSmtpServer::commands() const {
  std::vector<std::string> out;
  for (const auto& e : events("command")) out.emplace_back(e.at("line").as_string());
  return out;
}

int FakeSmtpServer::connections() const { return static_cast<int>(events("connect").size()); }

int FakeSmtpServer::max_open() const {
  int most = 0;
  for (const auto& e : events("connect")) most = std::max(most, static_cast<int>(e.at("open").as_int64()));
  return most;
}

AiosmtpdSink::AiosmtpdSink(const std::filesystem::path& dir, const std::string& cert, const std::string& key,
                           const std::string& user, const std::string& password) {
  out_ = dir / "out";
  std::filesystem::create_directories(out_);
  auto port_path = dir / "aiosmtpd.port";
  process_ = std::make_unique<Process>(
      std::vector<std::string>{python3(), script("aiosmtpd_sink.py").string(), cert, key, user, password,
                               out_.string(), port_path.string()},
      std::map<std::string, std::string>{}, (dir / "aiosmtpd.log").string());
  port_ = static_cast<uint16_t>(std::stoi(wait_for_file(port_path, *process_)));
  if (!wait_for_port(port_)) throw std::runtime_error("aiosmtpd does not accept connections");
}

std::string AiosmtpdSink::message(int n) const { return read_file(out_ / (std::to_string(n) + ".eml")); }

boost::json::object AiosmtpdSink::envelope(int n) const {
  std::string text = read_file(out_ / (std::to_string(n) + ".json"));
  if (text.empty()) return {};
  return boost::json::parse(text).as_object();
}

size_t AiosmtpdSink::count() const {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(out_)) n += entry.path().extension() == ".eml";
  return n;
}

}  // namespace smarthost::test
