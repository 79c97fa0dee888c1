// For the fleet unit tests: an io_context on two threads that keeps running (the Redis client reconnects in the
// background), a way to wait for an awaitable's value from the test thread with a deadline, and polling with a
// deadline for conditions that background work makes true.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

namespace smarthost::policy::redis::test {

class Loop {
 public:
  explicit Loop(int threads = 2) : guard_(io_.get_executor()) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~Loop() {
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }

  // The awaitable's value; throws when it takes longer than `timeout`.
  template <typename T>
  T sync(boost::asio::awaitable<T> work, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto future = boost::asio::co_spawn(io_, std::move(work), boost::asio::use_future);
    if (future.wait_for(timeout) != std::future_status::ready) throw std::runtime_error("awaitable timed out");
    return future.get();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

// Polls `condition` every 10 ms until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace smarthost::policy::redis::test
