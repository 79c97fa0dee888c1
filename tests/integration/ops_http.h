// Small helpers for the ops integration tests: GET a path of the relay's operations endpoint with curl, read one
// sample from /metrics, and wait for a condition with a deadline. Header-only.
#pragma once

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/process.h"

namespace smarthost::test {

struct HttpGot {
  int status = 0;  // 0: no answer
  std::string body;
};

inline HttpGot http_get(int port, const std::string& path) {
  auto r = run({"curl", "-s", "--max-time", "5", "-w", "\n%{http_code}", "http://127.0.0.1:" + std::to_string(port) + path});
  HttpGot got;
  auto cut = r.out.rfind('\n');
  if (cut == std::string::npos) return got;
  got.body = r.out.substr(0, cut);
  got.status = std::atoi(r.out.c_str() + cut + 1);
  return got;
}

// The value of the sample line that starts with `series` (name and labels exactly as written), if present.
inline std::optional<double> metric(const std::string& metrics_text, const std::string& series) {
  std::istringstream in(metrics_text);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

}  // namespace smarthost::test
