// Runs child processes for integration tests: the smarthost binary, swaks, curl, python3, redis-server.
// Every wait has a deadline; a child still running when its Process goes away is killed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace smarthost::test {

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs argv to completion with `input` on stdin, capturing stdout and stderr. Kills it past `timeout`.
RunResult run(const std::vector<std::string>& argv, const std::string& input = "",
              std::chrono::milliseconds timeout = std::chrono::seconds(30),
              const std::map<std::string, std::string>& env = {});

// A long-running child (a server). Its stdout and stderr go to `log_path` when given.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
          const std::string& log_path = "");
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // Waits for the exit; returns the exit code, or -signal when killed, or INT_MIN on timeout.
  int wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();
// Waits until something accepts TCP connections on 127.0.0.1:port.
bool wait_for_port(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
// The first python3 that has Debian's modules (aiosmtpd): /usr/bin/python3.
std::string python3();

}  // namespace smarthost::test
