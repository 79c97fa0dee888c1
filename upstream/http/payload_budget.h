// How much memory the provider API deliveries may hold for message payloads at once ([performance]
// max_payload_memory). An HTTP delivery reserves its estimate (the message read from the spool, its request bodies)
// before it reads the message and gives it back when its calls are done. When the budget is spent, deliveries wait
// their turn, first come first served, so twenty parallel 25 MB messages cannot take a gigabyte; one that needs more
// than the whole budget runs alone. Reservations and releases may come from any thread; a waiter is woken on its
// own executor.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>

namespace smarthost::upstream::http {

class PayloadBudget : public std::enable_shared_from_this<PayloadBudget> {
 public:
  // Held bytes, given back when destroyed.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept;
    Reservation& operator=(Reservation&& other) noexcept;
    ~Reservation();
    uint64_t bytes() const { return bytes_; }
    // Raises the reservation to `bytes` when more is held than was estimated (a message that fanned out into more
    // requests than expected); never waits, so the budget may be exceeded for a moment, and later reservations
    // wait for it.
    void grow_to(uint64_t bytes);

   private:
    friend class PayloadBudget;
    Reservation(std::shared_ptr<PayloadBudget> budget, uint64_t bytes) : budget_(std::move(budget)), bytes_(bytes) {}
    std::shared_ptr<PayloadBudget> budget_;
    uint64_t bytes_ = 0;
  };

  explicit PayloadBudget(uint64_t capacity);

  // The budget every HTTP transport of this process shares unless given its own (256 MiB until configured).
  static std::shared_ptr<PayloadBudget> process_wide();

  // A new capacity (a reload); waiters that now fit are let through.
  void set_capacity(uint64_t capacity);

  // Waits until `bytes` fit (or, when they exceed the capacity, until nothing else is held); nullopt after max_wait.
  boost::asio::awaitable<std::optional<Reservation>> reserve(uint64_t bytes, std::chrono::milliseconds max_wait);
  // The same without waiting: nullopt unless the bytes fit now and nobody is waiting.
  std::optional<Reservation> try_reserve(uint64_t bytes);

  uint64_t capacity() const;
  uint64_t in_use() const;
  std::size_t waiting() const;

 private:
  struct Waiter;
  bool fits(uint64_t bytes) const;  // mutex held
  void grant_waiting();             // mutex held
  void release(uint64_t bytes);

  mutable std::mutex mutex_;
  uint64_t capacity_;
  uint64_t in_use_ = 0;
  std::list<std::shared_ptr<Waiter>> waiters_;  // in arrival order
};

}  // namespace smarthost::upstream::http
