// Tests for DataReader: terminator, dot-unstuffing, bare CR/LF in both modes, every smuggling sequence, folding,
// the size cap and chunk mode. Each input is also checked against a slow reference decoder, fed whole, byte by
// byte and in random splits, so the result never depends on where the network cut the stream.
#include "smtpd/data_reader.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace smarthost::smtpd {
namespace {

using namespace std::string_literals;

struct Decoded {
  std::string out;
  size_t consumed = 0;
  bool done = false;
  DataOutcome outcome;
};

constexpr uint64_t kBig = 1u << 30;

// Feeds `in` in pieces whose sizes come from `next_piece`, the way a connection would.
template <typename NextPiece>
Decoded feed_pieces(DataReader::Mode mode, BareLineEnd bare, std::string_view in, NextPiece next_piece,
                    uint64_t max = kBig) {
  DataReader r(mode, bare, max);
  Decoded d;
  size_t pos = 0;
  while (pos < in.size() && !r.done()) {
    const size_t n = std::min(next_piece(), in.size() - pos);
    const size_t used = r.feed(in.substr(pos, n), d.out);
    EXPECT_LE(used, n);
    if (used < n) {
      EXPECT_TRUE(r.done()) << "stopped early without the terminator";
    }
    pos += used;
  }
  if (mode == DataReader::Mode::chunk) r.finish_chunk(d.out);
  d.consumed = pos;
  d.done = r.done();
  d.outcome = r.outcome();
  return d;
}

Decoded feed_whole(DataReader::Mode mode, BareLineEnd bare, std::string_view in, uint64_t max = kBig) {
  return feed_pieces(mode, bare, in, [&] { return in.size() + 1; }, max);
}

// The reference: split into lines by line end kind, then apply the rules line by line. Slow and obvious.
Decoded reference(DataReader::Mode mode, BareLineEnd bare, std::string_view in) {
  enum End { crlf, bare_cr, bare_lf, none };
  Decoded d;
  bool real_start = true;
  bool headers = true;
  size_t i = 0;
  while (i < in.size()) {
    size_t j = i;
    while (j < in.size() && in[j] != '\r' && in[j] != '\n') ++j;
    std::string content(in.substr(i, j - i));
    End end = none;
    size_t next = j;
    if (j < in.size()) {
      if (in[j] == '\r' && j + 1 < in.size() && in[j + 1] == '\n') {
        end = crlf;
        next = j + 2;
      } else if (in[j] == '\r') {
        // A CR at the very end: in dot mode it is still pending; in chunk mode finish_chunk makes it bare.
        if (j + 1 == in.size() && mode == DataReader::Mode::dot) {
          end = none;
          next = j + 1;
        } else {
          end = bare_cr;
          next = j + 1;
        }
      } else {
        end = bare_lf;
        next = j + 1;
      }
    }
    if (mode == DataReader::Mode::dot && real_start) {
      if (content == "." && end == crlf) {
        d.done = true;
        d.consumed = next;
        break;
      }
      if (content == "." && end == none) {  // ".", or ".\r", still pending
        d.consumed = in.size();
        break;
      }
      if (content.size() > 1 && content[0] == '.') content.erase(0, 1);
    }
    // Folding at 998 octets.
    size_t line_length = 0;
    size_t k = 0;
    while (k < content.size()) {
      const size_t room = 998 - line_length;
      const size_t take = std::min(room, content.size() - k);
      d.out += content.substr(k, take);
      line_length += take;
      k += take;
      if (k < content.size()) {
        d.out += headers ? "\r\n " : "\r\n";
        line_length = headers ? 1 : 0;
      }
    }
    if (end != none) {
      if (content.empty()) headers = false;
      d.out += "\r\n";
      if ((end == bare_cr || end == bare_lf) && bare == BareLineEnd::reject) d.outcome.bare_line_end = true;
    }
    real_start = end == crlf;
    i = next;
    d.consumed = next;
  }
  d.outcome.size = d.out.size();
  return d;
}

// True when every CR is followed by LF and every LF follows a CR.
bool only_crlf(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return false;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
  }
  return true;
}

void expect_same(const Decoded& a, const Decoded& b, const std::string& what) {
  EXPECT_EQ(a.out, b.out) << what;
  EXPECT_EQ(a.consumed, b.consumed) << what;
  EXPECT_EQ(a.done, b.done) << what;
  EXPECT_EQ(a.outcome.size, b.outcome.size) << what;
  EXPECT_EQ(a.outcome.bare_line_end, b.outcome.bare_line_end) << what;
  EXPECT_EQ(a.outcome.too_big, b.outcome.too_big) << what;
}

const std::vector<std::string> kSmuggling = {"\n.\n", "\n.\r\n", "\r.\n", "\r.\r\n", "\r\n\0.\r\n"s};

std::vector<std::string> corpus() {
  std::vector<std::string> c = {
      "Subject: hi\r\n\r\nbody\r\n.\r\n",
      ".\r\n",
      "\r\n.\r\n",
      "..\r\n.\r\n",
      "...\r\n..x\r\n.\r\nQUIT\r\n",
      "a\r\n.\r\nMAIL FROM:<x@y>\r\n",
      "a\nb\rc\r\r\n\n\r.\r\n",
      "Subject: x\r\n\r\n.\n.\r.\r\r\n.\r\n",
      "\0\r\n\0.\r\n.\0\r\n.\r\n"s,
      ".\r.\r\n.\r\n",
      "Subject: " + std::string(2100, 'h') + "\r\n\r\n" + std::string(2100, 'b') + "\r\n.\r\n",
      std::string(998, 'x') + "\r\n" + std::string(999, 'y') + "\r\n.\r\n",
      "\r\n" + std::string(1996, 'z') + "\n" + std::string(5, 'w') + "\r\n.\r\n",
      "incomplete\r\n.",
      "incomplete\r\n.\r",
      "incomplete\r",
  };
  for (const auto& seq : kSmuggling) {
    c.push_back("Subject: s\r\n\r\nline" + seq + "MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\n\r\n.\r\nNOOP\r\n");
    c.push_back(seq + "QUIT\r\n\r\n.\r\n");  // the sequence at the very start of the data
  }
  return c;
}

class Splits : public ::testing::TestWithParam<std::tuple<DataReader::Mode, BareLineEnd>> {};

TEST_P(Splits, WholeByteByByteAndRandomSplitsMatchTheReference) {
  const auto [mode, bare] = GetParam();
  std::mt19937 rng(12345);
  for (const std::string& in : corpus()) {
    const std::string what = "input #" + std::to_string(in.size());
    const Decoded whole = feed_whole(mode, bare, in);
    expect_same(whole, reference(mode, bare, in), what + " vs reference");
    expect_same(feed_pieces(mode, bare, in, [] { return size_t{1}; }), whole, what + " byte by byte");
    for (int round = 0; round < 50; ++round) {
      std::uniform_int_distribution<size_t> piece(1, 7 + static_cast<size_t>(round) * 3);
      expect_same(feed_pieces(mode, bare, in, [&] { return piece(rng); }), whole, what + " random split");
    }
    if (bare == BareLineEnd::normalize) {
      EXPECT_FALSE(whole.outcome.bare_line_end);
    }
    // Whatever the mode, nothing bare ever leaves the reader (reject refuses the message anyway).
    if (mode == DataReader::Mode::chunk || whole.done) {
      EXPECT_TRUE(only_crlf(whole.out)) << what;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllModes, Splits,
                         ::testing::Combine(::testing::Values(DataReader::Mode::dot, DataReader::Mode::chunk),
                                            ::testing::Values(BareLineEnd::reject, BareLineEnd::normalize)));

TEST(DotMode, EndsOnlyAtCrlfDotCrlfAndLeavesPipelinedBytes) {
  const std::string in = "Subject: t\r\n\r\nhello\r\n.\r\nQUIT\r\n";
  const Decoded d = feed_whole(DataReader::Mode::dot, BareLineEnd::reject, in);
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.out, "Subject: t\r\n\r\nhello\r\n");
  EXPECT_EQ(in.substr(d.consumed), "QUIT\r\n");
  EXPECT_FALSE(d.outcome.bare_line_end);
  EXPECT_EQ(d.outcome.size, d.out.size());
}

TEST(DotMode, DotLineAtTheVeryStartIsAnEmptyMessage) {
  const Decoded d = feed_whole(DataReader::Mode::dot, BareLineEnd::reject, ".\r\nNOOP\r\n");
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.out, "");
  EXPECT_EQ(d.consumed, 3u);
}

TEST(DotMode, UnstuffsLeadingDots) {
  const Decoded d = feed_whole(DataReader::Mode::dot, BareLineEnd::reject, "..\r\n...x\r\n.y\r\n.\r\n");
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.out, ".\r\n..x\r\ny\r\n");
}

TEST(DotMode, FeedAfterDoneConsumesNothing) {
  DataReader r(DataReader::Mode::dot, BareLineEnd::reject, kBig);
  std::string out;
  EXPECT_EQ(r.feed(".\r\n", out), 3u);
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.feed("more\r\n", out), 0u);
  EXPECT_EQ(out, "");
}

class Smuggling : public ::testing::TestWithParam<std::tuple<std::string, BareLineEnd>> {};

TEST_P(Smuggling, SequenceNeitherEndsTheMessageNorEscapesIt) {
  const auto& [seq, bare] = GetParam();
  const std::string evil = "MAIL FROM:<evil@x>\r\nRCPT TO:<victim@y>\r\nDATA\r\n";
  const std::string in = "Subject: s\r\n\r\nline" + seq + evil + "tail\r\n.\r\nQUIT\r\n";
  // Cut right after the sequence: the message must still be open.
  const std::string head = "Subject: s\r\n\r\nline" + seq;
  DataReader open(DataReader::Mode::dot, bare, kBig);
  std::string partial;
  EXPECT_EQ(open.feed(head, partial), head.size());
  EXPECT_FALSE(open.done());

  const Decoded d = feed_whole(DataReader::Mode::dot, bare, in);
  ASSERT_TRUE(d.done);
  EXPECT_EQ(in.substr(d.consumed), "QUIT\r\n");  // the only bytes left for the command reader
  EXPECT_NE(d.out.find("MAIL FROM:<evil@x>\r\n"), std::string::npos);  // the injected commands are body text
  EXPECT_TRUE(only_crlf(d.out));
  const bool has_bare = seq.find('\0') == std::string::npos;
  EXPECT_EQ(d.outcome.bare_line_end, has_bare && bare == BareLineEnd::reject);
}

INSTANTIATE_TEST_SUITE_P(EverySequence, Smuggling,
                         ::testing::Combine(::testing::ValuesIn(kSmuggling),
                                            ::testing::Values(BareLineEnd::reject, BareLineEnd::normalize)));

TEST(BareLineEnds, NormalizeWritesCrlfAndRejectRemembers) {
  const std::string in = "a\nb\rc\r\n.\r\n";
  const Decoded n = feed_whole(DataReader::Mode::dot, BareLineEnd::normalize, in);
  EXPECT_EQ(n.out, "a\r\nb\r\nc\r\n");
  EXPECT_FALSE(n.outcome.bare_line_end);
  const Decoded r = feed_whole(DataReader::Mode::dot, BareLineEnd::reject, in);
  EXPECT_TRUE(r.outcome.bare_line_end);
  EXPECT_TRUE(r.done);
}

TEST(BareLineEnds, DotAfterBareLineEndIsDataNotStuffing) {
  const Decoded d = feed_whole(DataReader::Mode::dot, BareLineEnd::normalize, "a\n..\r\n.\r\n");
  EXPECT_EQ(d.out, "a\r\n..\r\n");
}

TEST(Folding, BodyLinesOver998OctetsAreBrokenWithCrlf) {
  const std::string line(2500, 'b');
  const Decoded d = feed_whole(DataReader::Mode::dot, BareLineEnd::reject, "\r\n" + line + "\r\n.\r\n");
  EXPECT_EQ(d.out, "\r\n" + line.substr(0, 998) + "\r\n" + line.substr(998, 998) + "\r\n" + line.substr(1996) + "\r\n");
}

TEST(Folding, HeaderLinesContinueWithASpace) {
  const std::string value(2000, 'h');
  const Decoded d = feed_whole(DataReader::Mode::dot, BareLineEnd::reject, "X-Long: " + value + "\r\n\r\nb\r\n.\r\n");
  const std::string full = "X-Long: " + value;
  EXPECT_EQ(d.out, full.substr(0, 998) + "\r\n " + full.substr(998, 997) + "\r\n " + full.substr(1995) +
                       "\r\n\r\nb\r\n");
}

TEST(Folding, ExactlyNineHundredNinetyEightOctetsIsLeftAlone) {
  const std::string line(998, 'x');
  const Decoded d = feed_whole(DataReader::Mode::dot, BareLineEnd::reject, "\r\n" + line + "\r\n.\r\n");
  EXPECT_EQ(d.out, "\r\n" + line + "\r\n");
}

TEST(SizeCap, StopsAppendingButConsumesToTheEnd) {
  const std::string in = "Subject: x\r\n\r\n" + std::string(100, 'a') + "\r\n.\r\nQUIT\r\n";
  for (size_t piece : {size_t{1}, size_t{7}, in.size()}) {
    const Decoded d = feed_pieces(DataReader::Mode::dot, BareLineEnd::reject, in, [&] { return piece; }, 50);
    EXPECT_TRUE(d.done);
    EXPECT_TRUE(d.outcome.too_big);
    EXPECT_LE(d.out.size(), 50u);
    EXPECT_EQ(in.substr(d.consumed), "QUIT\r\n");
    EXPECT_GT(d.outcome.size, 50u);
  }
}

TEST(SizeCap, ExactlyAtTheLimitIsAccepted) {
  const Decoded d = feed_whole(DataReader::Mode::dot, BareLineEnd::reject, "0123456\r\n.\r\n", 9);
  EXPECT_FALSE(d.outcome.too_big);
  EXPECT_EQ(d.out, "0123456\r\n");
}

TEST(SizeCap, EarlierChunksCount) {
  DataReader r(DataReader::Mode::chunk, BareLineEnd::reject, 10, 8);
  std::string out;
  r.feed("abc", out);
  EXPECT_TRUE(r.outcome().too_big);
  EXPECT_EQ(out, "");
}

TEST(ChunkMode, NoDotHandlingAndNoTerminator) {
  DataReader r(DataReader::Mode::chunk, BareLineEnd::reject, kBig);
  std::string out;
  const std::string in = ".\r\n..\r\n.\r\nafter\r\n";
  EXPECT_EQ(r.feed(in, out), in.size());
  EXPECT_FALSE(r.done());
  EXPECT_EQ(out, in);
}

TEST(ChunkMode, CrAtTheEndOfOneChunkAndLfAtTheStartOfTheNextIsACrlf) {
  DataReader r(DataReader::Mode::chunk, BareLineEnd::reject, kBig);
  std::string out;
  r.feed("line one\r", out);
  r.feed("\nline two\r\n", out);
  r.finish_chunk(out);
  EXPECT_EQ(out, "line one\r\nline two\r\n");
  EXPECT_FALSE(r.outcome().bare_line_end);
}

TEST(ChunkMode, CrAtTheEndOfTheLastChunkIsBare) {
  DataReader r(DataReader::Mode::chunk, BareLineEnd::reject, kBig);
  std::string out;
  r.feed("x\r", out);
  r.finish_chunk(out);
  EXPECT_TRUE(r.outcome().bare_line_end);
  EXPECT_EQ(out, "x\r\n");
  DataReader n(DataReader::Mode::chunk, BareLineEnd::normalize, kBig);
  std::string nout;
  n.feed("x\ny\r", nout);
  n.finish_chunk(nout);
  EXPECT_FALSE(n.outcome().bare_line_end);
  EXPECT_EQ(nout, "x\r\ny\r\n");
}

}  // namespace
}  // namespace smarthost::smtpd
