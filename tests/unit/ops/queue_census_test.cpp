// The queue census: folder counts, bytes and the oldest age from a scan, fresh active counts, and the cache that
// keeps scans rare.
#include "ops/queue_census.h"

#include <gtest/gtest.h>

namespace smarthost::ops {
namespace {

using namespace std::chrono_literals;

queue::QueueEntry entry(queue::Folder folder, std::chrono::seconds age, uint64_t size) {
  queue::QueueEntry e;
  e.folder = folder;
  e.age = age;
  e.size = size;
  return e;
}

TEST(QueueCensus, CountsFoldersBytesAndTheOldestWaitingMessage) {
  int scans = 0;
  size_t active = 2;
  RelayView view;
  view.queued = [&] { return active; };
  view.delivering = [] { return size_t{1}; };
  view.queue_list = [&](std::error_code&) {
    ++scans;
    return std::vector<queue::QueueEntry>{entry(queue::Folder::active, 30s, 100), entry(queue::Folder::active, 5s, 50),
                                          entry(queue::Folder::hold, 90s, 10), entry(queue::Folder::failed, 900s, 1)};
  };
  QueueCensus census(1h);
  auto c = census.count(view);
  EXPECT_TRUE(c.scanned);
  EXPECT_EQ(c.active, 2u);
  EXPECT_EQ(c.delivering, 1u);
  EXPECT_EQ(c.held, 1u);
  EXPECT_EQ(c.failed, 1u);
  EXPECT_EQ(c.bytes, 161u);
  EXPECT_EQ(c.oldest_age, 90s) << "failed messages wait for nobody";
  EXPECT_EQ(c.total(), 4u);
  active = 7;
  auto again = census.count(view);
  EXPECT_EQ(scans, 1) << "cached";
  EXPECT_EQ(again.active, 7u) << "the active count is always fresh";
}

TEST(QueueCensus, AFailedScanSaysSo) {
  RelayView view;
  view.queue_list = [](std::error_code& error) {
    error = std::make_error_code(std::errc::permission_denied);
    return std::vector<queue::QueueEntry>{};
  };
  QueueCensus census(0ms);
  EXPECT_FALSE(census.count(view).scanned);
  EXPECT_EQ(QueueCensus(0ms).count(RelayView{}).total(), 0u);
}

}  // namespace
}  // namespace smarthost::ops
