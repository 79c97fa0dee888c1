// DATA encoding: dot-stuffing, canonical CRLF, folding, and independence from how the input is split; and the
// same encoding for a BDAT chunk, without the dots.
#include <gtest/gtest.h>

#include "upstream/smtp/dot_stuffer.h"

namespace smarthost::upstream::smtp {
namespace {

std::string encode(std::string_view in, DotStuffer::Framing framing = DotStuffer::Framing::data) {
  DotStuffer s(framing);
  std::string out;
  s.feed(in, out);
  s.finish(out);
  return out;
}

TEST(DotStuffer, StuffsLeadingDots) {
  EXPECT_EQ(encode("a\r\n.b\r\n..c\r\n.\r\n"), "a\r\n..b\r\n...c\r\n..\r\n.\r\n");
  EXPECT_EQ(encode(".first\r\n"), "..first\r\n.\r\n");
}

TEST(DotStuffer, NoBareCrOrLfEverLeaves) {
  EXPECT_EQ(encode("a\nb\rc\r\n"), "a\r\nb\r\nc\r\n.\r\n");
  // The smuggling sequences become harmless stuffed lines.
  EXPECT_EQ(encode("x\n.\nMAIL FROM:<evil>\r\n"), "x\r\n..\r\nMAIL FROM:<evil>\r\n.\r\n");
  EXPECT_EQ(encode("x\r.\r\ny"), "x\r\n..\r\ny\r\n.\r\n");
  std::string out = encode("1\r2\n3\r\r\n4\n\r5");
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\r') {
      ASSERT_EQ(out[i + 1], '\n') << i;
    }
    if (out[i] == '\n') {
      ASSERT_EQ(out[i - 1], '\r') << i;
    }
  }
}

TEST(DotStuffer, ClosesAnOpenLastLine) {
  EXPECT_EQ(encode("no newline"), "no newline\r\n.\r\n");
  EXPECT_EQ(encode(""), ".\r\n");
  EXPECT_EQ(encode("trailing cr\r"), "trailing cr\r\n.\r\n");
}

TEST(DotStuffer, FoldsLinesOver998Octets) {
  std::string line(2500, 'x');
  std::string out = encode(line + "\r\n");
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find("\r\n", start);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end - start, DotStuffer::kMaxLineOctets);
    start = end + 2;
  }
  EXPECT_EQ(out.substr(998, 3), "\r\n ");
  std::string exactly(998, 'y');
  EXPECT_EQ(encode(exactly + "\r\n"), exactly + "\r\n.\r\n");
  std::string dotted = "." + std::string(997, 'z');  // 999 octets once stuffed: folded
  std::string encoded = encode(dotted + "\r\n");
  EXPECT_EQ(encoded.find("\r\n"), 998u);
}

TEST(DotStuffer, SplitInputGivesTheSameBytes) {
  std::string in = "Subject: x\r\n\r\n.a\r\nb\n.\r\n\r.c\r\n" + std::string(1200, 'q') + "\r\nend";
  std::string whole = encode(in);
  for (size_t chunk : {1u, 2u, 3u, 7u, 64u}) {
    DotStuffer s;
    std::string out;
    for (size_t i = 0; i < in.size(); i += chunk) s.feed(std::string_view(in).substr(i, chunk), out);
    s.finish(out);
    EXPECT_EQ(out, whole) << chunk;
  }
}

TEST(DotStuffer, ChunkFramingHasNoDotsButTheSameLines) {
  constexpr auto bdat = DotStuffer::Framing::bdat;
  EXPECT_EQ(encode("a\r\n.b\r\n.\r\n", bdat), "a\r\n.b\r\n.\r\n");  // a lone dot is only text in a chunk
  EXPECT_EQ(encode("x\n.\nMAIL FROM:<evil>", bdat), "x\r\n.\r\nMAIL FROM:<evil>\r\n");
  EXPECT_EQ(encode("", bdat), "");
  std::string line(1500, 'x');
  line.append("\r\n");
  std::string folded = encode(line, bdat);
  EXPECT_EQ(folded.substr(998, 3), "\r\n ");
  EXPECT_TRUE(folded.ends_with("x\r\n"));
}

}  // namespace
}  // namespace smarthost::upstream::smtp
