// The admin socket's request lines and JSON answers: every verb both ways, refusals, and answers that survive
// a round trip (including bytes that are not UTF-8 and timestamps).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "queue/admin_protocol.h"

namespace smarthost::queue::admin {
namespace {

using std::chrono::system_clock;

const std::string kId = "0T9XK2M4B7QF1";

TEST(AdminProtocol, ParsesEveryVerbAndFormatsItBack) {
  struct Case {
    std::string line;
    Verb verb;
    bool with_id;
  };
  std::vector<Case> cases = {
      {"list", Verb::list, false},
      {std::string("show ") + kId, Verb::show, true},
      {std::string("retry ") + kId, Verb::retry, true},
      {"retry --all", Verb::retry_all, false},
      {std::string("delete ") + kId, Verb::remove, true},
      {"delete --all-failed", Verb::remove_failed, false},
      {"flush", Verb::flush, false},
      {std::string("hold ") + kId, Verb::hold, true},
      {std::string("release ") + kId, Verb::release, true},
  };
  for (const auto& c : cases) {
    std::string error;
    auto request = parse_request(c.line, error);
    ASSERT_TRUE(request) << c.line << ": " << error;
    EXPECT_EQ(request->verb, c.verb) << c.line;
    EXPECT_EQ(request->id, c.with_id ? kId : "") << c.line;
    EXPECT_EQ(format_request(*request), c.line);
  }
  std::string error;
  auto request = parse_request("flush\r", error);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->verb, Verb::flush);
}

TEST(AdminProtocol, RefusesWhatIsNotARequest) {
  for (std::string line : {"", "bogus", "list all", "show", "show ../../etc/passwd", "retry", "retry --everything",
                           "delete --all", "flush now", "hold", "release -x", "show 0T9XK2M4B7QF1 extra"}) {
    std::string error;
    EXPECT_FALSE(parse_request(line, error)) << line;
    EXPECT_FALSE(error.empty()) << line;
  }
  std::string error;
  EXPECT_FALSE(parse_request(std::string(kMaxRequest + 1, 'a'), error));
  EXPECT_EQ(error, "request too long");
  EXPECT_FALSE(parse_request("show ../active/x", error));
  EXPECT_EQ(error, "not a queue id: ../active/x");
}

TEST(AdminProtocol, StatusOfErrors) {
  EXPECT_EQ(status_of({}), Status::ok);
  EXPECT_EQ(status_of(std::make_error_code(std::errc::no_such_file_or_directory)), Status::not_found);
  EXPECT_EQ(status_of(std::make_error_code(std::errc::invalid_argument)), Status::invalid);
  EXPECT_EQ(status_of(std::make_error_code(std::errc::resource_unavailable_try_again)), Status::busy);
  EXPECT_EQ(status_of(std::make_error_code(std::errc::no_space_on_device)), Status::failed);
  EXPECT_EQ(status_of(std::make_error_code(std::errc::permission_denied)), Status::denied);
}

QueueEntry sample_entry() {
  QueueEntry e;
  e.id = kId;
  e.folder = Folder::hold;
  e.age = std::chrono::seconds(754);
  e.sender = "alice@example.org";
  e.recipients = {{"bob@example.net", mail::RecipientState::delivered, "250 2.0.0 ok"},
                  {"carol@example.net", mail::RecipientState::pending, "451 4.4.1 timeout \xff here"}};
  e.attempts = 3;
  e.next_attempt = system_clock::from_time_t(1'700'000'123);
  e.last_error = "451 4.4.1 timeout";
  e.size = 1234;
  return e;
}

TEST(AdminProtocol, ListAnswerRoundTrips) {
  Answer answer;
  answer.entries = {sample_entry()};
  std::string line = encode_answer(answer);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  std::string error;
  auto decoded = decode_answer(line, error);
  ASSERT_TRUE(decoded) << error;
  EXPECT_EQ(decoded->status, Status::ok);
  ASSERT_EQ(decoded->entries.size(), 1u);
  const auto& e = decoded->entries[0];
  EXPECT_EQ(e.id, kId);
  EXPECT_EQ(e.folder, Folder::hold);
  EXPECT_EQ(e.age, std::chrono::seconds(754));
  EXPECT_EQ(e.sender, "alice@example.org");
  ASSERT_EQ(e.recipients.size(), 2u);
  EXPECT_EQ(e.recipients[0].state, mail::RecipientState::delivered);
  EXPECT_EQ(e.recipients[1].state, mail::RecipientState::pending);
  EXPECT_EQ(e.recipients[1].last_reply, "451 4.4.1 timeout ? here");  // the stray byte made valid
  EXPECT_EQ(e.attempts, 3u);
  EXPECT_EQ(e.next_attempt, system_clock::from_time_t(1'700'000'123));
  EXPECT_EQ(e.last_error, "451 4.4.1 timeout");
  EXPECT_EQ(e.size, 1234u);
}

TEST(AdminProtocol, ShowAnswerRoundTrips) {
  Answer answer;
  MessageDetails d;
  d.entry = sample_entry();
  d.envelope.mail_from = "alice@example.org";
  d.envelope.recipients = d.entry.recipients;
  d.envelope.body = mail::BodyType::eight_bit_mime;
  d.envelope.smtputf8 = true;
  d.envelope.client_address = "192.0.2.7";
  d.envelope.client_helo = "client.example";
  d.envelope.auth_user = "app";
  d.envelope.received_at = system_clock::from_time_t(1'700'000'000);
  d.headers = "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\nX-Bad: \x80\r\n";
  d.content_path = "/var/spool/smarthost/hold/0T9XK2M4B7QF1";
  answer.details = d;
  std::string error;
  auto decoded = decode_answer(encode_answer(answer), error);
  ASSERT_TRUE(decoded) << error;
  ASSERT_TRUE(decoded->details);
  const auto& got = *decoded->details;
  EXPECT_EQ(got.entry.id, kId);
  EXPECT_EQ(got.envelope.body, mail::BodyType::eight_bit_mime);
  EXPECT_TRUE(got.envelope.smtputf8);
  EXPECT_EQ(got.envelope.client_helo, "client.example");
  EXPECT_EQ(got.envelope.auth_user, "app");
  EXPECT_EQ(got.envelope.received_at, system_clock::from_time_t(1'700'000'000));
  EXPECT_EQ(got.headers, "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\nX-Bad: ?\r\n");
  EXPECT_EQ(got.content_path, d.content_path);
  // The --json forms are valid JSON on their own.
  EXPECT_NO_THROW(boost::json::parse(details_json(d)));
  EXPECT_NO_THROW(boost::json::parse(entry_json(sample_entry())));
}

TEST(AdminProtocol, StreamedListLinesRoundTrip) {
  std::string line = encode_entry_line(sample_entry());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_TRUE(is_entry_line(line));
  std::string error;
  auto entry = decode_entry_line(line, error);
  ASSERT_TRUE(entry) << error;
  EXPECT_EQ(entry->id, kId);
  EXPECT_EQ(entry->folder, Folder::hold);
  ASSERT_EQ(entry->recipients.size(), 2u);
  EXPECT_EQ(entry->recipients[1].address, "carol@example.net");
  EXPECT_EQ(entry->size, 1234u);

  // The closing line is an answer, not an entry, and carries the count (and no entries array).
  Answer closing;
  closing.count = 2;
  std::string last = encode_answer(closing);
  EXPECT_FALSE(is_entry_line(last));
  EXPECT_EQ(last.find("entries"), std::string::npos) << last;
  auto decoded = decode_answer(last, error);
  ASSERT_TRUE(decoded) << error;
  EXPECT_EQ(decoded->count, 2u);
  EXPECT_FALSE(decode_answer(encode_answer(Answer{}), error)->count);

  EXPECT_FALSE(decode_entry_line("{\"entry\":[1]}", error));
  EXPECT_NE(error.find("malformed list entry"), std::string::npos) << error;
  EXPECT_FALSE(decode_entry_line("{\"entry\":{", error));
}

TEST(AdminProtocol, ErrorAnswersAndBrokenOnes) {
  Answer answer;
  answer.status = Status::not_found;
  answer.error = "no such message: " + kId;
  std::string error;
  auto decoded = decode_answer(encode_answer(answer), error);
  ASSERT_TRUE(decoded) << error;
  EXPECT_EQ(decoded->status, Status::not_found);
  EXPECT_EQ(decoded->error, answer.error);
  EXPECT_TRUE(decoded->entries.empty());

  EXPECT_FALSE(decode_answer("not json", error));
  EXPECT_FALSE(decode_answer("{\"status\":\"weird\"}", error));
  EXPECT_FALSE(decode_answer("[1,2]", error));
}

TEST(AdminProtocol, TimesAreUtc) {
  EXPECT_EQ(format_time(system_clock::from_time_t(0) + std::chrono::hours(24)), "1970-01-02T00:00:00Z");
  EXPECT_EQ(format_time(system_clock::time_point{}), "");
}

}  // namespace
}  // namespace smarthost::queue::admin
