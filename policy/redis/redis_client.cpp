// The client's strand holds everything: the live connection (or none), the calls in flight in send order, the
// bytes waiting to be written. A reader coroutine per connection hands replies to calls in order; a call that
// outlives its timer gives up and, Redis being slow, takes the connection down with it; maintain() reconnects.
#include "policy/redis/redis_client.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <exception>
#include <random>

namespace smarthost::policy::redis {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string sha1_hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), md, &length, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < length; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

void log_escaped(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("redis: {} ended by an exception: {}", what, ex.what());
  }
}

struct Call {
  explicit Call(asio::any_io_executor ex) : timer(std::move(ex)) {}
  asio::steady_timer timer;
  RedisResult result;
  bool done = false;
};

}  // namespace

RedisScript::RedisScript(std::string text) : body(std::move(text)), sha1(sha1_hex(body)) {}

struct RedisClient::Inner {
  explicit Inner(asio::any_io_executor ex)
      : strand(asio::make_strand(ex)), wake(strand), backoff(strand), rng(std::random_device{}()) {}

  asio::strand<asio::any_io_executor> strand;
  std::shared_ptr<RedisConnection> connection;  // set while connected (after the hello)
  std::shared_ptr<RedisConnection> candidate;   // the one being connected, so stop() can close it
  uint64_t generation = 0;                      // which connection the loops belong to
  std::deque<std::shared_ptr<Call>> in_flight;  // sent (or queued in `out`) and waiting, in order
  std::string out;
  bool writing = false;
  asio::steady_timer wake;     // maintain() waits on it while connected; cancelled when the connection is lost
  asio::steady_timer backoff;  // maintain() waits on it between attempts
  bool started = false, stopped = false;
  StateListener listener;
  std::minstd_rand rng;
};

std::shared_ptr<RedisClient> RedisClient::create(asio::any_io_executor executor, RedisClientSettings settings) {
  return std::shared_ptr<RedisClient>(new RedisClient(std::move(executor), std::move(settings)));
}

RedisClient::RedisClient(asio::any_io_executor executor, RedisClientSettings settings)
    : settings_(std::move(settings)), inner_(std::make_unique<Inner>(std::move(executor))) {}

RedisClient::~RedisClient() = default;

void RedisClient::on_state(StateListener listener) { inner_->listener = std::move(listener); }

void RedisClient::start() {
  auto self = shared_from_this();
  asio::post(inner_->strand, [self] {
    if (self->inner_->started || self->inner_->stopped) return;
    self->inner_->started = true;
    asio::co_spawn(self->inner_->strand, maintain(self), [](std::exception_ptr e) { log_escaped(e, "reconnect loop"); });
  });
}

void RedisClient::stop() {
  auto self = shared_from_this();
  asio::post(inner_->strand, [self] {
    auto& in = *self->inner_;
    in.stopped = true;
    if (in.candidate) in.candidate->close();
    self->connection_failed("client stopped");
    in.backoff.cancel();
  });
}

void RedisClient::connection_failed(const std::string& why) {
  auto& in = *inner_;
  if (!in.connection) return;
  in.connection->close();
  in.connection.reset();
  ++in.generation;
  connected_ = false;
  in.out.clear();
  in.writing = false;
  // Calls in flight will get no reply on this connection.
  for (auto& call : in.in_flight) {
    if (call->done) continue;
    call->done = true;
    call->result.failure = RedisFailure::lost;
    call->timer.cancel();
  }
  in.in_flight.clear();
  in.wake.cancel();
  if (in.listener) in.listener(false, why);
}

asio::awaitable<std::string> RedisClient::hello(std::shared_ptr<RedisClient> self,
                                                std::shared_ptr<RedisConnection> connection) {
  const auto& e = self->settings_.endpoint;
  std::vector<std::vector<std::string>> commands;
  if (!e.password.empty()) {
    if (e.username.empty()) {
      commands.push_back({"AUTH", e.password});
    } else {
      commands.push_back({"AUTH", e.username, e.password});
    }
  }
  if (e.db != 0) commands.push_back({"SELECT", std::to_string(e.db)});
  commands.push_back({"PING"});
  std::string bytes;
  for (const auto& c : commands) bytes += RedisConnection::format(c);

  auto expired = std::make_shared<bool>(false);
  asio::steady_timer watchdog(self->inner_->strand, self->settings_.timeout);
  watchdog.async_wait([connection, expired](error_code ec) {
    if (ec) return;
    *expired = true;
    connection->close();
  });
  std::string why;
  auto write = connection->write(std::move(bytes));
  error_code wec = co_await std::move(write);
  if (wec) why = "cannot send the hello: " + wec.message();
  for (size_t i = 0; why.empty() && i < commands.size(); ++i) {
    auto [ec, reply] = co_await connection->read();
    if (ec) {
      why = "no answer to " + commands[i][0] + ": " + ec.message();
    } else if (reply.is_error()) {
      why = commands[i][0] + " refused: " + reply.text;
    }
  }
  watchdog.cancel();
  if (*expired) why = "no answer to the hello within " + std::to_string(self->settings_.timeout.count()) + "ms";
  co_return why;
}

asio::awaitable<void> RedisClient::maintain(std::shared_ptr<RedisClient> self) {
  auto& in = *self->inner_;
  const auto& s = self->settings_;
  auto backoff = s.min_backoff;
  while (!in.stopped) {
    auto connection = std::make_shared<RedisConnection>(in.strand, s.tls, s.verify_certificates);
    in.candidate = connection;
    std::string why = co_await connection->connect(s.endpoint, s.timeout);
    if (why.empty() && !in.stopped) {
      auto greet = hello(self, connection);  // a named awaitable: no shared_ptr temporaries across co_await
      why = co_await std::move(greet);
    }
    in.candidate.reset();
    if (in.stopped) {
      connection->close();
      break;
    }
    if (why.empty()) {
      in.connection = connection;
      self->connected_ = true;
      ++self->stats_.connects;
      const uint64_t generation = ++in.generation;
      backoff = s.min_backoff;
      if (in.listener) in.listener(true, "");
      asio::co_spawn(in.strand, read_loop(self, generation), [](std::exception_ptr e) { log_escaped(e, "reader"); });
      if (!in.out.empty() && !in.writing) {
        in.writing = true;
        asio::co_spawn(in.strand, write_loop(self, generation), [](std::exception_ptr e) { log_escaped(e, "writer"); });
      }
      while (in.generation == generation && !in.stopped) {
        in.wake.expires_at(asio::steady_timer::time_point::max());
        co_await in.wake.async_wait(kTuple);
      }
    } else {
      connection->close();
      ++self->stats_.connect_failures;
      spdlog::debug("redis: {} unreachable: {}", s.endpoint.describe(), why);
      if (in.listener) in.listener(false, why);
    }
    if (in.stopped) break;
    // Full jitter between half the backoff and the backoff, so a fleet does not reconnect in step.
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    auto wait = std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(backoff.count()) * jitter(in.rng)));
    in.backoff.expires_after(wait);
    co_await in.backoff.async_wait(kTuple);
    backoff = std::min(s.max_backoff, backoff * 2);
  }
}

asio::awaitable<void> RedisClient::read_loop(std::shared_ptr<RedisClient> self, uint64_t generation) {
  auto& in = *self->inner_;
  auto connection = in.connection;
  while (in.generation == generation) {
    auto [ec, reply] = co_await connection->read();
    if (in.generation != generation) break;
    if (ec) {
      self->connection_failed("connection lost: " + ec.message());
      break;
    }
    if (in.in_flight.empty()) {
      self->connection_failed("a reply nobody asked for");
      break;
    }
    auto call = std::move(in.in_flight.front());
    in.in_flight.pop_front();
    if (call->done) continue;  // its caller gave up already
    call->done = true;
    call->result.reply = std::move(reply);
    call->timer.cancel();
  }
}

asio::awaitable<void> RedisClient::write_loop(std::shared_ptr<RedisClient> self, uint64_t generation) {
  auto& in = *self->inner_;
  auto connection = in.connection;
  while (in.generation == generation && !in.out.empty()) {
    std::string bytes;
    bytes.swap(in.out);
    auto write = connection->write(std::move(bytes));
    error_code ec = co_await std::move(write);
    if (in.generation != generation) co_return;
    if (ec) {
      self->connection_failed("cannot write: " + ec.message());
      co_return;
    }
  }
  if (in.generation == generation) in.writing = false;
}

asio::awaitable<RedisResult> RedisClient::call_on_strand(std::shared_ptr<RedisClient> self, std::string bytes) {
  auto& in = *self->inner_;
  RedisResult result;
  if (!in.connection || in.stopped) {
    result.failure = RedisFailure::down;
    co_return result;
  }
  if (in.in_flight.size() >= self->settings_.max_pending) {
    result.failure = RedisFailure::overloaded;
    co_return result;
  }
  auto call = std::make_shared<Call>(in.strand);
  call->timer.expires_after(self->settings_.timeout);
  in.in_flight.push_back(call);
  in.out += bytes;
  if (!in.writing) {
    in.writing = true;
    asio::co_spawn(in.strand, write_loop(self, in.generation), [](std::exception_ptr e) { log_escaped(e, "writer"); });
  }
  co_await call->timer.async_wait(kTuple);
  if (!call->done) {
    call->done = true;
    call->result.failure = RedisFailure::timeout;
    ++self->stats_.timeouts;
    self->connection_failed("no reply within " + std::to_string(self->settings_.timeout.count()) + "ms");
  }
  co_return std::move(call->result);
}

asio::awaitable<RedisResult> RedisClient::call(std::vector<std::string> args) {
  auto self = shared_from_this();
  ++stats_.calls;
  std::string bytes = RedisConnection::format(args);
  auto op = call_on_strand(self, std::move(bytes));
  RedisResult result = co_await asio::co_spawn(inner_->strand, std::move(op), asio::use_awaitable);
  if (result.failure != RedisFailure::none) ++stats_.failures;
  co_return result;
}

asio::awaitable<RedisResult> RedisClient::eval(const RedisScript& script, std::vector<std::string> keys,
                                               std::vector<std::string> args) {
  std::vector<std::string> command{"EVALSHA", script.sha1, std::to_string(keys.size())};
  for (auto& k : keys) command.push_back(std::move(k));
  for (auto& a : args) command.push_back(std::move(a));
  auto first = call(command);
  RedisResult result = co_await std::move(first);
  if (result.failure == RedisFailure::none && result.reply.is_error() && result.reply.text.starts_with("NOSCRIPT")) {
    // The server lost its script cache (restart, SCRIPT FLUSH, failover): load it and try once more.
    std::vector<std::string> load_command{"SCRIPT", "LOAD", script.body};
    auto load = call(std::move(load_command));
    RedisResult loaded = co_await std::move(load);
    if (!loaded.ok()) co_return loaded;
    auto again = call(std::move(command));
    result = co_await std::move(again);
  }
  co_return result;
}

}  // namespace smarthost::policy::redis
