// The connection pool under load: 1000 concurrent deliveries over at most max_connections sessions.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>

#include "tests/support/smtp_fake/delivery_harness.h"
#include "tests/support/smtp_fake/fake_smtp_server.h"
#include "tests/support/temp_dir.h"
#include "upstream/smtp/smtp_transport.h"

namespace smarthost::upstream::smtp {
namespace {

TEST(SmtpPool, ThousandMessagesOverAtMostMaxConnections) {
  test::TempDir dir;
  test::FakeSmtpServer fake(dir.path() / "fake", R"({"ehlo": ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"]})");
  conf::Upstream u = test::smtp_upstream(fake.port());
  u.options.connection_pool_size = 4;
  boost::asio::io_context io;
  SmtpTransport transport(u, {}, {}, {}, "relay.test", io.get_executor());

  constexpr int kMessages = 1000;
  std::vector<OutboundMessage> messages;
  for (int i = 0; i < kMessages; ++i) {
    messages.push_back(test::queued_message(dir.path() / "spool", "M" + std::to_string(i),
                                            "Subject: " + std::to_string(i) + "\r\n\r\nbody\r\n", "a@client.example",
                                            {"dest@example.net"}));
  }
  int delivered = 0, finished = 0;
  for (const auto& m : messages) {
    boost::asio::co_spawn(io, transport.deliver(m), [&](std::exception_ptr e, DeliveryResult r) {
      ++finished;
      if (!e && r.outcome == Outcome::delivered) ++delivered;
    });
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (finished < kMessages && std::chrono::steady_clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(100));

  EXPECT_EQ(finished, kMessages);
  EXPECT_EQ(delivered, kMessages);
  EXPECT_EQ(fake.messages().size(), static_cast<size_t>(kMessages));
  EXPECT_LE(fake.max_open(), 4);
  EXPECT_LE(fake.connections(), 4);
  EXPECT_LE(transport.pool_stats().peak_open, 4u);
  EXPECT_GE(transport.pool_stats().reused, static_cast<uint64_t>(kMessages - 4));
}

}  // namespace
}  // namespace smarthost::upstream::smtp
