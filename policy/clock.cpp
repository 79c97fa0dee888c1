// The real clock's sleep: a steady_timer on the awaiting coroutine's executor.
#include "policy/clock.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace smarthost::policy {

boost::asio::awaitable<void> SystemClock::sleep_until(SteadyTime until) const {
  if (until <= now()) co_return;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, until);
  co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace smarthost::policy
