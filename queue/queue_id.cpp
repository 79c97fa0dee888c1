// Queue id generation: milliseconds, then a per-millisecond sequence with a random start, in base32.
#include "queue/queue_id.h"

#include <algorithm>

namespace smarthost::queue {
namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr uint32_t kSequenceBits = 20;
constexpr uint32_t kSequenceLimit = 1u << kSequenceBits;
constexpr uint32_t kRandomStartLimit = kSequenceLimit / 2;  // leaves room to count up within one millisecond

void put_base32(std::string& out, uint64_t value, int chars) {
  for (int i = chars - 1; i >= 0; --i) out.push_back(kAlphabet[(value >> (5 * i)) & 31]);
}

}  // namespace

QueueIdGenerator::QueueIdGenerator() : random_(std::random_device{}()) {}

QueueId QueueIdGenerator::next(std::chrono::system_clock::time_point now) {
  auto millis = static_cast<uint64_t>(
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()));
  std::lock_guard lock(mutex_);
  if (millis > last_millis_) {
    last_millis_ = millis;
    sequence_ = static_cast<uint32_t>(random_() % kRandomStartLimit);
  } else if (++sequence_ >= kSequenceLimit) {
    // A clock step back or over half a million ids in one millisecond: borrow the next millisecond.
    ++last_millis_;
    sequence_ = static_cast<uint32_t>(random_() % kRandomStartLimit);
  }
  QueueId id;
  id.reserve(kQueueIdLength);
  put_base32(id, last_millis_ & ((uint64_t{1} << 45) - 1), 9);
  put_base32(id, sequence_, 4);
  return id;
}

void QueueIdGenerator::follow(std::string_view id) {
  if (!is_queue_id(id)) return;
  auto decode = [](std::string_view chars) {
    uint64_t value = 0;
    for (char c : chars) value = (value << 5) | kAlphabet.find(c);
    return value;
  };
  const uint64_t millis = decode(id.substr(0, 9));  // 45 bits, then the 20-bit sequence (65 bits in all)
  const auto sequence = static_cast<uint32_t>(decode(id.substr(9)));
  std::lock_guard lock(mutex_);
  if (millis > last_millis_ || (millis == last_millis_ && sequence > sequence_)) {
    last_millis_ = millis;
    sequence_ = sequence;
  }
}

bool is_queue_id(std::string_view text) {
  return text.size() == kQueueIdLength &&
         std::all_of(text.begin(), text.end(), [](char c) { return kAlphabet.find(c) != std::string_view::npos; });
}

}  // namespace smarthost::queue
