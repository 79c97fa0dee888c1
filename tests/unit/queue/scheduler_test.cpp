// The scheduler against a scripted transport and a hand-moved clock: immediate delivery, retries, expiry and
// bounces, per-recipient results, admin actions, parallel limits, batches and the delivery log line.
#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <sstream>

#include "queue/scheduler.h"
#include "queue_test_support.h"
#include "tests/support/temp_dir.h"

namespace smarthost::queue {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using upstream::DeliveryResult;
using upstream::OutboundMessage;
using upstream::Outcome;
using test::FakeTransport;

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::error_code error;
    spool = FsSpool::open(dir.path(), {}, error);
    ASSERT_TRUE(spool) << error.message();
    settings.queue.retry_schedule = {60s, 300s};
    settings.queue.max_lifetime = 3600s;
    settings.queue.max_parallel_deliveries = 4;
    settings.retry_jitter = 0;
    settings.hostname = "relay.example";
  }

  void TearDown() override {
    if (scheduler) {
      transport.gated = false;
      transport.release();
      scheduler->stop();
      EXPECT_TRUE(test::run_until(io, [&] { return scheduler->stopped(); }));
      scheduler.reset();
    }
  }

  void start() {
    scheduler = std::make_unique<Scheduler>(io.get_executor(), *spool, transport, settings, clock);
    scheduler->start();
  }

  QueueId submit(const mail::Envelope& env, std::string_view content = test::sample_message()) {
    CommitResult result = test::commit(io, *spool, env, content, clock.now());
    EXPECT_FALSE(result.error) << result.error.message();
    return result.id;
  }

  // Runs until the transport saw `calls` messages and every attempt has been recorded.
  void settle(size_t calls) {
    ASSERT_TRUE(test::run_until(io, [&] { return transport.calls.size() >= calls && scheduler->delivering() == 0; }))
        << "calls: " << transport.calls.size();
    test::run_ready(io);
  }

  void advance(std::chrono::system_clock::duration by) {
    clock.advance(by);
    scheduler->wake();
    test::run_ready(io);
  }

  size_t files(Folder folder) const {
    size_t count = 0;
    for (const auto& entry : fs::directory_iterator(dir.path() / std::string(to_string(folder))))
      count += entry.path().extension() != ".state";
    return count;
  }

  std::optional<StoredMessage> load(Folder folder, const QueueId& id) const {
    std::error_code error;
    return spool->dir().load(folder, id, error);
  }

  smarthost::test::TempDir dir;
  asio::io_context io;
  test::ManualClock clock;
  std::unique_ptr<FsSpool> spool;
  FakeTransport transport{io};
  SchedulerSettings settings;
  std::unique_ptr<Scheduler> scheduler;
};

DeliveryResult temporary(const OutboundMessage& message) {
  return FakeTransport::answer_all(message, Outcome::temporary, "451 4.4.1 upstream busy");
}

DeliveryResult permanent(const OutboundMessage& message) {
  return FakeTransport::answer_all(message, Outcome::permanent, "550 5.1.1 <x> no such user");
}

TEST_F(SchedulerTest, DeliversNewMailAsSoonAsItIsCommitted) {
  start();
  QueueId id = submit(test::envelope("alice@example.org", {"bob@example.net"}));
  settle(1);
  ASSERT_EQ(transport.calls.size(), 1u);
  EXPECT_EQ(transport.calls[0].queue_id, id);
  EXPECT_EQ(transport.calls[0].envelope.mail_from, "alice@example.org");
  EXPECT_EQ(transport.contents[0], test::sample_message());
  EXPECT_EQ(files(Folder::active), 0u);
  EXPECT_EQ(scheduler->queued(), 0u);
  EXPECT_EQ(scheduler->stats().delivered, 1u);
}

TEST_F(SchedulerTest, LoadsQueuedMailOnStartAsDue) {
  QueueId first = submit(test::envelope("a@example.org", {"b@example.net"}));
  QueueId second = submit(test::envelope("a@example.org", {"c@example.net"}));
  EXPECT_EQ(files(Folder::active), 2u);
  start();
  settle(2);
  EXPECT_EQ(transport.calls[0].queue_id, first);
  EXPECT_EQ(transport.calls[1].queue_id, second);
  EXPECT_EQ(files(Folder::active), 0u);
}

TEST_F(SchedulerTest, RetriesATemporaryFailureOnTheScheduleThenDelivers) {
  transport.script = [](const OutboundMessage& message, size_t call) {
    return call < 2 ? temporary(message) : FakeTransport::deliver_all(message);
  };
  start();
  QueueId id = submit(test::envelope("a@example.org", {"b@example.net"}));
  settle(1);
  auto queued = load(Folder::active, id);
  ASSERT_TRUE(queued);
  EXPECT_EQ(queued->attempts, 1u);
  EXPECT_EQ(queued->next_attempt, clock.now() + 60s);
  EXPECT_EQ(queued->last_error, "451 4.4.1 upstream busy");
  EXPECT_EQ(queued->envelope.recipients[0].last_reply, "451 4.4.1 upstream busy");

  advance(59s);
  EXPECT_EQ(transport.calls.size(), 1u);  // not due yet
  advance(1s);
  settle(2);
  EXPECT_EQ(load(Folder::active, id)->next_attempt, clock.now() + 300s);  // the second step
  advance(300s);
  settle(3);
  EXPECT_EQ(transport.calls.size(), 3u);
  EXPECT_EQ(files(Folder::active), 0u);
  EXPECT_EQ(scheduler->stats().deferred, 2u);
}

TEST_F(SchedulerTest, TheLastRetryStepRepeats) {
  settings.queue.retry_schedule = {10s};
  transport.script = [](const OutboundMessage& message, size_t) { return temporary(message); };
  start();
  QueueId id = submit(test::envelope("a@example.org", {"b@example.net"}));
  settle(1);
  for (size_t attempt = 2; attempt <= 4; ++attempt) {
    advance(10s);
    settle(attempt);
    EXPECT_EQ(load(Folder::active, id)->next_attempt, clock.now() + 10s);
  }
}

TEST_F(SchedulerTest, RetryDelaysAreJitteredWithinBounds) {
  settings.retry_jitter = 0.1;
  settings.seed = 42;
  transport.script = [](const OutboundMessage& message, size_t) { return temporary(message); };
  start();
  std::vector<QueueId> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(submit(test::envelope("a@example.org", {"b@example.net"})));
  settle(5);
  std::set<std::chrono::system_clock::time_point> distinct;
  for (const auto& id : ids) {
    auto next = load(Folder::active, id)->next_attempt;
    EXPECT_GE(next, clock.now() + 54s);
    EXPECT_LE(next, clock.now() + 66s);
    distinct.insert(next);
  }
  EXPECT_GT(distinct.size(), 1u);
}

TEST_F(SchedulerTest, ExpiresAfterMaxLifetimeAndBouncesWithADsn) {
  settings.queue.max_lifetime = 100s;
  transport.script = [](const OutboundMessage& message, size_t) {
    return message.envelope.mail_from.empty() ? FakeTransport::deliver_all(message) : temporary(message);
  };
  start();
  QueueId id = submit(test::envelope("alice@example.org", {"bob@example.net"}));
  settle(1);
  advance(60s);
  settle(2);
  // The next step (300s) would pass the lifetime: the last attempt happens when it ends.
  EXPECT_EQ(load(Folder::active, id)->next_attempt, clock.now() + 40s);
  advance(40s);
  settle(3);
  settle(4);  // the bounce itself goes out

  ASSERT_EQ(transport.calls.size(), 4u);
  const auto& bounce = transport.calls[3];
  EXPECT_EQ(bounce.envelope.mail_from, "");
  ASSERT_EQ(bounce.envelope.recipients.size(), 1u);
  EXPECT_EQ(bounce.envelope.recipients[0].address, "alice@example.org");
  const std::string& dsn = transport.contents[3];
  EXPECT_NE(dsn.find("Content-Type: multipart/report; report-type=delivery-status;"), std::string::npos);
  EXPECT_NE(dsn.find("Content-Type: message/delivery-status\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Reporting-MTA: dns; relay.example\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; bob@example.net\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Action: failed\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Status: 4.4.1\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Diagnostic-Code: smtp; 451 4.4.1 upstream busy\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Content-Type: text/rfc822-headers\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Subject: hello\r\n"), std::string::npos);
  EXPECT_EQ(dsn.find("Body line one."), std::string::npos);  // headers only
  EXPECT_NE(dsn.find("Auto-Submitted: auto-replied\r\n"), std::string::npos);
  EXPECT_EQ(files(Folder::active), 0u);
  EXPECT_EQ(files(Folder::failed), 0u);
  EXPECT_EQ(scheduler->stats().bounces, 1u);
}

TEST_F(SchedulerTest, PermanentFailureBouncesAtOnceAndABounceIsNeverBounced) {
  transport.script = [](const OutboundMessage& message, size_t) { return permanent(message); };
  start();
  QueueId id = submit(test::envelope("alice@example.org", {"nobody@example.net"}));
  settle(1);
  settle(2);  // the bounce, which fails too
  ASSERT_EQ(transport.calls.size(), 2u);
  EXPECT_EQ(transport.calls[1].envelope.mail_from, "");
  EXPECT_NE(transport.contents[1].find("Status: 5.1.1\r\n"), std::string::npos);
  EXPECT_NE(transport.contents[1].find("Final-Recipient: rfc822; nobody@example.net"), std::string::npos);
  EXPECT_FALSE(load(Folder::active, id));
  // The failed bounce is kept in failed/ and produces nothing further.
  test::run_ready(io);
  EXPECT_EQ(transport.calls.size(), 2u);
  EXPECT_EQ(files(Folder::failed), 1u);
  EXPECT_EQ(files(Folder::active), 0u);
  EXPECT_EQ(scheduler->stats().bounces, 1u);
}

TEST_F(SchedulerTest, PartialAcceptanceRetriesOnlyTheFailedRecipients) {
  transport.script = [](const OutboundMessage& message, size_t call) {
    if (message.envelope.mail_from.empty() || call > 0) return FakeTransport::deliver_all(message);
    DeliveryResult result;
    result.outcome = Outcome::temporary;
    result.recipients = {{"a@example.net", Outcome::delivered, "250 2.1.5 ok"},
                         {"b@example.net", Outcome::temporary, "452 4.2.2 mailbox full"},
                         {"c@example.net", Outcome::permanent, "550 5.1.1 unknown"}};
    return result;
  };
  start();
  QueueId id = submit(test::envelope("alice@example.org", {"a@example.net", "b@example.net", "c@example.net"}));
  settle(1);
  auto queued = load(Folder::active, id);
  ASSERT_TRUE(queued);
  EXPECT_EQ(queued->envelope.recipients[0].state, mail::RecipientState::delivered);
  EXPECT_EQ(queued->envelope.recipients[1].state, mail::RecipientState::pending);
  EXPECT_EQ(queued->envelope.recipients[2].state, mail::RecipientState::failed);
  settle(2);  // the bounce for c
  EXPECT_EQ(transport.calls[1].envelope.mail_from, "");
  EXPECT_NE(transport.contents[1].find("Final-Recipient: rfc822; c@example.net"), std::string::npos);
  EXPECT_EQ(transport.contents[1].find("Final-Recipient: rfc822; b@example.net"), std::string::npos);

  advance(60s);
  settle(3);
  const auto& retry = transport.calls[2];
  EXPECT_EQ(retry.queue_id, id);
  ASSERT_EQ(retry.envelope.recipients.size(), 1u);
  EXPECT_EQ(retry.envelope.recipients[0].address, "b@example.net");
  EXPECT_EQ(files(Folder::active), 0u);
  EXPECT_EQ(files(Folder::failed), 0u);
}

TEST_F(SchedulerTest, NullSenderGetsNoBounceAndLandsInFailed) {
  transport.script = [](const OutboundMessage& message, size_t) { return permanent(message); };
  start();
  QueueId id = submit(test::envelope("", {"postmaster@example.net"}));
  settle(1);
  test::run_ready(io);
  EXPECT_EQ(transport.calls.size(), 1u);
  EXPECT_EQ(files(Folder::active), 0u);
  auto failed = load(Folder::failed, id);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->envelope.recipients[0].state, mail::RecipientState::failed);
  EXPECT_EQ(scheduler->stats().bounces, 0u);
}

TEST_F(SchedulerTest, WithBouncesOffFailuresMoveToFailed) {
  settings.queue.bounce = false;
  transport.script = [](const OutboundMessage& message, size_t) { return permanent(message); };
  start();
  QueueId id = submit(test::envelope("alice@example.org", {"nobody@example.net"}));
  settle(1);
  test::run_ready(io);
  EXPECT_EQ(transport.calls.size(), 1u);
  EXPECT_EQ(files(Folder::active), 0u);
  auto failed = load(Folder::failed, id);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->envelope.recipients[0].last_reply, "550 5.1.1 <x> no such user");
  EXPECT_TRUE(fs::exists(dir.path() / "failed" / (id + ".state")));
}

TEST_F(SchedulerTest, UpstreamRefusedIsRetriedLikeATemporaryFailure) {
  transport.script = [](const OutboundMessage& message, size_t call) {
    return call == 0 ? FakeTransport::answer_all(message, Outcome::upstream_refused, "HTTP 401: bad credentials")
                     : FakeTransport::deliver_all(message);
  };
  start();
  QueueId id = submit(test::envelope("alice@example.org", {"b@example.net"}));
  settle(1);
  ASSERT_TRUE(load(Folder::active, id));
  EXPECT_EQ(scheduler->stats().bounces, 0u);
  advance(60s);
  settle(2);
  EXPECT_EQ(files(Folder::active), 0u);
}

TEST_F(SchedulerTest, RetryAfterFromTheUpstreamIsHonoured) {
  transport.script = [this](const OutboundMessage& message, size_t call) {
    auto result = call == 0 ? temporary(message) : FakeTransport::deliver_all(message);
    result.retry_after = clock.now() + 600s;
    return result;
  };
  start();
  QueueId id = submit(test::envelope("alice@example.org", {"b@example.net"}));
  settle(1);
  EXPECT_EQ(load(Folder::active, id)->next_attempt, clock.now() + 600s);
}

TEST_F(SchedulerTest, HoldReleaseRetryAndRemove) {
  settings.queue.max_lifetime = 24h;  // holding it for an hour must not expire it
  transport.script = [](const OutboundMessage& message, size_t call) {
    return call < 3 ? temporary(message) : FakeTransport::deliver_all(message);
  };
  start();
  QueueId id = submit(test::envelope("alice@example.org", {"b@example.net"}));
  settle(1);

  // retry: due now, without waiting for the schedule, and the transport forgets its open circuits
  EXPECT_EQ(transport.retry_now_calls, 0u);
  EXPECT_FALSE(scheduler->retry(id));
  EXPECT_EQ(transport.retry_now_calls, 1u);
  settle(2);

  // hold: no attempts while held, whatever the clock says
  EXPECT_FALSE(scheduler->hold(id));
  EXPECT_EQ(files(Folder::hold), 1u);
  EXPECT_EQ(scheduler->queued(), 0u);
  advance(3600s);
  EXPECT_EQ(transport.calls.size(), 2u);
  std::error_code error;
  auto entries = scheduler->list().rest(error);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].folder, Folder::hold);
  EXPECT_EQ(entries[0].attempts, 2u);
  EXPECT_EQ(entries[0].last_error, "451 4.4.1 upstream busy");
  EXPECT_EQ(entries[0].age, 3600s);

  // release: back in active/ and due now
  EXPECT_EQ(scheduler->release("0000000000000"), std::errc::no_such_file_or_directory);
  EXPECT_FALSE(scheduler->release(id));
  settle(3);
  EXPECT_EQ(files(Folder::hold), 0u);
  EXPECT_EQ(files(Folder::active), 1u);

  // remove: gone for good
  EXPECT_FALSE(scheduler->remove(id));
  EXPECT_EQ(files(Folder::active), 0u);
  EXPECT_EQ(scheduler->queued(), 0u);
  advance(3600s);
  EXPECT_EQ(transport.calls.size(), 3u);
  EXPECT_EQ(scheduler->remove(id), std::errc::no_such_file_or_directory);
  EXPECT_EQ(scheduler->remove("../../etc/x"), std::errc::invalid_argument);
}

// flush: every deferred message due now, and the transport told to forget its open circuits first.
TEST_F(SchedulerTest, FlushMakesEveryDeferredMessageDueAndClosesCircuits) {
  transport.script = [](const OutboundMessage& message, size_t call) {
    return call < 2 ? temporary(message) : FakeTransport::deliver_all(message);
  };
  start();
  submit(test::envelope("alice@example.org", {"b@example.net"}));
  submit(test::envelope("alice@example.org", {"c@example.net"}));
  settle(2);
  advance(10s);  // far from the first retry (60 s)
  EXPECT_EQ(transport.calls.size(), 2u);
  scheduler->flush();
  EXPECT_EQ(transport.retry_now_calls, 1u);
  settle(4);
  EXPECT_EQ(files(Folder::active), 0u);
  EXPECT_EQ(scheduler->stats().delivered, 2u);
}

TEST_F(SchedulerTest, RetryAllAndRemoveFailedWorkOnTheFailedFolder) {
  settings.queue.bounce = false;
  transport.script = [](const OutboundMessage& message, size_t call) {
    return call < 2 || call == 4 ? permanent(message) : FakeTransport::deliver_all(message);
  };
  start();
  QueueId first = submit(test::envelope("alice@example.org", {"b@example.net"}));
  QueueId second = submit(test::envelope("alice@example.org", {"c@example.net"}));
  settle(2);
  EXPECT_EQ(files(Folder::failed), 2u);
  // Both back to active, their failed recipients pending again, due now.
  EXPECT_FALSE(scheduler->retry_all());
  settle(4);
  EXPECT_EQ(files(Folder::failed), 0u);
  EXPECT_EQ(files(Folder::active), 0u);
  EXPECT_EQ(transport.calls[2].envelope.recipients.size(), 1u);

  QueueId third = submit(test::envelope("alice@example.org", {"d@example.net"}));
  settle(5);
  EXPECT_TRUE(load(Folder::failed, third));
  EXPECT_FALSE(scheduler->remove_failed());
  EXPECT_EQ(files(Folder::failed), 0u);
  EXPECT_FALSE(load(Folder::failed, first));
  EXPECT_FALSE(load(Folder::failed, second));
}

TEST_F(SchedulerTest, HoldAndRemoveDuringDeliveryApplyWhenTheAttemptEnds) {
  transport.gated = true;
  transport.script = [](const OutboundMessage& message, size_t) { return temporary(message); };
  start();
  QueueId held = submit(test::envelope("alice@example.org", {"b@example.net"}));
  QueueId removed = submit(test::envelope("alice@example.org", {"c@example.net"}));
  ASSERT_TRUE(test::run_until(io, [&] { return transport.in_flight == 2; }));
  EXPECT_FALSE(scheduler->hold(held));
  EXPECT_FALSE(scheduler->remove(removed));
  EXPECT_EQ(files(Folder::active), 2u);  // nothing happens under a running delivery
  transport.gated = false;
  transport.release();
  ASSERT_TRUE(test::run_until(io, [&] { return scheduler->delivering() == 0; }));
  test::run_ready(io);
  EXPECT_TRUE(load(Folder::hold, held));
  EXPECT_FALSE(load(Folder::active, removed));
  EXPECT_EQ(files(Folder::active), 0u);
  EXPECT_EQ(scheduler->queued(), 0u);
}

TEST_F(SchedulerTest, HoldAndRemoveAskedWhileAnAttemptIsBeingRecordedAreNotLost) {
  // The spool's hook runs as the scheduler writes the attempt's new state: after it has looked for a pending hold
  // or delete, before the message is idle again. The admin call made there must still be honoured.
  std::function<void()> while_recording;
  FsSpoolOptions options;
  options.hooks.fault = [&](SpoolStep step) {
    if (step == SpoolStep::create && while_recording) std::exchange(while_recording, nullptr)();
    return std::error_code{};
  };
  spool.reset();
  std::error_code error;
  spool = FsSpool::open(dir.path(), options, error);
  ASSERT_TRUE(spool) << error.message();
  transport.script = [](const OutboundMessage& message, size_t) { return temporary(message); };
  start();

  QueueId removed = submit(test::envelope("alice@example.org", {"b@example.net"}));
  transport.gated = true;
  ASSERT_TRUE(test::run_until(io, [&] { return transport.in_flight == 1; }));
  while_recording = [&] { EXPECT_FALSE(scheduler->remove(removed)); };
  transport.release();
  ASSERT_TRUE(test::run_until(io, [&] { return scheduler->delivering() == 0; }));
  test::run_ready(io);
  EXPECT_FALSE(while_recording) << "the hook ran";
  EXPECT_FALSE(load(Folder::active, removed));
  EXPECT_FALSE(fs::exists(dir.path() / "active" / (removed + ".state")));
  EXPECT_EQ(scheduler->queued(), 0u);

  QueueId held = submit(test::envelope("alice@example.org", {"c@example.net"}));
  ASSERT_TRUE(test::run_until(io, [&] { return transport.in_flight == 1; }));
  while_recording = [&] { EXPECT_FALSE(scheduler->hold(held)); };
  transport.release();
  ASSERT_TRUE(test::run_until(io, [&] { return scheduler->delivering() == 0; }));
  test::run_ready(io);
  EXPECT_FALSE(while_recording) << "the hook ran";
  auto in_hold = load(Folder::hold, held);
  ASSERT_TRUE(in_hold);
  EXPECT_EQ(in_hold->attempts, 1u);  // with the attempt recorded
  EXPECT_EQ(scheduler->queued(), 0u);
  advance(3600s);
  EXPECT_EQ(transport.calls.size(), 2u) << "neither message was tried again";
}

TEST_F(SchedulerTest, RetryAndFlushDuringAnAttemptMakeItDueAgainWhenItDefers) {
  transport.gated = true;
  transport.script = [](const OutboundMessage& message, size_t call) {
    return call < 2 ? temporary(message) : FakeTransport::deliver_all(message);
  };
  start();
  QueueId flushed = submit(test::envelope("alice@example.org", {"b@example.net"}));
  QueueId retried = submit(test::envelope("alice@example.org", {"c@example.net"}));
  ASSERT_TRUE(test::run_until(io, [&] { return transport.in_flight == 2; }));
  scheduler->flush();
  EXPECT_FALSE(scheduler->retry(retried));
  transport.gated = false;
  transport.release();
  // Both deferred (retry in 60 s), and both tried again at once without the clock moving.
  settle(4);
  EXPECT_EQ(transport.calls.size(), 4u);
  EXPECT_FALSE(load(Folder::active, flushed));
  EXPECT_FALSE(load(Folder::active, retried));
  EXPECT_EQ(scheduler->queued(), 0u);
}

TEST_F(SchedulerTest, ARetryDuringTheAttemptThatFailsAMessageBringsItBack) {
  transport.gated = true;
  transport.script = [](const OutboundMessage& message, size_t call) {
    return call == 0 ? permanent(message) : FakeTransport::deliver_all(message);
  };
  start();
  QueueId id = submit(test::envelope("", {"b@example.net"}));  // from <>: no bounce, it goes to failed/
  ASSERT_TRUE(test::run_until(io, [&] { return transport.in_flight == 1; }));
  EXPECT_FALSE(scheduler->retry(id));
  transport.gated = false;
  transport.release();
  settle(2);
  EXPECT_EQ(transport.calls.size(), 2u);
  EXPECT_EQ(transport.calls[1].envelope.recipients.at(0).address, "b@example.net");
  EXPECT_EQ(files(Folder::failed), 0u);
  EXPECT_EQ(files(Folder::active), 0u);

  // A flush is not a retry: a message failed by the attempt it came during stays failed.
  transport.gated = true;
  transport.script = [](const OutboundMessage& message, size_t) { return permanent(message); };
  QueueId flushed = submit(test::envelope("", {"c@example.net"}));
  ASSERT_TRUE(test::run_until(io, [&] { return transport.in_flight == 1; }));
  scheduler->flush();
  transport.gated = false;
  transport.release();
  settle(3);
  advance(3600s);
  EXPECT_EQ(transport.calls.size(), 3u);
  EXPECT_TRUE(load(Folder::failed, flushed));
}

TEST_F(SchedulerTest, NeverMoreThanMaxParallelDeliveries) {
  settings.queue.max_parallel_deliveries = 2;
  for (int i = 0; i < 6; ++i) submit(test::envelope("alice@example.org", {"b" + std::to_string(i) + "@example.net"}));
  transport.gated = true;
  start();
  ASSERT_TRUE(test::run_until(io, [&] { return transport.in_flight == 2; }));
  test::run_ready(io);
  EXPECT_EQ(transport.calls.size(), 2u);
  EXPECT_EQ(scheduler->delivering(), 2u);
  transport.gated = false;
  transport.release();
  settle(6);
  EXPECT_EQ(transport.max_in_flight, 2u);
  EXPECT_EQ(files(Folder::active), 0u);
}

// Draining a deep queue: the upstream answers at once while each delivered file is unlinked (no pool to keep it),
// which is slower. The attempts whose results are still being recorded stay bounded instead of piling up in
// memory (here without the bound: 1,400-1,500 of the 1,500 at once); every message is still delivered and removed.
TEST_F(SchedulerTest, ResultsBeingRecordedStayBoundedWhileADeepQueueDrains) {
  FsSpoolOptions options;
  options.recycled_files = 0;
  spool.reset();
  spool = test::open_spool(dir.path(), options);
  ASSERT_TRUE(spool);
  constexpr size_t kMessages = 1500;
  for (size_t i = 0; i < kMessages; ++i) submit(test::envelope("alice@example.org", {"bob@example.net"}));
  start();
  size_t most = 0;
  ASSERT_TRUE(test::run_until(
      io,
      [&] {
        most = std::max(most, scheduler->delivering());
        return transport.calls.size() >= kMessages && scheduler->delivering() == 0;
      },
      60s))
      << transport.calls.size();
  // max_parallel_deliveries in the transport, as many whose results just came back, and at most 256 recording.
  EXPECT_LE(most, 2 * settings.queue.max_parallel_deliveries + 256);
  EXPECT_EQ(files(Folder::active), 0u);
  EXPECT_EQ(scheduler->stats().delivered, kMessages);
}

// A queue deeper than max_in_memory: the oldest messages are read at start, the rest indexed by id alone and read
// back from the spool for their attempt. Every message goes out, oldest first, with its envelope and content.
TEST_F(SchedulerTest, ADeepQueueHoldsAtMostMaxInMemoryEnvelopesAndDeliversEveryMessage) {
  settings.max_in_memory = 3;
  settings.queue.max_parallel_deliveries = 1;
  std::vector<QueueId> ids;
  for (int i = 0; i < 8; ++i)
    ids.push_back(submit(test::envelope("alice@example.org", {"b" + std::to_string(i) + "@example.net"})));
  transport.gated = true;
  start();
  ASSERT_TRUE(test::run_until(io, [&] { return transport.in_flight == 1; }));
  EXPECT_EQ(scheduler->queued(), 8u);
  EXPECT_EQ(scheduler->in_memory(), 2u);  // three read at start, one of them out for delivery
  transport.gated = false;
  transport.release();
  settle(8);
  ASSERT_EQ(transport.calls.size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(transport.calls[i].queue_id, ids[i]);
    ASSERT_EQ(transport.calls[i].envelope.recipients.size(), 1u);
    EXPECT_EQ(transport.calls[i].envelope.recipients[0].address, "b" + std::to_string(i) + "@example.net");
    EXPECT_EQ(transport.contents[i], test::sample_message());
  }
  EXPECT_EQ(scheduler->stats().read_back, 5u);
  EXPECT_EQ(scheduler->stats().delivered, 8u);
  EXPECT_EQ(files(Folder::active), 0u);
  EXPECT_EQ(scheduler->queued(), 0u);
  EXPECT_EQ(scheduler->in_memory(), 0u);
}

// Deferred messages beyond the limit leave memory with their state written, and their retry reads it back: the
// second attempt sends only the recipient still pending.
TEST_F(SchedulerTest, DeferredMessagesBeyondTheLimitAreReadBackWithTheirState) {
  settings.max_in_memory = 2;
  transport.script = [](const OutboundMessage& message, size_t call) {
    if (call >= 5) return FakeTransport::deliver_all(message);
    DeliveryResult result;
    result.outcome = Outcome::temporary;
    result.recipients.push_back({message.envelope.recipients[0].address, Outcome::delivered, "250 2.0.0 ok"});
    result.recipients.push_back({message.envelope.recipients[1].address, Outcome::temporary, "451 4.4.1 later"});
    return result;
  };
  start();
  for (int i = 0; i < 5; ++i)
    submit(test::envelope("alice@example.org", {"a" + std::to_string(i) + "@example.net", "b@example.net"}));
  settle(5);
  EXPECT_EQ(scheduler->queued(), 5u);
  EXPECT_EQ(scheduler->in_memory(), 2u);
  const uint64_t read_before = scheduler->stats().read_back;
  advance(61s);
  settle(10);
  for (size_t i = 5; i < 10; ++i) {
    ASSERT_EQ(transport.calls[i].envelope.recipients.size(), 1u) << i;
    EXPECT_EQ(transport.calls[i].envelope.recipients[0].address, "b@example.net");
  }
  EXPECT_EQ(scheduler->stats().read_back - read_before, 3u);
  EXPECT_EQ(scheduler->stats().delivered, 10u);
  EXPECT_EQ(files(Folder::active), 0u);
}

// With memory full of deferred messages, new mail (due now) takes the place of the one due last, which is read
// back for its retry: new mail never waits on a read.
TEST_F(SchedulerTest, NewMailTakesThePlaceOfTheDeferredMessageDueLast) {
  settings.max_in_memory = 2;
  transport.script = [](const OutboundMessage& message, size_t call) {
    return call < 2 ? temporary(message) : FakeTransport::deliver_all(message);
  };
  start();
  submit(test::envelope("alice@example.org", {"b@example.net"}));
  advance(1s);
  submit(test::envelope("alice@example.org", {"c@example.net"}));
  settle(2);
  EXPECT_EQ(scheduler->in_memory(), 2u);
  submit(test::envelope("alice@example.org", {"d@example.net"}));
  settle(3);
  EXPECT_EQ(scheduler->stats().read_back, 0u);
  EXPECT_EQ(scheduler->in_memory(), 1u);  // the first deferred one; the second, due last, gave way
  advance(61s);
  settle(5);
  EXPECT_EQ(transport.calls[3].envelope.recipients[0].address, "b@example.net");
  EXPECT_EQ(transport.calls[4].envelope.recipients[0].address, "c@example.net");
  EXPECT_EQ(scheduler->stats().read_back, 1u);
  EXPECT_EQ(scheduler->stats().delivered, 3u);
}

TEST_F(SchedulerTest, HoldRemoveAndRetryWorkOnMessagesOnlyOnDisk) {
  settings.max_in_memory = 1;
  transport.script = [](const OutboundMessage& message, size_t) { return temporary(message); };
  start();
  QueueId first = submit(test::envelope("alice@example.org", {"b@example.net"}));
  QueueId second = submit(test::envelope("alice@example.org", {"c@example.net"}));
  QueueId third = submit(test::envelope("alice@example.org", {"d@example.net"}));
  settle(3);
  EXPECT_EQ(scheduler->in_memory(), 1u);
  EXPECT_FALSE(scheduler->hold(third));
  EXPECT_TRUE(load(Folder::hold, third));
  EXPECT_FALSE(scheduler->remove(second));
  EXPECT_FALSE(load(Folder::active, second));
  EXPECT_EQ(scheduler->queued(), 1u);
  EXPECT_FALSE(scheduler->retry(first));
  settle(4);
  EXPECT_EQ(transport.calls[3].queue_id, first);
}

// A paged-out message whose file vanished behind the scheduler's back leaves the index with an error; the others
// go on.
TEST_F(SchedulerTest, APagedOutMessageGoneFromDiskLeavesTheQueue) {
  settings.max_in_memory = 1;
  QueueId first = submit(test::envelope("alice@example.org", {"b@example.net"}));
  QueueId second = submit(test::envelope("alice@example.org", {"c@example.net"}));
  QueueId third = submit(test::envelope("alice@example.org", {"d@example.net"}));
  start();
  fs::remove(spool->dir().message_path(Folder::active, second));
  ASSERT_TRUE(test::run_until(io, [&] { return scheduler->queued() == 0 && scheduler->delivering() == 0; }));
  test::run_ready(io);
  ASSERT_EQ(transport.calls.size(), 2u);
  EXPECT_EQ(transport.calls[0].queue_id, first);
  EXPECT_EQ(transport.calls[1].queue_id, third);
  EXPECT_EQ(scheduler->stats().read_back, 1u);
}

TEST_F(SchedulerTest, BatchesFillUpToBatchSizeAndWaitForTheTimeout) {
  settings.batch.enabled = true;
  settings.batch.batch_size = 3;
  settings.batch.batch_timeout = 1000ms;
  settings.batch.max_batches_per_second = 1000;
  for (int i = 0; i < 7; ++i) submit(test::envelope("alice@example.org", {"b" + std::to_string(i) + "@example.net"}));
  start();
  settle(3);
  EXPECT_EQ(transport.batch_sizes, (std::vector<size_t>{3}));
  advance(1ms);  // the rate allows the next batch
  settle(6);
  EXPECT_EQ(transport.batch_sizes, (std::vector<size_t>{3, 3}));
  advance(500ms);  // the seventh waits for company...
  EXPECT_EQ(transport.calls.size(), 6u);
  advance(499ms);  // ...until the batch timeout has passed since it became due
  settle(7);
  EXPECT_EQ(transport.batch_sizes, (std::vector<size_t>{3, 3, 1}));
  EXPECT_EQ(files(Folder::active), 0u);
  EXPECT_EQ(scheduler->stats().transport_calls, 3u);
}

TEST_F(SchedulerTest, BatchesStartAtMostMaxBatchesPerSecond) {
  settings.batch.enabled = true;
  settings.batch.batch_size = 2;
  settings.batch.batch_timeout = 100ms;
  settings.batch.max_batches_per_second = 1;
  for (int i = 0; i < 6; ++i) submit(test::envelope("alice@example.org", {"b" + std::to_string(i) + "@example.net"}));
  start();
  settle(2);
  EXPECT_EQ(transport.batch_sizes.size(), 1u);
  advance(1s);
  settle(4);
  EXPECT_EQ(transport.batch_sizes.size(), 2u);
  advance(1s);
  settle(6);
  EXPECT_EQ(transport.batch_sizes, (std::vector<size_t>{2, 2, 2}));
}

TEST_F(SchedulerTest, BatchResultsApplyPerMessageAndRecipient) {
  settings.batch.enabled = true;
  settings.batch.batch_size = 2;
  transport.script = [](const OutboundMessage& message, size_t call) {
    return call == 0 ? temporary(message) : FakeTransport::deliver_all(message);
  };
  QueueId first = submit(test::envelope("alice@example.org", {"a@example.net"}));
  QueueId second = submit(test::envelope("alice@example.org", {"b@example.net"}));
  start();
  settle(2);
  EXPECT_TRUE(load(Folder::active, first));
  EXPECT_FALSE(load(Folder::active, second));
}

TEST_F(SchedulerTest, LogsOneLinePerRecipientOutcome) {
  std::ostringstream lines;
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(lines));
  logger->set_pattern("%v");
  spdlog::set_default_logger(logger);
  transport.script = [](const OutboundMessage&, size_t) {
    DeliveryResult result;
    result.recipients = {{"a@example.net", Outcome::delivered, "250 2.0.0 ok"},
                         {"b@example.net", Outcome::temporary, "451 4.7.1 \"greylisted\""}};
    return result;
  };
  start();
  QueueId id = submit(test::envelope("alice@example.org", {"a@example.net", "b@example.net"}));
  clock.advance(2s);
  settle(1);
  spdlog::set_default_logger(previous);
  std::string log = lines.str();
  EXPECT_NE(log.find("qid=" + id + " rcpt=a@example.net upstream=fake0 status=2.0.0 delay="), std::string::npos) << log;
  EXPECT_NE(log.find("rcpt=b@example.net upstream=fake0 status=4.7.1 delay="), std::string::npos) << log;
  EXPECT_NE(log.find("result=deferred"), std::string::npos) << log;
  EXPECT_NE(log.find("reply=\"451 4.7.1 \\\"greylisted\\\"\""), std::string::npos) << log;
}

}  // namespace
}  // namespace smarthost::queue
