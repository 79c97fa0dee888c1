// The client side of one SMTP connection for the load generators: connect, write, read a whole reply, each with
// a deadline (a timer that cancels the socket). It speaks no protocol of its own; smtp_load and idle_connections
// decide what to send. Not thread-safe; one per coroutine.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace smarthost::bench {

struct Reply {
  std::error_code error;  // timeout (operation_aborted), reset, EOF, or a reply over the size cap
  int code = 0;           // the last line's three-digit code
  std::string text;       // every line, CRLF included
};

// Always held by a shared_ptr (make()): a pending deadline keeps its client alive until it has run.
class LoadClient : public std::enable_shared_from_this<LoadClient> {
 public:
  static constexpr size_t kMaxReply = 64 * 1024;

  static std::shared_ptr<LoadClient> make(boost::asio::any_io_executor executor);
  explicit LoadClient(boost::asio::any_io_executor executor);

  boost::asio::awaitable<std::error_code> connect(boost::asio::ip::tcp::endpoint endpoint,
                                                  std::chrono::milliseconds timeout);
  // Writes `bytes` then `more` in one gathered write.
  boost::asio::awaitable<std::error_code> write(std::string_view bytes, std::string_view more,
                                                std::chrono::milliseconds timeout);
  // Reads one complete reply: lines "ddd-..." up to the last "ddd ...".
  boost::asio::awaitable<Reply> read_reply(std::chrono::milliseconds timeout);
  void close();

 private:
  void arm(std::chrono::milliseconds timeout);
  void disarm();

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer deadline_;
  std::string buffer_;  // bytes read past the last complete reply
  uint64_t armed_ = 0;  // generation of the current deadline; a stale expiry must not cancel a later operation
};

// The p-th percentile (0..100) of `values`, which it sorts; 0 for none.
double percentile(std::vector<double>& values, double p);

}  // namespace smarthost::bench
