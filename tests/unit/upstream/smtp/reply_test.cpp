// Reply assembly: multi-line replies, enhanced codes, malformed lines.
#include <gtest/gtest.h>

#include "upstream/smtp/reply.h"

namespace smarthost::upstream::smtp {
namespace {

TEST(ReplyReader, AssemblesMultiLineReplies) {
  ReplyReader r;
  EXPECT_EQ(r.feed("250-mx.example.net Hello"), ReplyReader::Status::incomplete);
  EXPECT_EQ(r.feed("250-PIPELINING"), ReplyReader::Status::incomplete);
  EXPECT_EQ(r.feed("250 8BITMIME"), ReplyReader::Status::complete);
  Reply reply = r.take();
  EXPECT_EQ(reply.code, 250);
  ASSERT_EQ(reply.lines.size(), 3u);
  EXPECT_EQ(reply.lines[1], "PIPELINING");
  EXPECT_EQ(r.feed("221 bye"), ReplyReader::Status::complete);
  EXPECT_EQ(r.take().code, 221);
}

TEST(ReplyReader, SplitsTheEnhancedCode) {
  ReplyReader r;
  ASSERT_EQ(r.feed("550 5.1.1 <x@y>: Recipient address rejected"), ReplyReader::Status::complete);
  Reply reply = r.take();
  EXPECT_EQ(reply.enhanced, "5.1.1");
  EXPECT_EQ(reply.text(), "<x@y>: Recipient address rejected");
  EXPECT_EQ(reply.to_string(), "550 5.1.1 <x@y>: Recipient address rejected");
  ASSERT_EQ(r.feed("250 2.0.0"), ReplyReader::Status::complete);
  EXPECT_EQ(r.take().enhanced, "2.0.0");
  ASSERT_EQ(r.feed("550 4.1.1 class does not match"), ReplyReader::Status::complete);
  EXPECT_EQ(r.take().enhanced, "");
  ASSERT_EQ(r.feed("250 1.2.3.4 is not a code"), ReplyReader::Status::complete);
  EXPECT_EQ(r.take().enhanced, "");
}

TEST(ReplyReader, RejectsMalformedLines) {
  ReplyReader r;
  EXPECT_EQ(r.feed("hello"), ReplyReader::Status::malformed);
  EXPECT_EQ(r.feed("25"), ReplyReader::Status::malformed);
  EXPECT_EQ(r.feed("250x"), ReplyReader::Status::malformed);
  ReplyReader mixed;
  EXPECT_EQ(mixed.feed("250-a"), ReplyReader::Status::incomplete);
  EXPECT_EQ(mixed.feed("550 b"), ReplyReader::Status::malformed);
  ReplyReader bare;
  EXPECT_EQ(bare.feed("250"), ReplyReader::Status::complete);
}

TEST(ReplyReader, CapsTheNumberOfLines) {
  ReplyReader r;
  ReplyReader::Status s = ReplyReader::Status::incomplete;
  for (size_t i = 0; i < ReplyReader::kMaxLines + 5 && s == ReplyReader::Status::incomplete; ++i) s = r.feed("250-x");
  EXPECT_EQ(s, ReplyReader::Status::malformed);
}

}  // namespace
}  // namespace smarthost::upstream::smtp
