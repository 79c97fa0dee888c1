// Queue ids: 13 characters of Crockford base32, time-ordered, unique within a spool, safe as file names.
// 45 bits of milliseconds since 1970 (9 chars) then a 20-bit sequence (4 chars) started at a random value each
// millisecond and counted up within it, so ids sort by arrival. No I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

#include "queue/spool.h"

namespace smarthost::queue {

inline constexpr size_t kQueueIdLength = 13;

class QueueIdGenerator {
 public:
  QueueIdGenerator();
  // A new id, greater than every id this generator returned before. Thread-safe.
  QueueId next(std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
  // Makes every later id greater than `id` (one found in the spool at start), so that a clock set back since
  // cannot make an id that is already taken. Ignores anything that is not a queue id.
  void follow(std::string_view id);

 private:
  std::mutex mutex_;
  std::mt19937_64 random_;
  uint64_t last_millis_ = 0;
  uint32_t sequence_ = 0;
};

// True for strings this generator could have made (13 base32 characters); everything else is refused before it
// becomes part of a path, e.g. an id typed at the command line.
bool is_queue_id(std::string_view text);

}  // namespace smarthost::queue
