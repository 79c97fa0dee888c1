// Dedup pieces: the fingerprinting SpoolWriter (body hash across append boundaries, Message-ID found, bytes passed
// through unchanged) and the memory cache (TTL, put_if_absent, cap). Fake clock only.
#include <gtest/gtest.h>

#include "policy/memory_cache.h"
#include "policy/message_fingerprint.h"
#include "tests/unit/policy/policy_fakes.h"

namespace smarthost::policy {
namespace {

using namespace std::chrono_literals;

class RecordingWriter final : public queue::SpoolWriter {
 public:
  std::string bytes;
  queue::QueueId id_ = "Q42";
  void append(std::string_view b) override { bytes.append(b); }
  uint64_t size() const override { return bytes.size(); }
  boost::asio::awaitable<queue::CommitResult> commit(const mail::Envelope&) override {
    co_return queue::CommitResult{{}, id_};
  }
  const queue::QueueId& id() const override { return id_; }
};

mail::Envelope envelope(std::vector<std::string> rcpts, std::string from = "s@example.org") {
  mail::Envelope e;
  e.mail_from = std::move(from);
  for (auto& r : rcpts) e.recipients.push_back({std::move(r), mail::RecipientState::pending, {}});
  return e;
}

// Feeds `message` in pieces of `step` bytes and returns (message-id, body hash, bytes the spool got).
std::tuple<std::string, std::string, std::string> feed(const std::string& message, size_t step) {
  auto inner = std::make_unique<RecordingWriter>();
  auto* raw = inner.get();
  FingerprintingWriter w(std::move(inner));
  for (size_t i = 0; i < message.size(); i += step) w.append(std::string_view(message).substr(i, step));
  return {w.message_id(), w.body_hash(), raw->bytes};
}

const std::string kMessage =
    "Received: from client (queue id Q1)\r\n"
    "Message-ID:\r\n <abc.123@example.org>\r\n"
    "Subject: hi\r\n"
    "\r\n"
    "line one\r\n"
    "\r\n"
    "line three\r\n";

TEST(Fingerprint, SameResultWhateverTheChunking) {
  auto [id1, hash1, bytes1] = feed(kMessage, kMessage.size());
  EXPECT_EQ(id1, "<abc.123@example.org>");
  EXPECT_EQ(bytes1, kMessage);
  for (size_t step : {1, 2, 3, 5, 7, 64}) {
    auto [id, hash, bytes] = feed(kMessage, step);
    EXPECT_EQ(id, id1) << step;
    EXPECT_EQ(hash, hash1) << step;
    EXPECT_EQ(bytes, kMessage) << step;
  }
}

TEST(Fingerprint, BytesAppendedInPlaceAreSeenLikeAppendedOnes) {
  auto [id1, hash1, bytes1] = feed(kMessage, kMessage.size());
  for (size_t step : {1, 3, 8, 64}) {
    auto inner = std::make_unique<RecordingWriter>();
    auto* raw = inner.get();
    FingerprintingWriter w(std::move(inner));
    for (size_t i = 0; i < kMessage.size(); i += step) {
      std::string& out = w.append_buffer();  // the inner writer's (the default one, collecting)
      const size_t before = out.size();
      out.append(std::string_view(kMessage).substr(i, step));
      w.appended(before);
    }
    EXPECT_EQ(w.message_id(), id1) << step;
    EXPECT_EQ(w.body_hash(), hash1) << step;
    EXPECT_EQ(raw->bytes, kMessage) << step;
  }
}

TEST(Fingerprint, HeadersOutsideTheBodyDoNotMatter) {
  std::string resent = kMessage;
  resent.replace(resent.find("Q1"), 2, "Q9");  // a new Received: line on the re-submission
  auto [id1, hash1, b1] = feed(kMessage, 10);
  auto [id2, hash2, b2] = feed(resent, 10);
  EXPECT_EQ(hash1, hash2);
  std::string changed = kMessage + "more\r\n";
  auto [id3, hash3, b3] = feed(changed, 10);
  EXPECT_NE(hash1, hash3);
}

TEST(Fingerprint, EnvelopeAndMessageIdTakePart) {
  auto base = message_fingerprint("<a@x>", envelope({"b@y", "a@y"}), "h");
  EXPECT_EQ(base.size(), 64u);
  EXPECT_EQ(base, message_fingerprint("<a@x>", envelope({"A@Y", "b@y"}), "h"));  // order and case of recipients
  EXPECT_NE(base, message_fingerprint("<a@x>", envelope({"a@y"}), "h"));
  EXPECT_NE(base, message_fingerprint("<a@x>", envelope({"b@y", "a@y"}, "other@example.org"), "h"));
  EXPECT_NE(base, message_fingerprint("<b@x>", envelope({"b@y", "a@y"}), "h"));
  EXPECT_NE(base, message_fingerprint("<a@x>", envelope({"b@y", "a@y"}), "h2"));
  EXPECT_EQ(message_fingerprint("", envelope({"a@y"}), "h"), "");
}

TEST(Fingerprint, NoMessageIdMeansNoFingerprint) {
  FingerprintingWriter w(std::make_unique<RecordingWriter>());
  w.append("Subject: x\r\n\r\nbody\r\n");
  EXPECT_EQ(w.message_id(), "");
  EXPECT_EQ(w.fingerprint(envelope({"a@y"})), "");
  EXPECT_EQ(w.id(), "Q42");
  EXPECT_EQ(w.size(), 20u);
}

TEST(Fingerprint, CommitPassesThrough) {
  FingerprintingWriter w(std::make_unique<RecordingWriter>());
  w.append(kMessage);
  auto result = test::run(w.commit(envelope({"a@y"})));
  EXPECT_FALSE(result.error);
  EXPECT_EQ(result.id, "Q42");
  EXPECT_EQ(w.fingerprint(envelope({"a@y"})).size(), 64u);
}

TEST(MemoryCache, PutIfAbsentAndTtl) {
  test::FakeClock clock;
  MemoryCache c(100, clock);
  EXPECT_EQ(c.put_if_absent_now("k", "Q1", 60s), std::nullopt);
  EXPECT_EQ(c.put_if_absent_now("k", "Q2", 60s), "Q1");
  EXPECT_EQ(c.get_now("k"), "Q1");
  clock.advance(59s);
  EXPECT_EQ(c.get_now("k"), "Q1");
  clock.advance(1s);
  EXPECT_EQ(c.get_now("k"), std::nullopt);
  EXPECT_EQ(c.put_if_absent_now("k", "Q3", 60s), std::nullopt);
  c.erase_now("k");
  EXPECT_EQ(c.get_now("k"), std::nullopt);
  EXPECT_EQ(c.size(), 0u);
}

TEST(MemoryCache, CapDropsTheSoonestToExpire) {
  test::FakeClock clock;
  MemoryCache c(3, clock);
  c.put_now("a", "1", 10s);
  c.put_now("b", "2", 100s);
  c.put_now("c", "3", 50s);
  c.put_now("d", "4", 70s);
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.get_now("a"), std::nullopt);
  EXPECT_EQ(c.get_now("b"), "2");
  c.put_now("b", "22", 1s);  // replacing keeps one entry
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.get_now("b"), "22");
}

TEST(MemoryCache, AwaitableInterface) {
  test::FakeClock clock;
  MemoryCache c(10, clock);
  Cache& cache = c;
  EXPECT_EQ(test::run(cache.put_if_absent("k", "v", 5s)), std::nullopt);
  EXPECT_EQ(test::run(cache.get("k")), "v");
  test::run(cache.put("k", "w", 5s));
  EXPECT_EQ(test::run(cache.put_if_absent("k", "x", 5s)), "w");
  test::run(cache.erase("k"));
  EXPECT_EQ(test::run(cache.get("k")), std::nullopt);
}

}  // namespace
}  // namespace smarthost::policy
