// The per-upstream SMTP connection pool (see the header).
#include "upstream/smtp/connection_pool.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace smarthost::upstream::smtp {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

void log_escaped(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("smtp pool: {} failed: {}", what, ex.what());
  }
}

}  // namespace

ConnectionPool::ConnectionPool(asio::any_io_executor executor, PoolLimits limits, Factory factory)
    : executor_(std::move(executor)), limits_(limits), factory_(std::move(factory)) {
  if (limits_.max_connections == 0) limits_.max_connections = 1;
  limits_.max_idle_connections = std::min(limits_.max_idle_connections, limits_.max_connections);
}

ConnectionPool::~ConnectionPool() { shutdown(); }

void ConnectionPool::shutdown() {
  shut_down_ = true;
  for (auto& c : idle_) c->close();
  stats_.open_now -= static_cast<uint32_t>(std::min<size_t>(idle_.size(), stats_.open_now));
  idle_.clear();
  if (sweep_timer_) std::static_pointer_cast<asio::steady_timer>(sweep_timer_)->cancel();
  for (auto& w : waiters_) std::static_pointer_cast<asio::steady_timer>(w)->cancel();
  waiters_.clear();
}

void ConnectionPool::wake_one() {
  if (waiters_.empty()) return;
  std::static_pointer_cast<asio::steady_timer>(waiters_.front())->cancel();
  waiters_.pop_front();
}

asio::awaitable<Lease> ConnectionPool::acquire() {
  auto self = shared_from_this();
  const auto deadline = Clock::now() + limits_.wait_timeout;
  while (!shut_down_) {
    while (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      const auto idle_for = Clock::now() - connection->idle_since;
      if (idle_for < limits_.idle_timeout && idle_for < limits_.probe_after_idle && connection->clean()) {
        ++stats_.reused;
        co_return Lease{std::move(connection), std::nullopt, true};
      }
      if (idle_for < limits_.idle_timeout && co_await connection->probe()) {
        ++stats_.reused;
        co_return Lease{std::move(connection), std::nullopt};
      }
      ++stats_.replaced;  // broken or stale: replace it transparently
      connection->close();
      --stats_.open_now;
      wake_one();
    }
    if (stats_.open_now < limits_.max_connections) {
      ++stats_.open_now;
      stats_.peak_open = std::max(stats_.peak_open, stats_.open_now);
      auto connection = factory_();
      auto failure = co_await connection->open();
      if (!failure) {
        ++stats_.opened;
        co_return Lease{std::move(connection), std::nullopt};
      }
      ++stats_.open_failures;
      --stats_.open_now;
      wake_one();
      co_return Lease{nullptr, std::move(failure)};
    }
    if (Clock::now() >= deadline) break;
    auto timer = std::make_shared<asio::steady_timer>(executor_, deadline);
    waiters_.push_back(timer);
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    waiters_.remove(timer);
  }
  co_return Lease{nullptr, SessionFailure{SmtpStage::connect,
                                          make_reply(451, "4.4.5",
                                                     "smarthost: all " + std::to_string(limits_.max_connections) +
                                                         " connections to the upstream are busy"),
                                          {Outcome::temporary, false, true}}};
}

void ConnectionPool::release(std::shared_ptr<SmtpConnection> connection) {
  if (!connection) return;
  if (!shut_down_ && connection->usable() && idle_.size() < limits_.max_idle_connections) {
    connection->idle_since = Clock::now();
    idle_.push_back(std::move(connection));
    schedule_idle_sweep();
    wake_one();
    return;
  }
  retire(std::move(connection), true);
}

void ConnectionPool::retire(std::shared_ptr<SmtpConnection> connection, bool polite) {
  if (!polite || !connection->usable()) {
    connection->close();
    --stats_.open_now;
    wake_one();
    return;
  }
  // The slot stays taken until QUIT is answered, so max_connections holds even while closing.
  asio::co_spawn(executor_, quit_and_free(shared_from_this(), std::move(connection)),
                 [](std::exception_ptr e) { log_escaped(e, "QUIT"); });
}

asio::awaitable<void> ConnectionPool::quit_and_free(std::shared_ptr<ConnectionPool> self,
                                                    std::shared_ptr<SmtpConnection> connection) {
  co_await connection->quit();
  --self->stats_.open_now;
  self->wake_one();
}

void ConnectionPool::schedule_idle_sweep() {
  if (sweeping_ || shut_down_) return;
  sweeping_ = true;
  asio::co_spawn(executor_, idle_sweep(), [self = shared_from_this()](std::exception_ptr e) {
    self->sweeping_ = false;
    log_escaped(e, "idle sweep");
  });
}

asio::awaitable<void> ConnectionPool::idle_sweep() {
  auto timer = std::make_shared<asio::steady_timer>(executor_);
  sweep_timer_ = timer;
  while (!idle_.empty() && !shut_down_) {
    auto oldest = idle_.front()->idle_since;
    timer->expires_at(oldest + limits_.idle_timeout);
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    if (shut_down_) break;
    auto now = Clock::now();
    while (!idle_.empty() && now - idle_.front()->idle_since >= limits_.idle_timeout) {
      auto connection = std::move(idle_.front());
      idle_.pop_front();
      retire(std::move(connection), true);
    }
  }
  sweep_timer_.reset();
}

}  // namespace smarthost::upstream::smtp
