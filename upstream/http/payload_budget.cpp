// The shared byte budget for HTTP delivery payloads (see payload_budget.h).
#include "upstream/http/payload_budget.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "conf/config.h"

namespace smarthost::upstream::http {

namespace asio = boost::asio;

struct PayloadBudget::Waiter {
  Waiter(asio::any_io_executor executor, uint64_t bytes) : timer(std::move(executor)), bytes(bytes) {}
  asio::steady_timer timer;  // touched only on its executor: a grant posts its cancel there
  uint64_t bytes;
  bool granted = false;  // guarded by the budget's mutex
};

PayloadBudget::Reservation::Reservation(Reservation&& other) noexcept
    : budget_(std::move(other.budget_)), bytes_(std::exchange(other.bytes_, 0)) {}

PayloadBudget::Reservation& PayloadBudget::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    if (budget_) budget_->release(bytes_);
    budget_ = std::move(other.budget_);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

PayloadBudget::Reservation::~Reservation() {
  if (budget_) budget_->release(bytes_);
}

void PayloadBudget::Reservation::grow_to(uint64_t bytes) {
  if (!budget_ || bytes <= bytes_) return;
  std::lock_guard lock(budget_->mutex_);
  budget_->in_use_ += bytes - bytes_;
  bytes_ = bytes;
}

PayloadBudget::PayloadBudget(uint64_t capacity) : capacity_(capacity) {}

std::shared_ptr<PayloadBudget> PayloadBudget::process_wide() {
  static const auto budget = std::make_shared<PayloadBudget>(conf::PerformanceConfig{}.max_payload_memory);
  return budget;
}

bool PayloadBudget::fits(uint64_t bytes) const {
  return in_use_ == 0 || (in_use_ + bytes <= capacity_ && bytes <= capacity_);
}

void PayloadBudget::grant_waiting() {
  // First come, first served: a large waiter at the front is not overtaken by small ones behind it.
  while (!waiters_.empty() && fits(waiters_.front()->bytes)) {
    auto waiter = std::move(waiters_.front());
    waiters_.pop_front();
    in_use_ += waiter->bytes;
    waiter->granted = true;
    asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
  }
}

void PayloadBudget::set_capacity(uint64_t capacity) {
  std::lock_guard lock(mutex_);
  capacity_ = capacity;
  grant_waiting();
}

void PayloadBudget::release(uint64_t bytes) {
  std::lock_guard lock(mutex_);
  in_use_ -= std::min(bytes, in_use_);
  grant_waiting();
}

asio::awaitable<std::optional<PayloadBudget::Reservation>> PayloadBudget::reserve(uint64_t bytes,
                                                                                   std::chrono::milliseconds max_wait) {
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor, bytes);
  waiter->timer.expires_after(max_wait);
  {
    std::lock_guard lock(mutex_);
    if (waiters_.empty() && fits(bytes)) {
      in_use_ += bytes;
      co_return Reservation(shared_from_this(), bytes);
    }
    waiters_.push_back(waiter);
  }
  // A waiter that leaves without its reservation (it gave up, or its coroutine was destroyed with its io_context)
  // is taken off the list, or gives back what was granted meanwhile, and lets the ones behind it through.
  struct Unclaimed {
    std::shared_ptr<PayloadBudget> budget;
    std::shared_ptr<Waiter> waiter;
    bool claimed = false;
    ~Unclaimed() {
      if (claimed) return;
      std::lock_guard lock(budget->mutex_);
      if (waiter->granted) budget->in_use_ -= std::min(waiter->bytes, budget->in_use_);
      else budget->waiters_.remove(waiter);
      budget->grant_waiting();
    }
  } unclaimed{shared_from_this(), waiter};
  co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  {
    std::lock_guard lock(mutex_);
    if (waiter->granted) {
      unclaimed.claimed = true;
      co_return Reservation(shared_from_this(), bytes);
    }
  }
  co_return std::nullopt;  // gave up after max_wait
}

std::optional<PayloadBudget::Reservation> PayloadBudget::try_reserve(uint64_t bytes) {
  std::lock_guard lock(mutex_);
  if (!waiters_.empty() || !fits(bytes)) return std::nullopt;
  in_use_ += bytes;
  return Reservation(shared_from_this(), bytes);
}

uint64_t PayloadBudget::capacity() const {
  std::lock_guard lock(mutex_);
  return capacity_;
}

uint64_t PayloadBudget::in_use() const {
  std::lock_guard lock(mutex_);
  return in_use_;
}

std::size_t PayloadBudget::waiting() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

}  // namespace smarthost::upstream::http
