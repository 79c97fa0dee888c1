// The queue admin socket of a running relay: a unix stream socket (mode 0600 by default) that takes one request
// line per connection (admin_protocol.h) and answers it with the scheduler's admin calls. File permissions are
// its only access control; it never delivers mail itself.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <system_error>

#include "queue/admin_protocol.h"
#include "queue/scheduler.h"

namespace smarthost::queue {

namespace detail {
struct AdminSocketState;  // the acceptor and what the connections share
}

struct AdminServerOptions {
  std::chrono::milliseconds io_timeout{5000};  // for reading the request, and again for writing the answer
  // For each batch of a streamed list: longer, as its reader may be a person paging through `mailq | less`.
  std::chrono::milliseconds list_write_timeout{60000};
  size_t max_connections = 8;                  // further clients are closed at once
  unsigned mode = 0600;                        // of the socket file
};

class AdminServer {
 public:
  // The scheduler must outlive every run of the executor's context.
  AdminServer(boost::asio::any_io_executor executor, Scheduler& scheduler, std::filesystem::path socket_path,
              AdminServerOptions options = {});
  ~AdminServer();  // stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds the socket (replacing a stale file: whoever holds the spool lock owns the path), sets its mode and
  // starts accepting. The file appears under its name only with its final mode (bound elsewhere, then renamed).
  std::error_code start();
  // Stops accepting and removes the socket file; requests being answered finish. Thread-safe.
  void stop();

  const std::filesystem::path& path() const;

 private:
  std::shared_ptr<detail::AdminSocketState> impl_;
};

namespace admin {
// The answer of a running scheduler to one request; a list comes whole here (the socket streams it instead).
Answer answer(Scheduler& scheduler, const Request& request);
// "no such message: ID", "ID is not held", or the error's message.
std::string describe(std::error_code error, const Request& request);
}  // namespace admin

}  // namespace smarthost::queue
