// What the spool knows about one queued message: its envelope with per-recipient state, its retry state and
// where its content lives. A plain value type shared by the spool, the scheduler and queue administration.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mail/content_file.h"
#include "mail/envelope.h"
#include "queue/spool.h"

namespace smarthost::queue {

// The spool folder a message sits in: active (scheduled), hold (kept until released), failed (given up).
enum class Folder { active, hold, failed };

std::string_view to_string(Folder folder);

// A message's content as its commit wrote it: length and CRC-32C (crc32c.h), kept in the record so that recovery
// can tell a file whose data never reached the disk whole from a whole one.
struct ContentCheck {
  uint64_t octets = 0;
  uint32_t crc = 0;
  bool operator==(const ContentCheck&) const = default;
};

struct StoredMessage {
  QueueId id;
  Folder folder = Folder::active;
  mail::Envelope envelope;  // recipients carry their state (pending / delivered / failed) and last reply
  uint32_t attempts = 0;    // delivery attempts made so far
  std::chrono::system_clock::time_point next_attempt{};
  std::string last_error;     // the last temporary failure, for `queue list`
  std::string content_path;   // the spool file; the message starts at content_offset and runs to its end
  uint64_t content_offset = 0;
  uint64_t size = 0;  // message octets
  // content_path already open, when the spool kept its writer's descriptor (mail/content_file.h); may be null.
  std::shared_ptr<const mail::ContentFile> file;
  // A state sidecar (<folder>/<id>.state) exists or may: found by SpoolDir::load(), or written since. A message
  // fresh from its commit has none, and its removal then skips a needless unlink.
  bool state_file = false;
  // Absent in records written before the check was kept, and in those of other writers: they are synced before
  // they are renamed into a folder, and need none.
  std::optional<ContentCheck> check;

  bool has_pending() const;
  bool has_failed() const;
};

}  // namespace smarthost::queue
