// Measures spool commits per second with N concurrent writers (sessions) on one io_context thread, to show the
// group commit at work. Not a test. Usage: queue_commit_bench DIR [sessions] [messages] [bytes]
// [automatic|fdatasync|syncfs].
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "queue/fs_spool.h"

namespace asio = boost::asio;
using namespace smarthost;

namespace {

asio::awaitable<void> session(queue::FsSpool& spool, int messages, const std::string& content, int& failures,
                              int& done) {
  mail::Envelope envelope;
  envelope.mail_from = "bench@example.org";
  envelope.recipients.push_back({"sink@example.net", {}, {}});
  for (int i = 0; i < messages; ++i) {
    std::error_code error;
    auto writer = spool.begin(error);
    if (!writer) {
      ++failures;
      continue;
    }
    writer->append(content);
    auto result = co_await writer->commit(envelope);
    if (result.error) ++failures;
    ++done;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [sessions] [messages] [bytes] [automatic|fdatasync|syncfs]\n", argv[0]);
    return 2;
  }
  int sessions = argc > 2 ? std::atoi(argv[2]) : 50;
  int total = argc > 3 ? std::atoi(argv[3]) : 2000;
  size_t bytes = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 4096;
  queue::FsSpoolOptions options;
  const std::string method = argc > 5 ? argv[5] : "automatic";
  if (method == "fdatasync") options.sync = queue::SpoolDir::SyncMethod::fdatasync;
  else if (method == "syncfs") options.sync = queue::SpoolDir::SyncMethod::syncfs;
  std::error_code error;
  const auto opening = std::chrono::steady_clock::now();
  auto spool = queue::FsSpool::open(argv[1], std::move(options), error);
  if (!spool) {
    std::fprintf(stderr, "cannot open %s: %s\n", argv[1], error.message().c_str());
    return 1;
  }
  // A spool left by a crash (no clean-stop marker) is checked at open: how long that took.
  std::printf("opened in %.3f s (%zu messages checked, %zu set aside)\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - opening).count(),
              spool->recovery().checked, spool->recovery().set_aside);
  std::string content = "Subject: bench\r\n\r\n" + std::string(bytes, 'x') + "\r\n";
  asio::io_context io;
  int failures = 0, done = 0;
  auto start = std::chrono::steady_clock::now();
  for (int s = 0; s < sessions; ++s)
    asio::co_spawn(io, session(*spool, total / sessions, content, failures, done), asio::detached);
  io.run();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%d commits by %d sessions in %.3f s: %.0f commits/s, %llu sync groups (%.1f commits per group), "
              "%d failures\n",
              done, sessions, seconds, done / seconds, static_cast<unsigned long long>(spool->group_commit().groups()),
              static_cast<double>(spool->group_commit().changes()) / std::max<uint64_t>(1, spool->group_commit().groups()),
              failures);
  return failures == 0 ? 0 : 1;
}
