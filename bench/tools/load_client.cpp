// LoadClient: deadline-bound connect, write and reply reading for the load generators (see load_client.h).
#include "bench/tools/load_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace smarthost::bench {

namespace asio = boost::asio;
using asio::ip::tcp;

std::shared_ptr<LoadClient> LoadClient::make(asio::any_io_executor executor) {
  return std::make_shared<LoadClient>(executor);
}

LoadClient::LoadClient(asio::any_io_executor executor) : socket_(executor), deadline_(executor) {}

void LoadClient::arm(std::chrono::milliseconds timeout) {
  const uint64_t generation = ++armed_;
  deadline_.expires_after(timeout);
  deadline_.async_wait([self = shared_from_this(), generation](std::error_code ec) {
    if (!ec && generation == self->armed_) {
      boost::system::error_code ignored;
      self->socket_.cancel(ignored);
    }
  });
}

void LoadClient::disarm() {
  ++armed_;
  deadline_.cancel();
}

asio::awaitable<std::error_code> LoadClient::connect(tcp::endpoint endpoint, std::chrono::milliseconds timeout) {
  arm(timeout);
  auto [ec] = co_await socket_.async_connect(endpoint, asio::as_tuple(asio::use_awaitable));
  disarm();
  if (!ec) {
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
  }
  co_return ec;
}

asio::awaitable<std::error_code> LoadClient::write(std::string_view bytes, std::string_view more,
                                                   std::chrono::milliseconds timeout) {
  arm(timeout);
  std::array<asio::const_buffer, 2> buffers{asio::buffer(bytes.data(), bytes.size()),
                                            asio::buffer(more.data(), more.size())};
  auto [ec, n] = co_await asio::async_write(socket_, buffers, asio::as_tuple(asio::use_awaitable));
  disarm();
  (void)n;
  co_return ec;
}

asio::awaitable<Reply> LoadClient::read_reply(std::chrono::milliseconds timeout) {
  Reply reply;
  arm(timeout);
  for (;;) {
    auto dynamic = asio::dynamic_buffer(buffer_, kMaxReply);
    auto [ec, n] = co_await asio::async_read_until(socket_, dynamic, "\r\n", asio::as_tuple(asio::use_awaitable));
    if (ec) {
      reply.error = ec;
      break;
    }
    std::string_view line(buffer_.data(), n);
    reply.text.append(line);
    const bool last = line.size() < 4 || line[3] != '-';
    if (last) {
      reply.code = line.size() >= 3 ? std::atoi(std::string(line.substr(0, 3)).c_str()) : 0;
      buffer_.erase(0, n);
      break;
    }
    buffer_.erase(0, n);
    if (reply.text.size() > kMaxReply) {
      reply.error = std::make_error_code(std::errc::message_size);
      break;
    }
  }
  disarm();
  co_return reply;
}

void LoadClient::close() {
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  deadline_.cancel();
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(values.size() - 1, lo + 1);
  double frac = rank - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

}  // namespace smarthost::bench
