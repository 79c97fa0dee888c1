// Blocking admin-socket client: a non-blocking unix socket driven by poll() against one overall deadline.
#include "queue/admin_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace smarthost::queue::admin {
namespace {

using Clock = std::chrono::steady_clock;

// Waits for `events` on fd until the deadline; false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Exchange ask(const std::filesystem::path& socket_path, const Request& request, std::chrono::milliseconds timeout,
             const EntrySink& on_entry) {
  Exchange out;
  std::vector<QueueEntry> listed;  // streamed entries, without a sink
  auto deadline = Clock::now() + timeout;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.native().size() >= sizeof address.sun_path) {
    out.error = "admin socket path too long: " + socket_path.string();
    return out;
  }
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.native().size());
  Fd sock{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (sock.fd < 0) {
    out.error = std::string("socket: ") + std::strerror(errno);
    return out;
  }
  if (::connect(sock.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    int error = errno;
    if (error == ENOENT || error == ECONNREFUSED || error == ENOTDIR) {
      out.reach = Exchange::Reach::no_server;
      return out;
    }
    if (error == EAGAIN || error == EINPROGRESS) {
      // A unix socket's backlog is full: the relay is there but busy.
      out.error = "the relay's admin socket is busy";
    } else if (error == EACCES || error == EPERM) {
      out.denied = true;
      out.error = "permission denied on " + socket_path.string() + " (run as the relay's user or root)";
    } else {
      out.error = "cannot connect to " + socket_path.string() + ": " + std::strerror(error);
    }
    return out;
  }

  std::string line = format_request(request) + "\n";
  for (size_t sent = 0; sent < line.size();) {
    ssize_t n = ::send(sock.fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(sock.fd, POLLOUT, deadline)) {
        out.error = "timed out sending to the relay";
        return out;
      }
    } else {
      out.error = std::string("sending to the relay: ") + std::strerror(errno);
      return out;
    }
  }

  // Lines until the one that is not an entry: the answer. Each wait for more bytes gets the whole timeout.
  std::string pending;
  size_t start = 0;    // of the next line in `pending`
  size_t scanned = 0;  // of `pending`, the bytes known to hold no newline
  uint64_t entries = 0;
  char buf[65536];
  for (;;) {
    if (auto end = pending.find('\n', std::max(start, scanned)); end != std::string::npos) {
      std::string_view line(pending.data() + start, end - start);
      std::string problem;
      if (is_entry_line(line)) {
        auto entry = decode_entry_line(line, problem);
        if (!entry) {
          out.error = problem;
          return out;
        }
        ++entries;
        if (on_entry) {
          on_entry(std::move(*entry));
        } else {
          listed.push_back(std::move(*entry));
        }
        start = end + 1;
        continue;
      }
      out.answer = decode_answer(line, problem);
      if (!out.answer) {
        out.error = problem;
        return out;
      }
      if (out.answer->count && *out.answer->count != entries) {
        out.error = "the relay's list was cut short: " + std::to_string(entries) + " of " +
                    std::to_string(*out.answer->count) + " entries arrived";
        out.answer.reset();
        return out;
      }
      if (!out.answer->count && on_entry) {  // a relay that does not stream sends the whole list at once
        for (auto& entry : out.answer->entries) on_entry(std::move(entry));
        out.answer->entries.clear();
      } else if (!on_entry) {
        out.answer->entries.insert(out.answer->entries.begin(), std::make_move_iterator(listed.begin()),
                                   std::make_move_iterator(listed.end()));
      }
      break;
    }
    pending.erase(0, start);  // the lines consumed
    start = 0;
    scanned = pending.size();
    if (pending.size() > kMaxAnswer) {
      out.error = "the relay's answer is too large";
      return out;
    }
    ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n > 0) {
      pending.append(buf, static_cast<size_t>(n));
      deadline = Clock::now() + timeout;
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(sock.fd, POLLIN, deadline)) {
        out.error = "timed out waiting for the relay's answer";
        return out;
      }
    } else {
      out.error = n == 0 ? (entries > 0 ? "the relay closed the admin connection in the middle of the list"
                                        : "the relay closed the admin connection without an answer")
                         : std::string("reading from the relay: ") + std::strerror(errno);
      return out;
    }
  }
  out.reach = Exchange::Reach::answered;
  return out;
}

}  // namespace smarthost::queue::admin
