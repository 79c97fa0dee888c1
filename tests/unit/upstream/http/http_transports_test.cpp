// make_http_transport: the factory entry point builds each HTTP provider's transport from a configuration and
// refuses the others; a built transport delivers through its fake.
#include "upstream/http/http_transports.h"

#include <gtest/gtest.h>

#include "tests/unit/upstream/http/self_signed.h"
#include "tests/unit/upstream/http/transport_harness.h"

namespace smarthost::upstream::http {
namespace {

TEST(MakeHttpTransport, BuildsEveryHttpProvider) {
  test::TransportHarness h;
  conf::Config config;
  for (auto kind : {test::FakeKind::mailgun, test::FakeKind::sendgrid, test::FakeKind::postmark, test::FakeKind::ses}) {
    test::FakeProvider fake(kind);
    auto u = test::upstream_for(fake, "primary");
    EXPECT_TRUE(is_http_provider(u.provider));
    auto transport = make_http_transport(u, config, h.io.get_executor());
    ASSERT_TRUE(transport);
    EXPECT_EQ(transport->name(), "primary");
    auto result = h.deliver(*transport, h.spool("From: a@example.com\r\nTo: b@example.net\r\nSubject: s\r\n\r\nhi\r\n",
                                                {"b@example.net"}));
    EXPECT_EQ(result.outcome, Outcome::delivered) << test::to_string(kind) << ": " << result.reply;
    EXPECT_EQ(test::problems_of(fake), "") << test::to_string(kind);
  }
}

TEST(MakeHttpTransport, FollowsTheSecurityTlsSettings) {
  test::SelfSigned certificate;
  test::FakeProvider fake(test::FakeKind::postmark, {}, 0, &certificate.files);
  ASSERT_TRUE(fake.base_url().starts_with("https://"));
  test::TransportHarness h;
  auto message = h.spool("From: a@example.com\r\nTo: b@example.net\r\nSubject: s\r\n\r\nhi\r\n", {"b@example.net"});

  conf::Config trusting;
  trusting.security.ca_file = certificate.files.certificate_file;
  auto with_ca = make_http_transport(test::upstream_for(fake), trusting, h.io.get_executor());
  EXPECT_EQ(h.deliver(*with_ca, message).outcome, Outcome::delivered);

  conf::Config strict;  // verify_certificates = true, system store only: the self-signed certificate is unknown
  auto without_ca = make_http_transport(test::upstream_for(fake), strict, h.io.get_executor());
  auto refused = h.deliver(*without_ca, message);
  EXPECT_EQ(refused.outcome, Outcome::temporary);
  EXPECT_TRUE(refused.upstream_unhealthy);
  EXPECT_TRUE(refused.reply.starts_with("no answer")) << refused.reply;

  conf::Config lax;
  lax.security.verify_certificates = false;
  auto unverified = make_http_transport(test::upstream_for(fake), lax, h.io.get_executor());
  EXPECT_EQ(h.deliver(*unverified, message).outcome, Outcome::delivered);
  EXPECT_EQ(fake.request_count(), 2u);
}

TEST(MakeHttpTransport, RefusesOtherProvidersAndBrokenConfigs) {
  boost::asio::io_context io;
  conf::Config config;
  conf::Upstream smtp;
  smtp.provider = conf::ProviderKind::smtp;
  smtp.config = conf::SmtpConfig{};
  EXPECT_FALSE(is_http_provider(smtp.provider));
  EXPECT_THROW(make_http_transport(smtp, config, io.get_executor()), std::invalid_argument);
  conf::Upstream sendgrid;
  sendgrid.provider = conf::ProviderKind::sendgrid;
  sendgrid.config = conf::SendgridConfig{};  // no api_key
  EXPECT_THROW(make_http_transport(sendgrid, config, io.get_executor()), std::invalid_argument);
}

}  // namespace
}  // namespace smarthost::upstream::http
