// The client side of the queue admin socket, for the CLI: connects, sends one request line and reads one answer
// line, all within one deadline and with the answer capped at admin::kMaxAnswer. Blocking POSIX I/O, no Asio.
#pragma once

#include <chrono>
#include <filesystem>
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

Exchange ask(const std::filesystem::path& socket_path, const Request& request,
             std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace smarthost::queue::admin
