// Test doubles for the queue tests: a clock moved by hand, a scriptable Transport that records what it was
// handed, and helpers that run an io_context until a condition holds (bounded, never a fixed sleep).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "queue/clock.h"
#include "queue/fs_spool.h"
#include "upstream/transport.h"

namespace smarthost::queue::test {

namespace asio = boost::asio;
using std::chrono::system_clock;

class ManualClock final : public Clock {
 public:
  explicit ManualClock(system_clock::time_point start = system_clock::time_point(std::chrono::seconds(1'700'000'000)))
      : now_(start.time_since_epoch().count()) {}
  system_clock::time_point now() const override {
    return system_clock::time_point(system_clock::duration(now_.load()));
  }
  void advance(system_clock::duration by) { now_ += by.count(); }

 private:
  std::atomic<system_clock::rep> now_;
};

// Runs handlers until `done()` holds; false after `timeout` (a test failure, not a timing assumption).
inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Runs every handler that is ready now (and those they make ready), without waiting for timers.
inline void run_ready(asio::io_context& io) {
  if (io.stopped()) io.restart();
  while (io.poll() > 0) {
  }
}

inline std::string read_range(const std::string& path, uint64_t offset) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline mail::Envelope envelope(std::string from, std::vector<std::string> to) {
  mail::Envelope env;
  env.mail_from = std::move(from);
  for (auto& address : to) env.recipients.push_back(mail::Recipient{std::move(address), {}, {}});
  env.client_address = "192.0.2.7";
  env.client_helo = "client.example";
  return env;
}

inline std::string sample_message(std::string_view subject = "hello") {
  return "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: " + std::string(subject) +
         "\r\nMessage-ID: <m1@example.org>\r\n\r\nBody line one.\r\nBody line two.\r\n";
}

// Commits what `writer` holds, running `io` until the commit completes.
inline CommitResult commit_writer(asio::io_context& io, SpoolWriter& writer, const mail::Envelope& env) {
  std::optional<CommitResult> result;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { result = co_await writer.commit(env); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  EXPECT_TRUE(run_until(io, [&] { return result.has_value(); }));
  return result.value_or(CommitResult{std::make_error_code(std::errc::timed_out), {}});
}

// Writes and commits one message, running `io` until the commit completes.
inline CommitResult commit(asio::io_context& io, FsSpool& spool, const mail::Envelope& env, std::string_view content,
                           system_clock::time_point received = {}) {
  std::error_code error;
  auto writer = spool.begin(error);
  EXPECT_TRUE(writer) << error.message();
  if (!writer) return CommitResult{error, {}};
  writer->append(content);
  mail::Envelope copy = env;
  copy.received_at = received;
  return commit_writer(io, *writer, copy);
}

// The content of the message `id` in active/ as stored; empty (and a test failure) when it cannot be loaded.
inline std::string stored_content(const FsSpool& spool, const QueueId& id) {
  std::error_code error;
  auto message = spool.dir().load(Folder::active, id, error);
  EXPECT_TRUE(message) << error.message();
  return message ? read_range(message->content_path, message->content_offset) : std::string();
}

// A Transport whose answers come from `script`; it records every message (and its content) handed to it.
// With gate() set, each call waits until release() so tests can look at deliveries in flight.
class FakeTransport final : public upstream::Transport {
 public:
  using Script = std::function<upstream::DeliveryResult(const upstream::OutboundMessage&, size_t call)>;

  explicit FakeTransport(asio::io_context& io) : gate_(io) { gate_.expires_at(asio::steady_timer::time_point::max()); }

  Script script = [](const upstream::OutboundMessage& message, size_t) { return deliver_all(message); };
  std::vector<upstream::OutboundMessage> calls;  // every message handed in, in order
  std::vector<std::string> contents;             // the content of each, read at delivery time
  std::vector<size_t> batch_sizes;               // one entry per deliver_batch() call
  size_t in_flight = 0;
  size_t max_in_flight = 0;
  size_t retry_now_calls = 0;
  bool gated = false;

  void release() { gate_.cancel(); }

  asio::awaitable<upstream::DeliveryResult> deliver(const upstream::OutboundMessage& message) override {
    auto result = co_await answer(message);
    co_return result;
  }

  asio::awaitable<std::vector<upstream::DeliveryResult>> deliver_batch(
      std::span<const upstream::OutboundMessage> batch) override {
    batch_sizes.push_back(batch.size());
    std::vector<upstream::DeliveryResult> results;
    for (const auto& message : batch) results.push_back(co_await answer(message));
    co_return results;
  }

  const std::string& name() const override { return name_; }
  void retry_now() override { ++retry_now_calls; }

  static upstream::DeliveryResult deliver_all(const upstream::OutboundMessage& message) {
    return answer_all(message, upstream::Outcome::delivered, "250 2.0.0 Ok: queued");
  }

  static upstream::DeliveryResult answer_all(const upstream::OutboundMessage& message, upstream::Outcome outcome,
                                             std::string reply) {
    upstream::DeliveryResult result;
    result.outcome = outcome;
    result.reply = reply;
    for (const auto& recipient : message.envelope.recipients)
      result.recipients.push_back(upstream::RecipientResult{recipient.address, outcome, reply});
    return result;
  }

 private:
  asio::awaitable<upstream::DeliveryResult> answer(const upstream::OutboundMessage& message) {
    size_t call = calls.size();
    calls.push_back(message);
    contents.push_back(read_range(message.content_path, message.content_offset));
    ++in_flight;
    max_in_flight = std::max(max_in_flight, in_flight);
    if (gated) co_await gate_.async_wait(asio::as_tuple(asio::use_awaitable));
    --in_flight;
    co_return script(message, call);
  }

  asio::steady_timer gate_;
  std::string name_ = "fake0";
};

// Entries in a directory.
inline size_t count_files(const std::filesystem::path& dir) {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++count;
  return count;
}

// Opens a spool, failing the test (and returning null) when it cannot.
inline std::unique_ptr<FsSpool> open_spool(const std::filesystem::path& root, FsSpoolOptions options = {}) {
  std::error_code error;
  auto spool = FsSpool::open(root, std::move(options), error);
  EXPECT_TRUE(spool) << error.message();
  return spool;
}

// Delivers (removes as the scheduler does after a delivery) one message through the spool, running `io`.
inline std::error_code remove_delivered(asio::io_context& io, FsSpool& spool, const QueueId& id) {
  std::error_code error;
  auto message = spool.dir().load(Folder::active, id, error);
  EXPECT_TRUE(message) << error.message();
  if (!message) return error;
  std::optional<std::error_code> removed;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { removed = co_await spool.apply(spool.dir().removal_change(*message, false)); },
      asio::detached);
  EXPECT_TRUE(test::run_until(io, [&] { return removed.has_value(); }));
  return removed.value_or(std::make_error_code(std::errc::timed_out));
}

inline ino_t inode_of(const std::filesystem::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

}  // namespace smarthost::queue::test
