// smtp_load: the SMTP load generator bench/run drives (smtp-source's job, plus accept latencies). S parallel
// sessions send N messages of a given size, M per connection, R recipients each, and it prints one JSON line:
// counts, the accepted rate and the latency from the last byte of DATA to the 250. It does not check delivery.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
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
  int messages = 1000;
  int sessions = 20;
  int per_connection = 1;
  size_t size = 4096;  // body bytes, after the header section
  int recipients = 1;
  bool pipelining = false;
  std::chrono::milliseconds timeout{30000};  // each read or write
  std::chrono::seconds limit{300};           // the whole run: no new message is started after it
  std::string from = "sender@bench.example";
  std::string to_domain = "sink.example";
};

struct Totals {
  int next = 0;  // messages claimed by sessions so far
  int accepted = 0;
  int rejected = 0;  // a 4xx/5xx to MAIL, RCPT, DATA or the end of data
  int errors = 0;    // messages lost to a connection error or timeout
  int connections = 0;
  std::vector<double> accept_ms;
  std::string first_error;
  Clock::time_point start;
  Clock::time_point last_reply;
  bool truncated = false;
};

std::string make_body(size_t size) {
  static const std::string kLine = "The quick brown fox jumps over the lazy dog; smarthost bench payload line.\r\n";
  std::string body;
  body.reserve(size + kLine.size() + 8);
  while (body.size() < size) body += kLine;
  body += ".\r\n";
  return body;
}

std::string make_header(const Options& o, int n) {
  return "From: <" + o.from + ">\r\nTo: <rcpt0@" + o.to_domain + ">\r\nSubject: bench message " +
         std::to_string(n) + "\r\nMessage-ID: <bench." + std::to_string(n) + "." + std::to_string(::getpid()) +
         "@bench.example>\r\nDate: Mon, 24 Nov 2025 10:00:00 +0000\r\n\r\n";
}

void fail(Totals& t, int lost, const std::string& what) {
  t.errors += lost;
  if (t.first_error.empty()) t.first_error = what;
}

// One message on an open connection. Returns false when the connection is no longer usable.
asio::awaitable<bool> send_message(std::shared_ptr<LoadClient> client, const Options& o, Totals& t,
                                   const std::string& body, std::vector<std::string>& rcpt_lines, int n) {
  std::string mail = "MAIL FROM:<" + o.from + ">\r\n";
  std::string header = make_header(o, n);
  int expected = 0;  // replies to read before 354
  if (o.pipelining) {
    std::string batch = mail;
    for (const auto& r : rcpt_lines) batch += r;
    batch += "DATA\r\n";
    std::error_code ec = co_await client->write(batch, {}, o.timeout);
    if (ec) {
      fail(t, 1, "write: " + ec.message());
      co_return false;
    }
    expected = 2 + static_cast<int>(rcpt_lines.size());
  }
  bool refused = false;
  bool go_ahead = false;  // 354 seen
  int rcpt_ok = 0;
  std::vector<std::string*> steps;
  if (!o.pipelining) {
    steps.push_back(&mail);
    for (auto& r : rcpt_lines) steps.push_back(&r);
    static std::string kData = "DATA\r\n";
    steps.push_back(&kData);
    expected = static_cast<int>(steps.size());
  }
  for (int i = 0; i < expected; ++i) {
    if (!o.pipelining) {
      std::error_code ec = co_await client->write(*steps[i], {}, o.timeout);
      if (ec) {
        fail(t, 1, "write: " + ec.message());
        co_return false;
      }
    }
    smarthost::bench::Reply reply = co_await client->read_reply(o.timeout);
    if (reply.error) {
      fail(t, 1, "read: " + reply.error.message());
      co_return false;
    }
    const bool is_rcpt = i > 0 && i < expected - 1;
    const bool is_data = i == expected - 1;
    if (is_rcpt && reply.code / 100 == 2) ++rcpt_ok;
    if (is_data && reply.code == 354) {
      go_ahead = true;
      continue;
    }
    if (reply.code / 100 != 2) {
      if (!is_rcpt) refused = true;
      if (t.first_error.empty()) t.first_error = reply.text;
      if (!o.pipelining && !is_rcpt) break;  // MAIL refused: no point in RCPT/DATA
    }
  }
  if (refused || rcpt_ok == 0) {
    ++t.rejected;
    // With pipelining a 354 may still have come after refused RCPTs: end that DATA with an empty message.
    std::string rset = go_ahead ? ".\r\n" : "RSET\r\n";
    std::error_code ec = co_await client->write(rset, {}, o.timeout);
    if (ec) co_return false;
    smarthost::bench::Reply reply = co_await client->read_reply(o.timeout);
    co_return !reply.error;
  }
  auto sent_at = Clock::now();
  std::error_code ec = co_await client->write(header, body, o.timeout);
  if (ec) {
    fail(t, 1, "write data: " + ec.message());
    co_return false;
  }
  smarthost::bench::Reply reply = co_await client->read_reply(o.timeout);
  auto now = Clock::now();
  if (reply.error) {
    fail(t, 1, "read after data: " + reply.error.message());
    co_return false;
  }
  if (reply.code / 100 == 2) {
    ++t.accepted;
    t.accept_ms.push_back(std::chrono::duration<double, std::milli>(now - sent_at).count());
    t.last_reply = now;
  } else {
    ++t.rejected;
    if (t.first_error.empty()) t.first_error = reply.text;
  }
  co_return true;
}

asio::awaitable<void> run_session(const Options& o, Totals& t, tcp::endpoint endpoint, const std::string& body) {
  auto executor = co_await asio::this_coro::executor;
  std::vector<std::string> rcpt_lines;
  for (int r = 0; r < o.recipients; ++r) rcpt_lines.push_back("RCPT TO:<rcpt" + std::to_string(r) + "@" + o.to_domain + ">\r\n");
  const std::string ehlo = "EHLO load.bench.example\r\n";
  const std::string quit = "QUIT\r\n";
  while (t.next < o.messages) {
    if (Clock::now() - t.start > o.limit) {
      t.truncated = true;
      break;
    }
    const int first = t.next;
    const int count = std::min(o.per_connection, o.messages - first);
    t.next += count;
    ++t.connections;
    auto client = LoadClient::make(executor);
    std::error_code ec = co_await client->connect(endpoint, o.timeout);
    if (ec) {
      fail(t, count, "connect: " + ec.message());
      continue;
    }
    smarthost::bench::Reply greeting = co_await client->read_reply(o.timeout);
    if (greeting.error || greeting.code != 220) {
      fail(t, count, "greeting: " + (greeting.error ? greeting.error.message() : greeting.text));
      client->close();
      continue;
    }
    ec = co_await client->write(ehlo, {}, o.timeout);
    if (ec) {
      fail(t, count, "ehlo: " + ec.message());
      client->close();
      continue;
    }
    smarthost::bench::Reply hello = co_await client->read_reply(o.timeout);
    if (hello.error || hello.code != 250) {
      fail(t, count, "ehlo: " + (hello.error ? hello.error.message() : hello.text));
      client->close();
      continue;
    }
    int done = 0;
    for (; done < count; ++done) {
      bool usable = co_await send_message(client, o, t, body, rcpt_lines, first + done);
      if (!usable) {
        ++done;
        break;
      }
    }
    if (done < count) fail(t, count - done, "connection lost");
    ec = co_await client->write(quit, {}, o.timeout);
    if (!ec) {
      smarthost::bench::Reply bye = co_await client->read_reply(o.timeout);
      (void)bye;
    }
    client->close();
  }
}

int usage() {
  std::cerr << "usage: smtp_load --port P [--host 127.0.0.1] [--messages N] [--sessions S] [--per-connection M]\n"
               "                 [--size BYTES] [--recipients R] [--pipelining] [--timeout-ms MS] [--limit-s S]\n";
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
    else if (arg == "--messages") o.messages = std::atoi(value().c_str());
    else if (arg == "--sessions") o.sessions = std::atoi(value().c_str());
    else if (arg == "--per-connection") o.per_connection = std::atoi(value().c_str());
    else if (arg == "--size") o.size = std::strtoul(value().c_str(), nullptr, 10);
    else if (arg == "--recipients") o.recipients = std::atoi(value().c_str());
    else if (arg == "--pipelining") o.pipelining = true;
    else if (arg == "--timeout-ms") o.timeout = std::chrono::milliseconds(std::atoi(value().c_str()));
    else if (arg == "--limit-s") o.limit = std::chrono::seconds(std::atoi(value().c_str()));
    else return usage();
  }
  if (o.port <= 0 || o.port > 65535 || o.messages <= 0 || o.sessions <= 0 || o.per_connection <= 0 ||
      o.recipients <= 0)
    return usage();
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  const std::string body = make_body(o.size);
  tcp::endpoint endpoint(asio::ip::make_address(o.host), static_cast<uint16_t>(o.port));
  asio::io_context io;
  Totals t;
  t.start = Clock::now();
  t.last_reply = t.start;
  for (int s = 0; s < o.sessions; ++s) asio::co_spawn(io, run_session(o, t, endpoint, body), asio::detached);
  io.run();
  const double elapsed = std::chrono::duration<double>(t.last_reply - t.start).count();
  const double wall = std::chrono::duration<double>(Clock::now() - t.start).count();
  double p50 = smarthost::bench::percentile(t.accept_ms, 50);
  double p90 = smarthost::bench::percentile(t.accept_ms, 90);
  double p99 = smarthost::bench::percentile(t.accept_ms, 99);
  double max = t.accept_ms.empty() ? 0 : t.accept_ms.back();
  std::string error;
  for (char c : t.first_error) {
    if (c == '"' || c == '\\') error += '\\';
    if (c == '\r' || c == '\n') continue;
    error += c;
  }
  std::printf(
      "{\"messages\": %d, \"accepted\": %d, \"rejected\": %d, \"errors\": %d, \"connections\": %d, "
      "\"elapsed_s\": %.4f, \"wall_s\": %.4f, \"accepted_per_s\": %.1f, \"accept_latency_ms\": {\"p50\": %.3f, "
      "\"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}, \"truncated\": %s, \"first_error\": \"%s\"}\n",
      o.messages, t.accepted, t.rejected, t.errors, t.connections, elapsed, wall,
      elapsed > 0 ? t.accepted / elapsed : 0.0, p50, p90, p99, max, t.truncated ? "true" : "false", error.c_str());
  return t.accepted > 0 ? 0 : 1;
}
