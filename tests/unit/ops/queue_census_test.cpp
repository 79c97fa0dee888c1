// The queue census: folder counts, bytes and the oldest age from a scan, fresh active counts, and the cache that
// keeps scans rare.
#include "ops/queue_census.h"

#include <gtest/gtest.h>

namespace smarthost::ops {
namespace {

using namespace std::chrono_literals;

TEST(QueueCensus, CountsFoldersBytesAndTheOldestWaitingMessage) {
  int scans = 0;
  size_t active = 2;
  RelayView view;
  view.queued = [&] { return active; };
  view.delivering = [] { return size_t{1}; };
  view.queue_tally = [&](std::error_code&) {
    ++scans;
    return queue::QueueTally{2, 1, 1, 161, 90s};
  };
  QueueCensus census(1h);
  auto c = census.count(view);
  EXPECT_TRUE(c.scanned);
  EXPECT_EQ(c.active, 2u);
  EXPECT_EQ(c.delivering, 1u);
  EXPECT_EQ(c.held, 1u);
  EXPECT_EQ(c.failed, 1u);
  EXPECT_EQ(c.bytes, 161u);
  EXPECT_EQ(c.oldest_age, 90s);
  EXPECT_EQ(c.total(), 4u);
  active = 7;
  auto again = census.count(view);
  EXPECT_EQ(scans, 1) << "cached";
  EXPECT_EQ(again.active, 7u) << "the active count is always fresh";
}

TEST(QueueCensus, AFailedScanSaysSo) {
  RelayView view;
  view.queue_tally = [](std::error_code& error) {
    error = std::make_error_code(std::errc::permission_denied);
    return queue::QueueTally{};
  };
  QueueCensus census(0ms);
  EXPECT_FALSE(census.count(view).scanned);
  EXPECT_EQ(QueueCensus(0ms).count(RelayView{}).total(), 0u);
}

}  // namespace
}  // namespace smarthost::ops
