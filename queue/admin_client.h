// The client side of the queue admin socket, for the CLI: connects, sends one request line and reads the answer:
// one line, or for a list the streamed entry lines and then the closing line. Each line is capped at
// admin::kMaxAnswer, and the exchange fails when the relay makes no progress for the timeout. Blocking POSIX
// I/O, no Asio.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "queue/admin_protocol.h"

namespace smarthost::queue::admin {

struct Exchange {
  enum class Reach {
    answered,   // `answer` holds the relay's answer
    no_server,  // nothing listens there (no socket file, or a stale one): work offline
    failed,     // a relay is there but the exchange failed (`error` says why: timeout, permission, bad answer)
  };
  Reach reach = Reach::failed;
  std::optional<Answer> answer;
  std::string error;
  bool denied = false;  // the socket's permissions keep this user out (not worth retrying)
};

// Each entry of a streamed list, as it arrives. Without one, the entries are gathered in answer->entries.
using EntrySink = std::function<void(QueueEntry&&)>;

// `timeout` bounds connecting and sending, and then each wait for the next line.
Exchange ask(const std::filesystem::path& socket_path, const Request& request,
             std::chrono::milliseconds timeout = std::chrono::seconds(30), const EntrySink& on_entry = {});

}  // namespace smarthost::queue::admin
