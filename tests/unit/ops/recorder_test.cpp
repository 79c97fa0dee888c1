// The recorder and its observing wrappers: every attempt counted per upstream, alert mail never, policy refusals
// by reason, the last errors, and probes passed through.
#include "ops/recorder.h"

#include <gtest/gtest.h>

#include "tests/unit/ops/ops_fakes.h"

namespace smarthost::ops {
namespace {

using upstream::Outcome;

struct Observed {
  std::shared_ptr<Recorder> recorder = std::make_shared<Recorder>();
  test::ScriptedTransport* a = nullptr;
  test::ScriptedTransport* b = nullptr;
  std::vector<std::unique_ptr<upstream::Transport>> transports;

  Observed() {
    auto ta = std::make_unique<test::ScriptedTransport>("mailgun0");
    auto tb = std::make_unique<test::ScriptedTransport>("smtp1");
    a = ta.get();
    b = tb.get();
    transports.push_back(std::move(ta));
    transports.push_back(std::move(tb));
    recorder->observe_all(transports);
  }
};

TEST(Recorder, CountsEachAttemptPerUpstreamByOutcome) {
  Observed o;
  boost::asio::io_context io;
  o.a->push_result(Outcome::delivered);
  o.a->push_result(Outcome::temporary, "451 4.4.1 try later", true);
  o.a->push_result(Outcome::permanent, "550 5.1.1 no such user");
  o.b->push_result(Outcome::upstream_refused, "HTTP 401: Forbidden");
  for (int i = 0; i < 3; ++i) test::run(io, o.transports[0]->deliver(test::message("Q" + std::to_string(i))));
  test::run(io, o.transports[1]->deliver(test::message("Q9", {"x@example.net", "y@example.net"})));

  auto tallies = o.recorder->upstreams();
  ASSERT_EQ(tallies.size(), 2u);
  EXPECT_EQ(tallies[0]->name, "mailgun0");
  EXPECT_EQ(tallies[0]->delivered.value(), 1u);
  EXPECT_EQ(tallies[0]->temporary.value(), 1u);
  EXPECT_EQ(tallies[0]->permanent.value(), 1u);
  EXPECT_EQ(tallies[0]->throttled.value(), 1u);
  EXPECT_EQ(tallies[0]->recipients_delivered.value(), 1u);
  EXPECT_EQ(tallies[0]->latency.snapshot().count, 3u);
  EXPECT_EQ(tallies[1]->upstream_refused.value(), 1u);

  // The window counts temporary and refused-by-upstream as errors; a permanent refusal is the message's fault.
  auto w = o.recorder->window();
  EXPECT_EQ(w.attempts, 4u);
  EXPECT_EQ(w.errors, 2u);

  auto errors = o.recorder->recent_errors();
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].upstream, "smtp1");  // newest first
  EXPECT_EQ(errors[0].queue_id, "Q9");
  EXPECT_EQ(errors[0].reply, "HTTP 401: Forbidden");
}

TEST(Recorder, AlertMailIsNeverCounted) {
  Observed o;
  boost::asio::io_context io;
  o.a->push_result(Outcome::temporary, "451 down");
  auto r = test::run(io, o.transports[0]->deliver(test::message("alert-1700000000-1")));
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_EQ(o.recorder->upstreams()[0]->temporary.value(), 0u);
  EXPECT_EQ(o.recorder->window().attempts, 0u);
  EXPECT_TRUE(o.recorder->recent_errors().empty());
}

TEST(Recorder, WrappersKeepNamesOrderAndProbeTargets) {
  Observed o;
  boost::asio::io_context io;
  EXPECT_EQ(o.transports[0]->name(), "mailgun0");
  EXPECT_EQ(o.transports[1]->name(), "smtp1");
  auto targets = o.recorder->probe_targets();
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[1].index, 1u);
  EXPECT_EQ(targets[1].name, "smtp1");
  o.b->push_probe(false, "535 5.7.8 authentication failed");
  auto probe = test::run(io, o.transports[1]->probe(std::chrono::seconds(1)));
  EXPECT_FALSE(probe.ok);
  EXPECT_EQ(probe.detail, "535 5.7.8 authentication failed");
  auto direct = targets[1].transport.lock();
  ASSERT_TRUE(direct);
  EXPECT_TRUE(test::run(io, direct->probe(std::chrono::seconds(1))).ok);
  EXPECT_EQ(o.b->probes(), 2);
}

TEST(Recorder, BatchesChargeEachMessage) {
  Observed o;
  boost::asio::io_context io;
  std::vector<upstream::OutboundMessage> batch{test::message("B1"), test::message("B2"), test::message("B3")};
  o.a->push_result(Outcome::delivered);
  o.a->push_result(Outcome::temporary, "421 closing");
  auto results = test::run(io, o.transports[0]->deliver_batch(batch));
  ASSERT_EQ(results.size(), 3u);
  auto* t = o.recorder->upstreams()[0];
  EXPECT_EQ(t->delivered.value(), 2u);
  EXPECT_EQ(t->temporary.value(), 1u);
  EXPECT_EQ(t->latency.snapshot().count, 3u);
}

TEST(Recorder, PolicyRefusalsAreCountedByReason) {
  auto recorder = std::make_shared<Recorder>();
  test::RefusingPolicy inner;
  auto policy = recorder->observe(inner);
  smtpd::ClientInfo client{"192.0.2.1", 1234, false, false};
  smtpd::SessionView view{client, "helo", "", false};
  mail::Envelope envelope;

  EXPECT_TRUE(policy->on_connect(client).allowed);
  inner.connect_reply = "554 5.7.1 Access denied";
  EXPECT_FALSE(policy->on_connect(client).allowed);
  inner.mail_reply = "553 5.7.1 <x@y>: Sender domain not allowed";
  EXPECT_FALSE(policy->on_mail(view, "x@y").allowed);
  inner.mail_reply = "450 4.7.1 Error: too many messages, slow down";
  EXPECT_EQ(policy->on_mail(view, "x@y").reply, "450 4.7.1 Error: too many messages, slow down");
  inner.rcpt_reply = "554 5.7.1 <v@ext>: Relay access denied";
  policy->on_rcpt(view, "x@y", "v@ext");
  inner.rcpt_reply = "451 4.7.0 <v@ext>: Upstream sending rate exceeded, try again later";
  policy->on_rcpt(view, "x@y", "v@ext");
  inner.data_reply = "451 4.7.0 Upstream sending rate exceeded, try again later";
  policy->on_end_of_data(view, envelope);
  inner.data_reply = "550 5.7.0 something else";
  policy->on_end_of_data(view, envelope);
  inner.password_ok = false;
  EXPECT_FALSE(policy->authenticate(client, "u", "p"));

  EXPECT_EQ(recorder->rejections(RejectReason::client_blocked), 1u);
  EXPECT_EQ(recorder->rejections(RejectReason::sender_denied), 1u);
  EXPECT_EQ(recorder->rejections(RejectReason::rate_limited), 1u);
  EXPECT_EQ(recorder->rejections(RejectReason::relay_denied), 1u);
  EXPECT_EQ(recorder->rejections(RejectReason::upstream_saturated), 2u);
  EXPECT_EQ(recorder->rejections(RejectReason::policy), 1u);
  EXPECT_EQ(recorder->rejections(RejectReason::auth_failed), 1u);
  EXPECT_EQ(recorder->data_stage_rejections(), 2u);
}

TEST(Recorder, UpstreamNamesAreBounded) {
  Recorder recorder;
  for (size_t i = 0; i < Recorder::kMaxUpstreams + 10; ++i) recorder.upstream("u" + std::to_string(i)).delivered.inc();
  auto all = recorder.upstreams();
  EXPECT_EQ(all.size(), Recorder::kMaxUpstreams + 1);
  EXPECT_EQ(all.back()->name, "other");
  EXPECT_EQ(all.back()->delivered.value(), 10u);
}

}  // namespace
}  // namespace smarthost::ops

namespace smarthost::ops {
namespace {

TEST(Recorder, ProbesTheNewestLiveSetOfTransports) {
  auto recorder = std::make_shared<Recorder>();
  std::vector<std::unique_ptr<upstream::Transport>> running;
  running.push_back(std::make_unique<test::ScriptedTransport>("old0"));
  recorder->observe_all(running);
  {
    // A reload builds a new set, then is refused: the set goes away and the running one is probed again.
    std::vector<std::unique_ptr<upstream::Transport>> refused;
    refused.push_back(std::make_unique<test::ScriptedTransport>("new0"));
    recorder->observe_all(refused);
    ASSERT_EQ(recorder->probe_targets().size(), 1u);
    EXPECT_EQ(recorder->probe_targets()[0].name, "new0");
  }
  ASSERT_EQ(recorder->probe_targets().size(), 1u);
  EXPECT_EQ(recorder->probe_targets()[0].name, "old0");
  running.clear();
  EXPECT_TRUE(recorder->probe_targets().empty());
}

TEST(Recorder, SharedPolicyWrapperKeepsItsInnerPolicy) {
  auto recorder = std::make_shared<Recorder>();
  auto inner = std::make_shared<test::RefusingPolicy>();
  inner->rcpt_reply = "554 5.7.1 <v@ext>: Relay access denied";
  std::weak_ptr<test::RefusingPolicy> watch = inner;
  auto policy = recorder->observe(std::shared_ptr<smtpd::SessionPolicy>(std::move(inner)));
  EXPECT_FALSE(watch.expired());
  smtpd::ClientInfo client{"192.0.2.1", 1, false, false};
  smtpd::SessionView view{client, "h", "", false};
  EXPECT_FALSE(policy->on_rcpt(view, "a@b", "v@ext").allowed);
  EXPECT_EQ(recorder->rejections(RejectReason::relay_denied), 1u);
  policy.reset();
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace smarthost::ops
