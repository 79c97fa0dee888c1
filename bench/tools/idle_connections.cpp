// idle_connections: opens N SMTP connections to a relay and holds them idle, to measure what an idle connection
// costs (the relay's RSS growth divided by N, read from /proc/PID/status) and how fast greetings come while they
// are held (probe connections opened one by one on top). Prints one JSON line. It sends no mail.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "bench/tools/load_client.h"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using smarthost::bench::LoadClient;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 10000;
  int in_flight = 100;  // connects (up to the greeting) at once
  int probes = 200;
  int pid = 0;  // the relay, for its RSS
  std::chrono::milliseconds hold{2000};
  std::chrono::milliseconds timeout{15000};
};

struct State {
  int next = 0;
  int greeted = 0;
  int failed = 0;
  std::vector<double> greeting_ms;
  std::vector<std::shared_ptr<LoadClient>> held;
  std::string first_error;
};

// VmRSS of `pid` in KiB (0 when unknown).
long rss_kib(int pid) {
  if (pid <= 0) return 0;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

// Connects and reads the greeting; the time for both, or a negative value on failure.
asio::awaitable<double> greet(std::shared_ptr<LoadClient> client, tcp::endpoint endpoint, const Options& o,
                              std::string& error) {
  auto start = Clock::now();
  std::error_code ec = co_await client->connect(endpoint, o.timeout);
  if (ec) {
    error = "connect: " + ec.message();
    co_return -1.0;
  }
  smarthost::bench::Reply reply = co_await client->read_reply(o.timeout);
  if (reply.error || reply.code != 220) {
    error = "greeting: " + (reply.error ? reply.error.message() : reply.text);
    co_return -1.0;
  }
  co_return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

asio::awaitable<void> open_connections(const Options& o, State& s, tcp::endpoint endpoint) {
  auto executor = co_await asio::this_coro::executor;
  while (s.next < o.connections) {
    ++s.next;
    auto client = LoadClient::make(executor);
    std::string error;
    double ms = co_await greet(client, endpoint, o, error);
    if (ms < 0) {
      ++s.failed;
      if (s.first_error.empty()) s.first_error = error;
      client->close();
      continue;
    }
    ++s.greeted;
    s.greeting_ms.push_back(ms);
    s.held.push_back(client);
  }
}

asio::awaitable<void> probe(const Options& o, State& s, tcp::endpoint endpoint, std::vector<double>& probe_ms,
                            int& alive, int& checked, long& rss_held) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer pause(executor);
  pause.expires_after(o.hold);
  co_await pause.async_wait(asio::use_awaitable);
  rss_held = rss_kib(o.pid);
  // Probes: new connections one at a time while all the others are held.
  for (int i = 0; i < o.probes; ++i) {
    auto client = LoadClient::make(executor);
    std::string error;
    double ms = co_await greet(client, endpoint, o, error);
    if (ms >= 0) probe_ms.push_back(ms);
    else if (s.first_error.empty()) s.first_error = "probe " + error;
    client->close();
  }
  // Are the held connections still served? NOOP on every 100th.
  const std::string noop = "NOOP\r\n";
  for (size_t i = 0; i < s.held.size(); i += 100) {
    ++checked;
    std::error_code ec = co_await s.held[i]->write(noop, {}, o.timeout);
    if (ec) continue;
    smarthost::bench::Reply reply = co_await s.held[i]->read_reply(o.timeout);
    if (!reply.error && reply.code == 250) ++alive;
  }
}

std::string escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\r' || c == '\n') continue;
    out += c;
  }
  return out;
}

int usage() {
  std::cerr << "usage: idle_connections --port P [--host H] [--connections N] [--in-flight K] [--probes N]\n"
               "                        [--pid RELAY_PID] [--hold-ms MS] [--timeout-ms MS]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--host") o.host = value();
    else if (arg == "--port") o.port = std::atoi(value().c_str());
    else if (arg == "--connections") o.connections = std::atoi(value().c_str());
    else if (arg == "--in-flight") o.in_flight = std::atoi(value().c_str());
    else if (arg == "--probes") o.probes = std::atoi(value().c_str());
    else if (arg == "--pid") o.pid = std::atoi(value().c_str());
    else if (arg == "--hold-ms") o.hold = std::chrono::milliseconds(std::atoi(value().c_str()));
    else if (arg == "--timeout-ms") o.timeout = std::chrono::milliseconds(std::atoi(value().c_str()));
    else return usage();
  }
  if (o.port <= 0 || o.port > 65535 || o.connections <= 0 || o.in_flight <= 0) return usage();
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  tcp::endpoint endpoint(asio::ip::make_address(o.host), static_cast<uint16_t>(o.port));
  const long rss_before = rss_kib(o.pid);
  asio::io_context io;
  State s;
  s.held.reserve(static_cast<size_t>(o.connections));
  auto start = Clock::now();
  for (int k = 0; k < o.in_flight; ++k) asio::co_spawn(io, open_connections(o, s, endpoint), asio::detached);
  io.run();
  const double open_s = std::chrono::duration<double>(Clock::now() - start).count();
  // Held: let the relay settle, then measure it and probe it.
  std::vector<double> probe_ms;
  int alive = 0, checked = 0;
  long rss_held = 0;
  io.restart();
  asio::co_spawn(io, probe(o, s, endpoint, probe_ms, alive, checked, rss_held), asio::detached);
  io.run();
  const long rss_after_probes = rss_kib(o.pid);
  for (auto& c : s.held) c->close();
  const double per_connection = s.greeted > 0 ? static_cast<double>(rss_held - rss_before) / s.greeted : 0.0;
  auto& g = s.greeting_ms;
  double g50 = smarthost::bench::percentile(g, 50), g99 = smarthost::bench::percentile(g, 99);
  double gmax = g.empty() ? 0 : g.back();
  double p50 = smarthost::bench::percentile(probe_ms, 50), p99 = smarthost::bench::percentile(probe_ms, 99);
  double pmax = probe_ms.empty() ? 0 : probe_ms.back();
  std::printf(
      "{\"connections\": %d, \"greeted\": %d, \"failed\": %d, \"open_s\": %.3f, \"greeting_ms\": {\"p50\": %.3f, "
      "\"p99\": %.3f, \"max\": %.3f}, \"probe_greeting_ms\": {\"count\": %zu, \"p50\": %.3f, \"p99\": %.3f, "
      "\"max\": %.3f}, \"rss_before_kib\": %ld, \"rss_held_kib\": %ld, \"rss_after_probes_kib\": %ld, "
      "\"rss_per_connection_kib\": %.2f, \"alive_checked\": %d, \"alive_ok\": %d, \"first_error\": \"%s\"}\n",
      o.connections, s.greeted, s.failed, open_s, g50, g99, gmax, probe_ms.size(), p50, p99, pmax, rss_before,
      rss_held, rss_after_probes, per_connection, checked, alive, escaped(s.first_error).c_str());
  return s.greeted > 0 ? 0 : 1;
}
