// AccessPolicy: connect lists (blocked wins, loopback-only default, mapped IPv4), relay rules, sender and recipient
// domains, users tied to senders, open-relay syntax, per-client rates, saturation, AUTH failures and the AUTH cache.
#include "policy/access_policy.h"

#include <gtest/gtest.h>

#include <atomic>

namespace smarthost::policy {
namespace {

using namespace std::chrono_literals;

struct Users final : Authenticator {
  mutable std::atomic<int> checks{0};
  bool check(std::string_view user, std::string_view password) const override {
    ++checks;
    return (user == "alice" && password == "secret") || (user == "bob" && password == "hunter2");
  }
  std::vector<std::string> senders_of(std::string_view user) const override {
    if (user == "alice") return {"alice@example.com", "@billing.example.com"};
    return {};
  }
};

struct Fixture {
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::time_point{} + 1000h;
  std::shared_ptr<Users> users = std::make_shared<Users>();
  std::unique_ptr<AccessPolicy> policy;
  smtpd::ClientInfo client{"127.0.0.1", 40000, true, false};

  explicit Fixture(AccessRules rules = {}) {
    policy = std::make_unique<AccessPolicy>(std::move(rules), users, [this] { return now; });
  }
  smtpd::SessionView view(std::string_view user = {}) const { return smtpd::SessionView{client, "client.test", user, false}; }
};

smtpd::ClientInfo remote(std::string address) { return smtpd::ClientInfo{std::move(address), 1, false, false}; }

TEST(AccessPolicy, EmptyAllowListMeansLoopbackOnly) {
  Fixture f;
  EXPECT_TRUE(f.policy->on_connect(f.client).allowed);
  EXPECT_TRUE(f.policy->on_connect(smtpd::ClientInfo{"::1", 1, true, false}).allowed);
  auto v = f.policy->on_connect(remote("192.0.2.10"));
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.reply.substr(0, 9), "554 5.7.1");
  EXPECT_TRUE(v.disconnect);
  EXPECT_TRUE(f.policy->on_connect(smtpd::ClientInfo{"unix", 0, true, false}).allowed);
}

TEST(AccessPolicy, BlockedWinsOverAllowed) {
  AccessRules r;
  r.allowed_ips = {"10.0.0.0/8", "127.0.0.1"};
  r.blocked_ips = {"10.9.0.0/16", "127.0.0.1"};
  Fixture f(r);
  EXPECT_TRUE(f.policy->on_connect(remote("10.1.2.3")).allowed);
  EXPECT_FALSE(f.policy->on_connect(remote("10.9.2.3")).allowed);
  EXPECT_FALSE(f.policy->on_connect(f.client).allowed);  // loopback, but blocked
  EXPECT_FALSE(f.policy->on_connect(remote("::ffff:10.9.0.1")).allowed);
  EXPECT_TRUE(f.policy->on_connect(remote("::ffff:10.8.0.1")).allowed);
  EXPECT_FALSE(f.policy->on_connect(remote("192.0.2.1")).allowed);
}

TEST(AccessPolicy, AnAllowListReplacesTheLoopbackDefault) {
  AccessRules r;
  r.allowed_ips = {"192.0.2.0/24"};
  Fixture f(r);
  EXPECT_FALSE(f.policy->on_connect(f.client).allowed);
  EXPECT_TRUE(f.policy->on_connect(remote("192.0.2.1")).allowed);
}

TEST(AccessPolicy, AllowedClientsRelayUnlessAuthIsRequired) {
  Fixture open;
  EXPECT_TRUE(open.policy->on_rcpt(open.view(), "s@example.com", "r@example.net").allowed);
  AccessRules r;
  r.require_auth = true;
  Fixture f(r);
  auto v = f.policy->on_rcpt(f.view(), "s@example.com", "r@example.net");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.reply, "554 5.7.1 <r@example.net>: Relay access denied");
  EXPECT_TRUE(f.policy->on_rcpt(f.view("bob"), "s@example.com", "r@example.net").allowed);
}

TEST(AccessPolicy, OpenRelayVectorsAreRefusedToClientsThatMayNotRelay) {
  AccessRules r;
  r.require_auth = true;
  Fixture f(r);
  for (const char* probe : {"v%ext.example@relay.test", "\"v@ext.example\"@relay.test", "ext.example!v@relay.test",
                            "@relay.test:v@ext.example"}) {
    EXPECT_TRUE(AccessPolicy::has_routing_syntax(probe)) << probe;
    auto v = f.policy->on_rcpt(f.view(), "s@example.com", probe);
    EXPECT_FALSE(v.allowed) << probe;
    EXPECT_EQ(v.reply.substr(0, 9), "554 5.7.1");
  }
  EXPECT_FALSE(AccessPolicy::has_routing_syntax("plain.user+tag@example.net"));
}

TEST(AccessPolicy, RoutingSyntaxCannotSlipPastRecipientDomains) {
  AccessRules r;
  r.allowed_recipient_domains = {"example.net", "*.corp.example"};
  Fixture f(r);
  EXPECT_TRUE(f.policy->on_rcpt(f.view(), "", "a@example.net").allowed);
  EXPECT_TRUE(f.policy->on_rcpt(f.view(), "", "a@EXAMPLE.NET").allowed);
  EXPECT_TRUE(f.policy->on_rcpt(f.view(), "", "a@mx.corp.example").allowed);
  EXPECT_FALSE(f.policy->on_rcpt(f.view(), "", "a@corp.example.evil").allowed);
  EXPECT_FALSE(f.policy->on_rcpt(f.view(), "", "a@other.example").allowed);
  auto v = f.policy->on_rcpt(f.view(), "", "victim%evil.example@example.net");
  EXPECT_FALSE(v.allowed);
  EXPECT_NE(v.reply.find("Routing syntax"), std::string::npos);
}

TEST(AccessPolicy, SenderDomains) {
  AccessRules r;
  r.allowed_sender_domains = {"example.com", ".example.org"};
  Fixture f(r);
  EXPECT_TRUE(f.policy->on_mail(f.view(), "a@example.com").allowed);
  EXPECT_TRUE(f.policy->on_mail(f.view(), "a@mail.example.org").allowed);
  EXPECT_TRUE(f.policy->on_mail(f.view(), "").allowed);  // the null sender (bounces)
  auto v = f.policy->on_mail(f.view(), "a@example.net");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.reply.substr(0, 9), "553 5.7.1");
}

TEST(AccessPolicy, UsersAreTiedToTheirSenders) {
  Fixture f;
  EXPECT_TRUE(f.policy->on_mail(f.view("alice"), "alice@example.com").allowed);
  EXPECT_TRUE(f.policy->on_mail(f.view("alice"), "Alice@Example.com").allowed);
  EXPECT_TRUE(f.policy->on_mail(f.view("alice"), "invoices@billing.example.com").allowed);
  EXPECT_FALSE(f.policy->on_mail(f.view("alice"), "ceo@example.com").allowed);
  EXPECT_TRUE(f.policy->on_mail(f.view("bob"), "anyone@anywhere.example").allowed);  // no third field
}

TEST(AccessPolicy, MessagesPerMinutePerIp) {
  AccessRules r;
  r.limits.messages_per_minute_per_ip = 3;
  Fixture f(r);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(f.policy->on_mail(f.view(), "a@example.com").allowed);
  auto v = f.policy->on_mail(f.view(), "a@example.com");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.reply.substr(0, 9), "450 4.7.1");
  f.now += 20s;  // one more per 20 s
  EXPECT_TRUE(f.policy->on_mail(f.view(), "a@example.com").allowed);
  EXPECT_FALSE(f.policy->on_mail(f.view(), "a@example.com").allowed);
  // Another IP has its own allowance.
  f.client.address = "127.0.0.2";
  EXPECT_TRUE(f.policy->on_mail(f.view(), "a@example.com").allowed);
}

TEST(AccessPolicy, RecipientsPerMinutePerUserAcrossIps) {
  AccessRules r;
  r.limits.recipients_per_minute_per_user = 2;
  Fixture f(r);
  EXPECT_TRUE(f.policy->on_rcpt(f.view("bob"), "", "a@example.net").allowed);
  f.client.address = "127.0.0.9";
  EXPECT_TRUE(f.policy->on_rcpt(f.view("bob"), "", "b@example.net").allowed);
  auto v = f.policy->on_rcpt(f.view("bob"), "", "c@example.net");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.reply.substr(0, 9), "450 4.7.1");
  EXPECT_TRUE(f.policy->on_rcpt(f.view("alice"), "", "c@example.net").allowed);
  EXPECT_TRUE(f.policy->on_rcpt(f.view(), "", "c@example.net").allowed);  // unauthenticated: no user limit
}

TEST(AccessPolicy, ConcurrentSessionsPerUser) {
  AccessRules r;
  r.max_connections_per_user = 2;
  Fixture f(r);
  auto session = [&](uint64_t id) {
    smtpd::ClientInfo c = f.client;
    c.session_id = id;
    return c;
  };
  // Three sessions of bob authenticate; the third is refused at MAIL and told to go away.
  for (uint64_t id : {1, 2, 3}) ASSERT_TRUE(f.policy->authenticate(session(id), "bob", "hunter2"));
  EXPECT_EQ(f.policy->sessions_of("bob"), 3u);
  auto v = f.policy->on_mail(f.view("bob"), "bob@example.com");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.reply.substr(0, 9), "421 4.7.0");
  EXPECT_TRUE(v.disconnect);
  // When one leaves, the others may send; re-authenticating a session does not count twice.
  f.policy->on_disconnect(session(3));
  EXPECT_TRUE(f.policy->authenticate(session(2), "bob", "hunter2"));
  EXPECT_EQ(f.policy->sessions_of("bob"), 2u);
  EXPECT_TRUE(f.policy->on_mail(f.view("bob"), "bob@example.com").allowed);
  // Other users and unauthenticated sessions are not affected; a failed AUTH binds nothing.
  EXPECT_FALSE(f.policy->authenticate(session(4), "bob", "wrong"));
  EXPECT_EQ(f.policy->sessions_of("bob"), 2u);
  EXPECT_TRUE(f.policy->on_mail(f.view("alice"), "alice@example.com").allowed);
  f.policy->on_disconnect(session(1));
  f.policy->on_disconnect(session(2));
  f.policy->on_disconnect(session(99));  // never authenticated
  EXPECT_EQ(f.policy->sessions_of("bob"), 0u);
}

TEST(AccessPolicy, SaturatedUpstreamsDeferAtRcptAndEndOfData) {
  Fixture f;
  bool saturated = false;
  f.policy->set_saturation_check([&] { return saturated; });
  mail::Envelope e;
  EXPECT_TRUE(f.policy->on_rcpt(f.view(), "", "a@example.net").allowed);
  EXPECT_TRUE(f.policy->on_end_of_data(f.view(), e).allowed);
  saturated = true;
  auto v = f.policy->on_rcpt(f.view(), "", "a@example.net");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.reply.substr(0, 9), "451 4.7.0");
  EXPECT_EQ(f.policy->on_end_of_data(f.view(), e).reply.substr(0, 9), "451 4.7.0");
}

TEST(AccessPolicy, AuthFailuresAreLimitedPerIp) {
  AccessRules r;
  r.max_auth_failures = 3;
  r.auth_failure_window = 600s;
  Fixture f(r);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(f.policy->authenticate(f.client, "alice", "wrong"));
  // Locked out, even with the right password, and without paying for a hash.
  int before = f.users->checks;
  EXPECT_FALSE(f.policy->authenticate(f.client, "alice", "secret"));
  EXPECT_EQ(f.users->checks, before);
  EXPECT_TRUE(f.policy->authenticate(remote("192.0.2.5"), "alice", "secret"));
  f.now += 601s;
  EXPECT_TRUE(f.policy->authenticate(f.client, "alice", "secret"));
}

TEST(AccessPolicy, RecentSuccessesSkipTheSlowHash) {
  Fixture f;
  EXPECT_TRUE(f.policy->authenticate(f.client, "alice", "secret"));
  EXPECT_EQ(f.users->checks, 1);
  EXPECT_TRUE(f.policy->authenticate(f.client, "alice", "secret"));
  EXPECT_EQ(f.users->checks, 1);
  // A different password is never answered from the cache.
  EXPECT_FALSE(f.policy->authenticate(f.client, "alice", "secret2"));
  EXPECT_EQ(f.users->checks, 2);
  EXPECT_FALSE(f.policy->authenticate(f.client, "bob", "secret"));
  EXPECT_EQ(f.users->checks, 3);
  // After the TTL the hash is checked again.
  f.now += AccessPolicy::kAuthCacheTtl + 1s;
  EXPECT_TRUE(f.policy->authenticate(f.client, "alice", "secret"));
  EXPECT_EQ(f.users->checks, 4);
}

TEST(AccessPolicy, NoUsersFileMeansNoLogin) {
  AccessPolicy p({}, nullptr, [] { return std::chrono::steady_clock::time_point{}; });
  EXPECT_FALSE(p.authenticate(smtpd::ClientInfo{"127.0.0.1", 1, true, false}, "alice", "secret"));
}

TEST(ClientLimits, MemoryIsCapped) {
  ClientLimitSettings s;
  s.messages_per_minute_per_ip = 5;
  s.max_tracked = 100;
  ClientLimits l(s);
  auto now = SteadyTime{} + 1000h;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(l.take(ClientLimits::Kind::message, "10.0.0." + std::to_string(i), "", now));
  EXPECT_LE(l.tracked(), 100u);
  EXPECT_TRUE(l.enabled());
  EXPECT_FALSE(ClientLimits({}).enabled());
}

TEST(ClientLimits, BothLimitsMustHaveRoomBeforeEitherCounts) {
  ClientLimitSettings s;
  s.messages_per_minute_per_ip = 1;
  s.messages_per_minute_per_user = 10;
  ClientLimits l(s);
  auto now = SteadyTime{} + 1000h;
  EXPECT_TRUE(l.take(ClientLimits::Kind::message, "10.0.0.1", "u", now));
  EXPECT_FALSE(l.take(ClientLimits::Kind::message, "10.0.0.1", "u", now));  // the IP is out
  // The refused attempt did not use the user's allowance: nine more from other IPs.
  for (int i = 0; i < 9; ++i) EXPECT_TRUE(l.take(ClientLimits::Kind::message, "10.0.1." + std::to_string(i), "u", now));
  EXPECT_FALSE(l.take(ClientLimits::Kind::message, "10.0.2.1", "u", now));
}

}  // namespace
}  // namespace smarthost::policy
