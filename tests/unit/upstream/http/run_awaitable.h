// Runs one awaitable to completion on a test's io_context and returns its value (rethrowing its exception).
// Stops at a deadline so that a hung coroutine fails the test instead of hanging it.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>

namespace smarthost::test {

template <typename T>
T run_awaitable(boost::asio::io_context& io, boost::asio::awaitable<T> work,
                std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
  std::optional<T> result;
  std::exception_ptr error;
  bool done = false;
  boost::asio::co_spawn(io, std::move(work), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result = std::move(value);
    done = true;
  });
  auto until = std::chrono::steady_clock::now() + deadline;
  io.restart();
  while (!done && std::chrono::steady_clock::now() < until) io.run_one_for(std::chrono::milliseconds(50));
  if (!done) throw std::runtime_error("awaitable did not finish before the deadline");
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

}  // namespace smarthost::test
