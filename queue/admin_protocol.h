// The queue admin socket's protocol: one request line per connection ("list", "show ID", "retry --all", ...)
// answered by one line of JSON; a list streams one line per message before it. Parsing and encoding only: no sockets, no spool access.
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
inline constexpr size_t kMaxAnswer = 64ull * 1024 * 1024;  // one line of an answer

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
  std::vector<QueueEntry> entries;       // list, when not streamed
  std::optional<MessageDetails> details;  // show
  std::optional<uint64_t> count;         // a streamed list: how many entry lines came before this answer
};

// One line of JSON, without the newline.
std::string encode_answer(const Answer& answer);
// nullopt with `error` set when `json` is not an answer.
std::optional<Answer> decode_answer(std::string_view json, std::string& error);

// A list is streamed: one entry line per message, `{"entry":{...}}`, then the closing answer line, whose
// "count" says how many entry lines it closes. So neither side ever holds a deep queue's list.
std::string encode_entry_line(const QueueEntry& entry);
bool is_entry_line(std::string_view line);
std::optional<QueueEntry> decode_entry_line(std::string_view line, std::string& error);

// `queue list --json` streamed: "[", entry_json() for each entry with "," between them, "]\n".
std::string entry_json(const QueueEntry& entry);

// `queue show --json`: one object, ending in a newline.
std::string details_json(const MessageDetails& details);

// UTC, "2024-05-01T12:00:00Z"; "" for the epoch (never set).
std::string format_time(std::chrono::system_clock::time_point time);

}  // namespace smarthost::queue::admin
