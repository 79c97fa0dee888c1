// The envelope record and state sidecar round-trip every field, and queue ids are unique, sorted and valid.
#include <gtest/gtest.h>

#include <set>

#include "queue/queue_id.h"
#include "queue/spool_record.h"

namespace smarthost::queue {
namespace {

using std::chrono::system_clock;

StoredMessage sample() {
  StoredMessage message;
  message.id = "01HV3K9Q2M4B7";
  message.envelope.mail_from = "sender with space@example.org";
  message.envelope.recipients = {{"a@example.net", mail::RecipientState::pending, ""},
                                 {"b%c@example.net", mail::RecipientState::delivered, "250 2.0.0 ok\r\nsecond"},
                                 {"d@example.net", mail::RecipientState::failed, "550 5.1.1 no such user"}};
  message.envelope.body = mail::BodyType::eight_bit_mime;
  message.envelope.smtputf8 = true;
  message.envelope.client_address = "2001:db8::1";
  message.envelope.client_helo = "helo.example";
  message.envelope.auth_user = "";
  message.envelope.received_at = system_clock::time_point(std::chrono::microseconds(1'700'000'000'123'456));
  message.attempts = 3;
  message.next_attempt = system_clock::time_point(std::chrono::microseconds(1'700'000'900'000'000));
  message.last_error = "451 4.4.1 timeout";
  return message;
}

TEST(SpoolRecord, RoundTripsEveryField) {
  StoredMessage original = sample();
  std::string record = encode_record(original);
  ASSERT_EQ(record.size(), kRecordBlock);
  EXPECT_EQ(record_content_offset(record), kRecordBlock);

  StoredMessage parsed;
  std::string error;
  ASSERT_TRUE(parse_record(record, parsed, error)) << error;
  EXPECT_EQ(parsed.id, original.id);
  EXPECT_EQ(parsed.envelope.mail_from, original.envelope.mail_from);
  ASSERT_EQ(parsed.envelope.recipients.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(parsed.envelope.recipients[i].address, original.envelope.recipients[i].address);
    EXPECT_EQ(parsed.envelope.recipients[i].state, original.envelope.recipients[i].state);
    EXPECT_EQ(parsed.envelope.recipients[i].last_reply, original.envelope.recipients[i].last_reply);
  }
  EXPECT_EQ(parsed.envelope.body, mail::BodyType::eight_bit_mime);
  EXPECT_TRUE(parsed.envelope.smtputf8);
  EXPECT_EQ(parsed.envelope.client_address, "2001:db8::1");
  EXPECT_EQ(parsed.envelope.client_helo, "helo.example");
  EXPECT_EQ(parsed.envelope.auth_user, "");
  EXPECT_EQ(parsed.envelope.received_at, original.envelope.received_at);
  EXPECT_EQ(parsed.attempts, 3u);
  EXPECT_EQ(parsed.next_attempt, original.next_attempt);
  EXPECT_EQ(parsed.last_error, original.last_error);
  EXPECT_EQ(parsed.content_offset, kRecordBlock);
}

TEST(SpoolRecord, NullSenderStaysEmpty) {
  StoredMessage original = sample();
  original.envelope.mail_from.clear();
  StoredMessage parsed;
  std::string error;
  ASSERT_TRUE(parse_record(encode_record(original), parsed, error)) << error;
  EXPECT_EQ(parsed.envelope.mail_from, "");
}

TEST(SpoolRecord, ManyRecipientsGrowTheRecordBlock) {
  StoredMessage original = sample();
  for (int i = 0; i < 500; ++i)
    original.envelope.recipients.push_back({"recipient" + std::to_string(i) + "@example.net", {}, {}});
  std::string record = encode_record(original);
  EXPECT_GT(record.size(), kRecordBlock);
  EXPECT_EQ(record.size() % kRecordBlock, 0u);
  EXPECT_EQ(record_content_offset(record), record.size());
  StoredMessage parsed;
  std::string error;
  ASSERT_TRUE(parse_record(record, parsed, error)) << error;
  EXPECT_EQ(parsed.envelope.recipients.size(), 503u);
}

TEST(SpoolRecord, StateOverridesRetryFields) {
  StoredMessage message = sample();
  StoredMessage updated = message;
  updated.attempts = 4;
  updated.last_error = "421 4.7.0 try later";
  updated.envelope.recipients[0].state = mail::RecipientState::delivered;
  updated.envelope.recipients[0].last_reply = "250 ok";
  std::string error;
  ASSERT_TRUE(parse_state(encode_state(updated), message, error)) << error;
  EXPECT_EQ(message.attempts, 4u);
  EXPECT_EQ(message.last_error, "421 4.7.0 try later");
  EXPECT_EQ(message.envelope.recipients[0].state, mail::RecipientState::delivered);
  EXPECT_EQ(message.envelope.recipients[0].last_reply, "250 ok");
  EXPECT_EQ(message.envelope.client_helo, "helo.example");  // untouched
}

TEST(SpoolRecord, RejectsDamage) {
  StoredMessage parsed;
  std::string error;
  EXPECT_FALSE(parse_record("garbage", parsed, error));
  std::string record = encode_record(sample());
  std::string truncated = record.substr(0, record.find("end\n"));
  EXPECT_FALSE(parse_record(truncated, parsed, error));
  EXPECT_EQ(error, "record has no end line");

  StoredMessage message = sample();
  StoredMessage other = sample();
  other.envelope.recipients.pop_back();
  EXPECT_FALSE(parse_state(encode_state(other), message, error));
  EXPECT_EQ(message.attempts, 3u);  // unchanged on failure
  EXPECT_FALSE(parse_state("smarthost-state 1\nattempts 1\n", message, error));  // no end line
}

TEST(QueueId, UniqueSortedAndValid) {
  QueueIdGenerator generator;
  std::set<QueueId> seen;
  QueueId previous;
  auto now = system_clock::now();
  for (int i = 0; i < 5000; ++i) {
    // Many ids per millisecond, and a clock that steps back once: still strictly increasing.
    QueueId id = generator.next(i == 2500 ? now - std::chrono::seconds(5) : now + std::chrono::milliseconds(i / 100));
    EXPECT_TRUE(is_queue_id(id)) << id;
    EXPECT_GT(id, previous);
    previous = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 5000u);
  EXPECT_FALSE(is_queue_id("../../etc/pas"));
  EXPECT_FALSE(is_queue_id("01HV3K9Q2M4B"));
  EXPECT_FALSE(is_queue_id("01HV3K9Q2M4BU"));  // U is not in Crockford's alphabet
}

TEST(QueueId, FollowsAnIdFromTheFutureSoThatNoneRepeats) {
  // A spool written an hour ahead of this clock: the next ids still sort after what it holds.
  auto now = system_clock::now();
  QueueIdGenerator ahead;
  QueueId queued = ahead.next(now + std::chrono::hours(1));
  QueueIdGenerator generator;
  generator.follow(queued);
  QueueId next = generator.next(now);
  EXPECT_GT(next, queued);
  EXPECT_EQ(next.substr(0, 9), queued.substr(0, 9));  // the same millisecond, counted on
  EXPECT_GT(generator.next(now), next);
  // An older id, or one that is not an id, changes nothing.
  QueueIdGenerator behind;
  QueueId old = behind.next(now - std::chrono::hours(1));
  QueueId before = generator.next(now);
  generator.follow(old);
  generator.follow("not-an-id");
  EXPECT_GT(generator.next(now), before);
}

}  // namespace
}  // namespace smarthost::queue
