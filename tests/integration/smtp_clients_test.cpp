// Real SMTP clients (swaks, curl smtp://, Python smtplib) complete transactions against `smarthost serve`
// over plain TCP, STARTTLS and implicit TLS, with and without AUTH; each message must reach the outbox.
#include <gtest/gtest.h>

#include "tests/support/relay.h"

using namespace smarthost::test;

namespace {

class SmtpClients : public ::testing::Test {
 protected:
  void SetUp() override {
    RelayOptions o;
    o.tls = true;
    o.implicit_tls = true;
    relay_ = std::make_unique<Relay>(std::move(o));
    auto hashed = run({smarthost_bin().string(), "passwd", "alice"}, "wonderland\n");
    ASSERT_EQ(hashed.exit_code, 0) << hashed.err;
    ASSERT_EQ(hashed.out.rfind("alice:$y$", 0), 0u) << hashed.out;
    auto users = relay_->dir() / "users";
    TempDir::write_to(users, hashed.out);
    // The relay's config gets the users file appended to [server] through a rewrite of its file.
    std::string cfg = read_file(relay_->config_path());
    auto at = cfg.find("[server]\n");
    cfg.insert(at + 9, "users_file = \"" + users.string() + "\"\n");
    TempDir::write_to(relay_->config_path(), cfg);
    ASSERT_TRUE(relay_->start()) << relay_->log();
  }

  void expect_delivered(size_t n) {
    EXPECT_TRUE(relay_->wait_delivered(n)) << relay_->log();
    EXPECT_EQ(relay_->delivered().size(), n);
  }

  std::string server() const { return "127.0.0.1:" + std::to_string(relay_->port()); }
  std::string tls_server() const { return "127.0.0.1:" + std::to_string(relay_->tls_port()); }
  std::unique_ptr<Relay> relay_;
};

RunResult swaks(const std::vector<std::string>& extra) {
  std::vector<std::string> argv{"swaks", "--to", "rcpt@example.net", "--from", "sender@example.org",
                                "--timeout", "10"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run(argv);
}

RunResult curl(const std::string& url, const std::vector<std::string>& extra) {
  std::vector<std::string> argv{"curl", "-sS", "--max-time", "10", "--url", url, "--mail-from", "sender@example.org",
                                "--mail-rcpt", "rcpt@example.net", "-T", "-"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run(argv, "From: sender@example.org\r\nTo: rcpt@example.net\r\nSubject: curl\r\n\r\nhello from curl\r\n");
}

RunResult smtplib(const std::string& mode, int port, bool auth) {
  std::string script =
      "import smtplib, ssl, sys\n"
      "ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n"
      "mode, port, auth = sys.argv[1], int(sys.argv[2]), sys.argv[3] == '1'\n"
      "if mode == 'implicit':\n"
      "    s = smtplib.SMTP_SSL('127.0.0.1', port, context=ctx, timeout=10)\n"
      "else:\n"
      "    s = smtplib.SMTP('127.0.0.1', port, timeout=10)\n"
      "    if mode == 'starttls':\n"
      "        s.starttls(context=ctx)\n"
      "if auth:\n"
      "    s.login('alice', 'wonderland')\n"
      "msg = 'From: sender@example.org\\r\\nTo: rcpt@example.net\\r\\nSubject: smtplib\\r\\n\\r\\nhello\\r\\n.dot line\\r\\n'\n"
      "refused = s.sendmail('sender@example.org', ['rcpt@example.net'], msg)\n"
      "s.quit()\n"
      "sys.exit(1 if refused else 0)\n";
  return run({python3(), "-c", script, mode, std::to_string(port), auth ? "1" : "0"});
}

}  // namespace

TEST_F(SmtpClients, SwaksPlainStartTlsImplicitTlsAndAuth) {
  auto plain = swaks({"--server", server()});
  EXPECT_EQ(plain.exit_code, 0) << plain.out << plain.err;
  auto starttls = swaks({"--server", server(), "--tls"});
  EXPECT_EQ(starttls.exit_code, 0) << starttls.out << starttls.err;
  auto implicit = swaks({"--server", tls_server(), "--tls-on-connect"});
  EXPECT_EQ(implicit.exit_code, 0) << implicit.out << implicit.err;
  auto auth = swaks({"--server", server(), "--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password",
                     "wonderland"});
  EXPECT_EQ(auth.exit_code, 0) << auth.out << auth.err;
  auto login = swaks({"--server", tls_server(), "--tls-on-connect", "--auth", "LOGIN", "--auth-user", "alice",
                      "--auth-password", "wonderland"});
  EXPECT_EQ(login.exit_code, 0) << login.out << login.err;
  expect_delivered(5);
}

TEST_F(SmtpClients, AuthIsRefusedWithBadPasswordAndNotOfferedBeforeTls) {
  auto bad = swaks({"--server", server(), "--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password",
                    "wrong"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.out.find("535 5.7.8"), std::string::npos) << bad.out;
  auto plaintext = swaks({"--server", server(), "--auth", "PLAIN", "--auth-user", "alice", "--auth-password",
                          "wonderland"});
  EXPECT_NE(plaintext.exit_code, 0) << "AUTH must not be offered before TLS";
  // The password never reaches the log.
  relay_->stop();
  EXPECT_EQ(relay_->log().find("wonderland"), std::string::npos);
}

TEST_F(SmtpClients, CurlPlainStartTlsImplicitTlsAndAuth) {
  auto plain = curl("smtp://" + server(), {});
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  auto starttls = curl("smtp://" + server(), {"--ssl-reqd", "-k"});
  EXPECT_EQ(starttls.exit_code, 0) << starttls.err;
  auto implicit = curl("smtps://" + tls_server(), {"-k"});
  EXPECT_EQ(implicit.exit_code, 0) << implicit.err;
  auto auth = curl("smtp://" + server(), {"--ssl-reqd", "-k", "--user", "alice:wonderland"});
  EXPECT_EQ(auth.exit_code, 0) << auth.err;
  expect_delivered(4);
  bool found = false;
  for (const auto& f : relay_->delivered())
    if (read_file(f).find("hello from curl") != std::string::npos) found = true;
  EXPECT_TRUE(found);
}

TEST_F(SmtpClients, PythonSmtplibPlainStartTlsImplicitTlsAndAuth) {
  auto plain = smtplib("plain", relay_->port(), false);
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  auto starttls = smtplib("starttls", relay_->port(), true);
  EXPECT_EQ(starttls.exit_code, 0) << starttls.err;
  auto implicit = smtplib("implicit", relay_->tls_port(), true);
  EXPECT_EQ(implicit.exit_code, 0) << implicit.err;
  expect_delivered(3);
  // Dot-stuffing was undone and the line with a leading dot arrived intact; the Received header says TLS.
  bool tls_seen = false;
  for (const auto& f : relay_->delivered()) {
    std::string m = read_file(f);
    EXPECT_NE(m.find("\r\n.dot line\r\n"), std::string::npos) << m;
    if (m.find("ESMTPSA") != std::string::npos && m.find("TLSv1.3") != std::string::npos) tls_seen = true;
  }
  EXPECT_TRUE(tls_seen);
}
