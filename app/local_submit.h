// Submits one message to the local smarthost server over SMTP (TCP or unix socket), with a deadline on every
// read and write. Used by `smarthost sendmail` and `smarthost send-test`; blocking on purpose (a CLI).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace smarthost::conf {
struct Config;
}

namespace smarthost::app {

// The listener to submit to: a unix socket when there is one, else the first TCP listener, a wildcard address
// (0.0.0.0, *, [::]) reached on loopback.
std::string submit_address(const conf::Config& config);

// server.hostname, else the machine's host name: for Message-IDs and EHLO.
std::string local_hostname(const conf::Config& config);

struct SubmitResult {
  enum class Status { accepted, temporary, permanent, unreachable } status = Status::unreachable;
  std::string reply;     // the server's last reply (or the connection error)
  std::string queue_id;  // from "250 2.0.0 Ok: queued as <id>"
};

// `address` is "host:port", "[v6]:port" or "unix:/path". Recipients refused one by one are reported as a
// permanent (5xx) or temporary (4xx) failure of the whole submission.
SubmitResult submit_local(const std::string& address, const std::string& sender,
                          const std::vector<std::string>& recipients, const std::string& content,
                          std::chrono::seconds timeout = std::chrono::seconds(60));

// Connects to `address` and returns the socket descriptor, or -1.
int connect_local(const std::string& address, std::chrono::seconds timeout);

}  // namespace smarthost::app
