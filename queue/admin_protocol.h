// The queue admin socket's protocol: one request line per connection ("list", "show ID", "retry --all", ...)
// answered by one line of JSON. Parsing and encoding only: no sockets, no spool access.
// The JSON of entries and details is also what `smarthost queue list --json` and `show --json` print.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "queue/queue_admin.h"

namespace smarthost::queue::admin {

inline constexpr size_t kMaxRequest = 1024;               // one request line, newline included
inline constexpr size_t kMaxAnswer = 64ull * 1024 * 1024;  // one answer line (a long queue list)

enum class Verb { list, show, retry, retry_all, remove, remove_failed, flush, hold, release };

struct Request {
  Verb verb = Verb::list;
  QueueId id;  // for show, retry, remove, hold, release
};

// "list", "show ID", "retry ID", "retry --all", "delete ID", "delete --all-failed", "flush", "hold ID",
// "release ID" (without the newline). nullopt with `error` set for anything else.
std::optional<Request> parse_request(std::string_view line, std::string& error);
// The request line for `request`, without the newline.
std::string format_request(const Request& request);

// How a request ended; the CLI turns it into an exit code.
enum class Status {
  ok,
  not_found,  // no message with that id
  invalid,    // a malformed request or id, or release of a message that is not held
  busy,       // try again later (the spool is locked, the server is stopping)
  failed,     // an I/O error
  denied,     // file permissions (of the spool or the socket) keep the caller out
};

std::string_view to_string(Status status);
Status status_of(std::error_code error);

struct Answer {
  Status status = Status::ok;
  std::string error;                     // human text when status != ok
  std::vector<QueueEntry> entries;       // list
  std::optional<MessageDetails> details;  // show
};

// One line of JSON, without the newline.
std::string encode_answer(const Answer& answer);
// nullopt with `error` set when `json` is not an answer.
std::optional<Answer> decode_answer(std::string_view json, std::string& error);

// `queue list --json`: an array of entries. `queue show --json`: one object. Both end in a newline.
std::string entries_json(const std::vector<QueueEntry>& entries);
std::string details_json(const MessageDetails& details);

// UTC, "2024-05-01T12:00:00Z"; "" for the epoch (never set).
std::string format_time(std::chrono::system_clock::time_point time);

}  // namespace smarthost::queue::admin
