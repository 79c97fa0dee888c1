// Fixtures of the SMTP transport tests: a throwaway PKI shared by a suite, and for the scriptable fake server
// (fake_smtp.py) scenarios as JSON, queued messages, and a delivery run to completion.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <string>
#include <vector>

#include "tests/support/smtp_fake/delivery_harness.h"
#include "tests/support/smtp_fake/fake_smtp_server.h"
#include "tests/support/temp_dir.h"
#include "upstream/smtp/smtp_transport.h"

namespace smarthost::upstream::smtp {

// A throwaway CA and certificates made once per test suite (the openssl command is slow to run per test).
class PkiSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_dir_ = new test::TempDir();
    pki_ = new test::TestPki(pki_dir_->path() / "pki");
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete pki_dir_;
    pki_ = nullptr;
    pki_dir_ = nullptr;
  }
  static inline test::TempDir* pki_dir_ = nullptr;
  static inline test::TestPki* pki_ = nullptr;
};

class FakeRelay : public PkiSuite {
 protected:

  // A scenario with the given extra JSON members, e.g. R"("rules": [...])".
  std::string scenario(const std::string& extra, const std::string& ehlo =
                                                     R"(["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 1000000"])") {
    std::string s = "{\"ehlo\": " + ehlo;
    if (!extra.empty()) s += ", " + extra;
    return s + "}";
  }
  std::string tls_members(const std::string& cert) {
    return "\"tls_cert\": \"" + cert + "\", \"tls_key\": \"" + pki_->key + "\"";
  }
  conf::SecurityConfig security() {
    conf::SecurityConfig s;
    s.ca_file = pki_->ca;
    return s;
  }
  OutboundMessage message(std::vector<std::string> rcpts = {"dest@example.net"},
                          const std::string& content = "Subject: test\r\n\r\nhello\r\n",
                          mail::BodyType body = mail::BodyType::seven_bit) {
    return test::queued_message(dir_.path() / "spool", "Q" + std::to_string(++counter_), content,
                                "sender@client.example", rcpts, body);
  }
  DeliveryResult deliver(SmtpTransport& transport, const OutboundMessage& m) {
    return test::run_to_completion(io_, transport.deliver(m));
  }
  bool saw_command(const test::FakeSmtpServer& fake, const std::string& prefix) {
    for (const auto& c : fake.commands()) {
      if (c.starts_with(prefix)) return true;
    }
    return false;
  }

  test::TempDir dir_;
  boost::asio::io_context io_;
  int counter_ = 0;
};

}  // namespace smarthost::upstream::smtp
