// The connection's byte streams (TCP, TLS over TCP, unix socket) and the RESP codec from hiredis: commands are
// formatted with redisFormatCommandArgv and replies parsed with a redisReader fed from async reads.
#include "policy/redis/redis_connection.h"

#include <hiredis/hiredis.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <vector>

#include "upstream/smtp/tls_context.h"

namespace smarthost::policy::redis {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::string; break;
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::status; break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::error; break;
    case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::integer; break;
    case REDIS_REPLY_ARRAY: out.type = RedisReply::Type::array; break;
    default: out.type = RedisReply::Type::nil; break;
  }
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR) {
    out.text.assign(r->str, r->len);
  } else if (r->type == REDIS_REPLY_INTEGER) {
    out.integer = r->integer;
  } else if (r->type == REDIS_REPLY_ARRAY) {
    out.elements.reserve(r->elements);
    for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
  }
  return out;
}

struct ReaderDeleter {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};

}  // namespace

struct RedisConnection::Impl {
  Impl(asio::any_io_executor ex, std::shared_ptr<asio::ssl::context> t, bool v)
      : executor(std::move(ex)), tls(std::move(t)), verify(v), reader(redisReaderCreate()) {}

  asio::any_io_executor executor;
  std::shared_ptr<asio::ssl::context> tls;
  bool verify = true;
  std::unique_ptr<tcp::socket> plain;
  std::unique_ptr<asio::ssl::stream<tcp::socket>> secure;
  std::unique_ptr<asio::local::stream_protocol::socket> local;
  std::unique_ptr<redisReader, ReaderDeleter> reader;
  size_t unparsed = 0;  // bytes fed since the last complete reply
  std::array<char, 16 * 1024> buffer{};

  void close() {
    error_code ignored;
    if (plain) plain->close(ignored);
    if (secure) secure->lowest_layer().close(ignored);
    if (local) local->close(ignored);
  }

  asio::awaitable<std::string> connect_tcp(const RedisEndpoint& e) {
    tcp::resolver resolver(executor);
    auto [rec, results] = co_await resolver.async_resolve(e.host, std::to_string(e.port), kTuple);
    if (rec) co_return "cannot resolve " + e.host + ": " + rec.message();
    tcp::socket* socket = nullptr;
    if (e.kind == RedisEndpoint::Kind::tls) {
      if (!tls) co_return "no TLS context for rediss://";
      secure = std::make_unique<asio::ssl::stream<tcp::socket>>(executor, *tls);
      socket = &secure->next_layer();
    } else {
      plain = std::make_unique<tcp::socket>(executor);
      socket = plain.get();
    }
    auto [cec, endpoint] = co_await asio::async_connect(*socket, results, kTuple);
    (void)endpoint;
    if (cec) co_return "cannot connect: " + cec.message();
    socket->set_option(tcp::no_delay(true));
    if (secure) {
      if (!upstream::smtp::prepare_tls_connection(secure->native_handle(), e.host, verify))
        co_return "TLS set-up refused for " + e.host;
      auto [hec] = co_await secure->async_handshake(asio::ssl::stream_base::client, kTuple);
      if (hec) co_return "TLS handshake failed: " + upstream::smtp::tls_failure_reason(secure->native_handle(), hec.message());
    }
    co_return "";
  }

  asio::awaitable<std::string> connect_unix(const RedisEndpoint& e) {
    local = std::make_unique<asio::local::stream_protocol::socket>(executor);
    auto [ec] = co_await local->async_connect(asio::local::stream_protocol::endpoint(e.path), kTuple);
    if (ec) co_return "cannot connect to " + e.path + ": " + ec.message();
    co_return "";
  }

  asio::awaitable<std::pair<error_code, size_t>> read_some() {
    auto buf = asio::buffer(buffer);
    if (plain) {
      auto [ec, n] = co_await plain->async_read_some(buf, kTuple);
      co_return std::pair{ec, n};
    }
    if (secure) {
      auto [ec, n] = co_await secure->async_read_some(buf, kTuple);
      co_return std::pair{ec, n};
    }
    if (local) {
      auto [ec, n] = co_await local->async_read_some(buf, kTuple);
      co_return std::pair{ec, n};
    }
    co_return std::pair{error_code(asio::error::not_connected), size_t{0}};
  }
};

RedisConnection::RedisConnection(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls, bool verify)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(tls), verify)) {}

RedisConnection::~RedisConnection() { impl_->close(); }

void RedisConnection::close() { impl_->close(); }

asio::awaitable<std::string> RedisConnection::connect(const RedisEndpoint& endpoint, std::chrono::milliseconds timeout) {
  auto impl = impl_;
  // The watchdog closes the socket when the deadline passes, which ends whatever step is pending.
  auto expired = std::make_shared<bool>(false);
  asio::steady_timer watchdog(impl->executor, timeout);
  watchdog.async_wait([impl, expired](error_code ec) {
    if (ec) return;
    *expired = true;
    impl->close();
  });
  std::string why;
  if (endpoint.kind == RedisEndpoint::Kind::unix_socket) {
    why = co_await impl->connect_unix(endpoint);
  } else {
    why = co_await impl->connect_tcp(endpoint);
  }
  watchdog.cancel();
  if (*expired) why = "no connection within " + std::to_string(timeout.count()) + "ms";
  co_return why;
}

asio::awaitable<error_code> RedisConnection::write(std::string bytes) {
  auto impl = impl_;
  auto buf = asio::buffer(bytes);
  if (impl->plain) {
    auto [ec, n] = co_await asio::async_write(*impl->plain, buf, kTuple);
    co_return ec;
  }
  if (impl->secure) {
    auto [ec, n] = co_await asio::async_write(*impl->secure, buf, kTuple);
    co_return ec;
  }
  if (impl->local) {
    auto [ec, n] = co_await asio::async_write(*impl->local, buf, kTuple);
    co_return ec;
  }
  co_return error_code(asio::error::not_connected);
}

asio::awaitable<std::pair<error_code, RedisReply>> RedisConnection::read() {
  auto impl = impl_;
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(impl->reader.get(), &raw) != REDIS_OK) {
      co_return std::pair{error_code(asio::error::invalid_argument), RedisReply{}};
    }
    if (raw) {
      auto* reply = static_cast<redisReply*>(raw);
      RedisReply out = convert(reply);
      freeReplyObject(reply);
      impl->unparsed = 0;
      co_return std::pair{error_code(), std::move(out)};
    }
    if (impl->unparsed > kMaxReplyBytes) {
      co_return std::pair{error_code(asio::error::message_size), RedisReply{}};
    }
    auto [ec, n] = co_await impl->read_some();
    if (ec) co_return std::pair{ec, RedisReply{}};
    impl->unparsed += n;
    if (redisReaderFeed(impl->reader.get(), impl->buffer.data(), n) != REDIS_OK) {
      co_return std::pair{error_code(asio::error::invalid_argument), RedisReply{}};
    }
  }
}

std::string RedisConnection::format(std::span<const std::string> args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  char* command = nullptr;
  int length = redisFormatCommandArgv(&command, static_cast<int>(args.size()), argv.data(), lengths.data());
  if (length < 0 || !command) return {};
  std::string out(command, static_cast<size_t>(length));
  redisFreeCommand(command);
  return out;
}

}  // namespace smarthost::policy::redis
