// The connections to one SMTP upstream: idle sessions are reused at once when they were used moments ago and ended
// their last transaction, else after a successful RSET probe; broken ones are replaced transparently, idle ones
// close after idle_timeout, and never more than max_connections are open at once (callers wait, with a deadline,
// for a free slot). Must be used from one strand (the transport's).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>

#include "upstream/smtp/pool_stats.h"
#include "upstream/smtp/smtp_connection.h"

namespace smarthost::upstream::smtp {

struct PoolLimits {
  uint32_t max_connections = 10;
  uint32_t max_idle_connections = 5;
  std::chrono::milliseconds idle_timeout{300000};
  std::chrono::milliseconds wait_timeout{30000};  // the longest wait for a free slot
  // A session idle for less than this whose last transaction ended is handed out without an RSET probe: under
  // load that saves a round trip per message (Postfix probes every cached session). If the upstream closed it
  // meanwhile, the transport sends the message on another one (Lease::unprobed).
  std::chrono::milliseconds probe_after_idle{5000};
};

// A connection handed out by the pool, or why none could be.
struct Lease {
  std::shared_ptr<SmtpConnection> connection;  // null on failure
  std::optional<SessionFailure> failure;
  bool unprobed = false;  // an idle session handed out without RSET: it may turn out closed (lost_before_data)
};

class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
 public:
  using Factory = std::function<std::shared_ptr<SmtpConnection>()>;

  ConnectionPool(boost::asio::any_io_executor executor, PoolLimits limits, Factory factory);
  ~ConnectionPool();

  // A ready session: an idle one (probed with RSET unless used moments ago), else a new one (waiting for a slot
  // when all are busy).
  boost::asio::awaitable<Lease> acquire();
  // Gives a connection back: kept idle when it is usable and there is room, else closed with QUIT.
  void release(std::shared_ptr<SmtpConnection> connection);
  // Closes every idle connection at once and stops the idle timer; busy ones close when released.
  void shutdown();

  const PoolStats& stats() const { return stats_; }

 private:
  void wake_one();
  void retire(std::shared_ptr<SmtpConnection> connection, bool polite);
  static boost::asio::awaitable<void> quit_and_free(std::shared_ptr<ConnectionPool> self,
                                                    std::shared_ptr<SmtpConnection> connection);
  void schedule_idle_sweep();
  boost::asio::awaitable<void> idle_sweep();

  boost::asio::any_io_executor executor_;
  PoolLimits limits_;
  Factory factory_;
  std::deque<std::shared_ptr<SmtpConnection>> idle_;  // most recently used at the back
  std::list<std::shared_ptr<void>> waiters_;          // steady_timers of callers waiting for a slot
  std::shared_ptr<void> sweep_timer_;
  bool sweeping_ = false;
  bool shut_down_ = false;
  PoolStats stats_;
};

}  // namespace smarthost::upstream::smtp
