// The Beast side of FakeHttpServer: an acceptor and one coroutine per connection on a private io_context thread.
// Requests are read whole (bodies up to 128 MB), recorded, handed to the responder and answered in order.
#include "tests/support/fake_providers/fake_http_server.h"


#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <strings.h>
#include <thread>

#include "upstream/http/gzip.h"

namespace smarthost::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string HttpExchange::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0) return v;
  return {};
}

std::string gunzip(std::string_view data) { return upstream::http::gzip_decompress(data).value_or(std::string()); }

struct FakeHttpServer::State {
  Responder responder;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::optional<asio::ssl::context> tls;
  std::thread thread;
  uint16_t port = 0;
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::vector<HttpExchange> exchanges;
  std::atomic<std::size_t> connections{0};

  template <typename Stream>
  asio::awaitable<void> serve(Stream& stream, std::size_t index) {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(128ull * 1024 * 1024);
      auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
      if (ec) co_return;
      auto& request = parser.get();
      HttpExchange exchange;
      exchange.method = std::string(request.method_string());
      exchange.target = std::string(request.target());
      for (const auto& field : request) exchange.headers.emplace_back(field.name_string(), field.value());
      exchange.body = std::move(request.body());
      exchange.connection = index;
      if (exchange.header("Content-Encoding") == "gzip") {
        exchange.body = gunzip(exchange.body);
        exchange.body_was_gzip = true;
      }
      FakeAnswer answer = responder(exchange);
      {
        std::lock_guard lock(mutex);
        exchanges.push_back(exchange);
      }
      changed.notify_all();
      if (answer.delay.count() > 0) {
        asio::steady_timer timer(co_await asio::this_coro::executor, answer.delay);
        co_await timer.async_wait(kTuple);
      }
      if (answer.drop) co_return;
      bhttp::response<bhttp::string_body> response{static_cast<bhttp::status>(answer.status), request.version()};
      response.set(bhttp::field::server, "fake-provider");
      for (const auto& [name, value] : answer.headers) response.insert(name, value);
      if (!answer.body.empty() && response.find(bhttp::field::content_type) == response.end())
        response.set(bhttp::field::content_type, "application/json");
      response.body() = std::move(answer.body);
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      auto [wec, written] = co_await bhttp::async_write(stream, response, kTuple);
      if (wec || !response.keep_alive()) co_return;
    }
  }

  asio::awaitable<void> connection(tcp::socket socket, std::size_t index) {
    if (tls) {
      asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls);
      auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
      if (ec) co_return;
      co_await serve(stream, index);
      co_await stream.async_shutdown(kTuple);
    } else {
      co_await serve(socket, index);
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kTuple);
      if (ec) co_return;
      std::size_t index = connections.fetch_add(1);
      asio::co_spawn(io, connection(std::move(socket), index), asio::detached);
    }
  }
};

FakeHttpServer::FakeHttpServer(Responder responder, uint16_t port, const FakeTls* tls)
    : state_(std::make_shared<State>()) {
  state_->responder = std::move(responder);
  if (tls) {
    state_->tls.emplace(asio::ssl::context::tls_server);
    state_->tls->use_certificate_chain_file(tls->certificate_file);
    state_->tls->use_private_key_file(tls->private_key_file, asio::ssl::context::pem);
  }
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  state_->acceptor.open(endpoint.protocol());
  state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  state_->acceptor.bind(endpoint);
  state_->acceptor.listen();
  state_->port = state_->acceptor.local_endpoint().port();
  asio::co_spawn(state_->io, state_->accept_loop(), asio::detached);
  state_->thread = std::thread([state = state_] { state->io.run(); });
}

FakeHttpServer::~FakeHttpServer() {
  state_->io.stop();
  if (state_->thread.joinable()) state_->thread.join();
}

uint16_t FakeHttpServer::port() const { return state_->port; }

std::string FakeHttpServer::base_url() const {
  return std::string(state_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(state_->port);
}

std::vector<HttpExchange> FakeHttpServer::exchanges() const {
  std::lock_guard lock(state_->mutex);
  return state_->exchanges;
}

std::size_t FakeHttpServer::connections() const { return state_->connections.load(); }

bool FakeHttpServer::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mutex);
  return state_->changed.wait_for(lock, timeout, [&] { return state_->exchanges.size() >= n; });
}

}  // namespace smarthost::test
