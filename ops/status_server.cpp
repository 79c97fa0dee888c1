// The operations HTTP server (see status_server.h): one accept coroutine, one coroutine per connection on its own
// strand, Beast's parser with a header cap, and a deadline on every read and write.
#include "ops/status_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <stdexcept>

#include "smtpd/listen_address.h"

namespace smarthost::ops {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct StatusServer::State {
  State(asio::io_context& io_in, std::map<std::string, HttpRoute> routes_in, StatusServerLimits limits_in)
      : io(io_in), strand(asio::make_strand(io_in)), routes(std::move(routes_in)), limits(limits_in), acceptor(strand) {}
  asio::io_context& io;
  asio::strand<asio::io_context::executor_type> strand;  // the acceptor's
  const std::map<std::string, HttpRoute> routes;
  const StatusServerLimits limits;
  tcp::acceptor acceptor;
  std::atomic<std::size_t> connections{0};
  mutable std::mutex mutex;  // guards endpoint
  std::string endpoint;
};

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

http::response<http::string_body> answer(const std::shared_ptr<StatusServer::State>& state,
                                         const http::request<http::empty_body>& request) {
  http::response<http::string_body> response;
  response.version(request.version());
  response.set(http::field::server, "smarthost");
  response.set(http::field::cache_control, "no-store");
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    response.result(http::status::method_not_allowed);
    response.set(http::field::allow, "GET, HEAD");
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = "only GET and HEAD\n";
    return response;
  }
  std::string_view target(request.target().data(), request.target().size());
  std::string path(target.substr(0, target.find('?')));
  auto route = state->routes.find(path);
  if (route == state->routes.end()) {
    response.result(http::status::not_found);
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    std::string paths;
    for (const auto& [p, _] : state->routes) paths += " " + p;
    response.body() = "not found; try:" + paths + "\n";
    return response;
  }
  HttpAnswer a;
  try {
    a = route->second();
  } catch (const std::exception& e) {
    spdlog::error("http {}: {}", path, e.what());
    a = HttpAnswer{500, "text/plain; charset=utf-8", "internal error\n"};
  }
  response.result(a.status);
  response.set(http::field::content_type, a.content_type);
  response.body() = std::move(a.body);
  return response;
}

asio::awaitable<void> write_simple(beast::tcp_stream& stream, http::status status, std::string body,
                                   std::chrono::milliseconds timeout) {
  http::response<http::string_body> response{status, 11};
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.set(http::field::connection, "close");
  response.body() = std::move(body);
  response.prepare_payload();
  stream.expires_after(timeout);
  co_await http::async_write(stream, response, nothrow);
}

// One connection: requests one after the other (keep-alive), each read and write under its deadline.
asio::awaitable<void> serve_connection(std::shared_ptr<StatusServer::State> state, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer(state->limits.header_bytes + 1024);
  for (std::size_t served = 0; served < state->limits.max_requests_per_connection; ++served) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(state->limits.header_bytes));
    parser.body_limit(0);
    stream.expires_after(state->limits.read_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, nothrow);
    (void)n;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      co_await write_simple(stream, http::status::request_header_fields_too_large, "request headers too large\n",
                            state->limits.write_timeout);
      break;
    }
    if (ec == http::error::body_limit || ec == http::error::unexpected_body) {
      co_await write_simple(stream, http::status::payload_too_large, "no request bodies here\n",
                            state->limits.write_timeout);
      break;
    }
    if (ec) break;  // closed, timed out or malformed: nothing more to say
    const auto& request = parser.get();
    auto response = answer(state, request);
    bool keep_alive = request.keep_alive();
    response.keep_alive(keep_alive);
    response.prepare_payload();
    if (request.method() == http::verb::head) response.body().clear();
    stream.expires_after(state->limits.write_timeout);
    auto [wec, written] = co_await http::async_write(stream, response, nothrow);
    (void)written;
    if (wec || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

asio::awaitable<void> accept_loop(std::shared_ptr<StatusServer::State> state) {
  for (;;) {
    auto [ec, socket] = co_await state->acceptor.async_accept(asio::make_strand(state->io), nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !state->acceptor.is_open()) co_return;
      spdlog::warn("http: accept failed: {}", ec.message());
      asio::steady_timer pause(state->io, std::chrono::milliseconds(100));
      co_await pause.async_wait(nothrow);
      continue;
    }
    if (state->connections.load() >= state->limits.max_connections) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++state->connections;
    auto executor = socket.get_executor();
    asio::co_spawn(executor, serve_connection(state, std::move(socket)), [state](std::exception_ptr error) {
      --state->connections;
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        spdlog::error("http: connection failed: {}", e.what());
      }
    });
  }
}

}  // namespace

StatusServer::StatusServer(asio::io_context& io, std::map<std::string, HttpRoute> routes, StatusServerLimits limits)
    : state_(std::make_shared<State>(io, std::move(routes), limits)) {}

StatusServer::~StatusServer() { stop(); }

void StatusServer::start(const std::string& listen) {
  auto address = smtpd::parse_listen_address(listen);
  if (!address || address->unix_socket) throw std::runtime_error("metrics.listen: '" + listen + "' is not host:port");
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address->host, ec);
  if (ec) throw std::runtime_error("metrics.listen: '" + listen + "': " + ec.message());
  tcp::endpoint endpoint(ip, address->port);
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor.close();
    throw std::runtime_error("cannot listen on " + listen + " for metrics and health: " + ec.message());
  }
  auto bound = acceptor.local_endpoint(ec);
  {
    std::lock_guard lock(state_->mutex);
    state_->endpoint = bound.address().is_v6() ? "[" + bound.address().to_string() + "]:" + std::to_string(bound.port())
                                               : bound.address().to_string() + ":" + std::to_string(bound.port());
  }
  asio::co_spawn(state_->strand, accept_loop(state_), [](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("http: the listener stopped: {}", e.what());
    }
  });
}

void StatusServer::stop() {
  auto state = state_;
  asio::post(state->strand, [state] {
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
  });
}

std::string StatusServer::endpoint() const {
  std::lock_guard lock(state_->mutex);
  return state_->endpoint;
}

}  // namespace smarthost::ops
