// The payload budget: immediate reservations while they fit, first come first served waiting, a reservation larger
// than the budget running alone, giving up after the longest wait, growth, capacity changes, releases from other
// threads, and waiters abandoned with their io_context.
#include "upstream/http/payload_budget.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "tests/unit/upstream/http/run_awaitable.h"

namespace smarthost::upstream::http {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Reservation = PayloadBudget::Reservation;

// A reservation started as a coroutine, its outcome kept for the test to look at.
struct Pending {
  std::optional<std::optional<Reservation>> outcome;  // set once reserve() returned
  bool granted() const { return outcome && outcome->has_value(); }
};

std::shared_ptr<Pending> start(asio::io_context& io, const std::shared_ptr<PayloadBudget>& budget, uint64_t bytes,
                               std::chrono::milliseconds max_wait = 10s) {
  auto pending = std::make_shared<Pending>();
  asio::co_spawn(io, budget->reserve(bytes, max_wait), [pending](std::exception_ptr e, std::optional<Reservation> r) {
    if (!e) pending->outcome = std::move(r);
  });
  return pending;
}

void run_for(asio::io_context& io, std::chrono::milliseconds how_long) {
  io.restart();
  io.run_for(how_long);
}

TEST(PayloadBudget, ReservesAtOnceWhileItFitsAndGivesBackOnDestruction) {
  asio::io_context io;
  auto budget = std::make_shared<PayloadBudget>(100);
  {
    auto a = test::run_awaitable(io, budget->reserve(60, 1s));
    ASSERT_TRUE(a);
    auto b = test::run_awaitable(io, budget->reserve(40, 1s));
    ASSERT_TRUE(b);
    EXPECT_EQ(budget->in_use(), 100u);
    Reservation moved = std::move(*a);
    EXPECT_EQ(moved.bytes(), 60u);
    EXPECT_EQ(budget->in_use(), 100u);
  }
  EXPECT_EQ(budget->in_use(), 0u);
}

TEST(PayloadBudget, WaitersAreServedInOrderOfArrival) {
  asio::io_context io;
  auto budget = std::make_shared<PayloadBudget>(100);
  auto held = budget->try_reserve(80);
  ASSERT_TRUE(held);
  auto big = start(io, budget, 50);
  auto small = start(io, budget, 10);  // would fit now, but waits behind the larger one that came first
  run_for(io, 50ms);
  EXPECT_FALSE(big->outcome);
  EXPECT_FALSE(small->outcome);
  EXPECT_EQ(budget->waiting(), 2u);
  EXPECT_FALSE(budget->try_reserve(1)) << "nobody overtakes the waiters";

  held.reset();
  run_for(io, 50ms);
  EXPECT_TRUE(big->granted());
  EXPECT_TRUE(small->granted());
  EXPECT_EQ(budget->in_use(), 60u);
  EXPECT_EQ(budget->waiting(), 0u);
}

TEST(PayloadBudget, OneLargerThanTheBudgetRunsAlone) {
  asio::io_context io;
  auto budget = std::make_shared<PayloadBudget>(100);
  auto held = budget->try_reserve(10);
  auto huge = start(io, budget, 150);
  run_for(io, 50ms);
  EXPECT_FALSE(huge->outcome);
  held.reset();
  run_for(io, 50ms);
  ASSERT_TRUE(huge->granted());
  EXPECT_EQ(budget->in_use(), 150u);
  auto next = start(io, budget, 1);
  run_for(io, 50ms);
  EXPECT_FALSE(next->outcome) << "nothing runs beside it";
  huge->outcome.reset();  // the large delivery is done
  run_for(io, 50ms);
  EXPECT_TRUE(next->granted());
  EXPECT_EQ(budget->in_use(), 1u);
}

TEST(PayloadBudget, GivesUpAfterTheLongestWaitAndLetsTheNextOneThrough) {
  asio::io_context io;
  auto budget = std::make_shared<PayloadBudget>(100);
  auto held = budget->try_reserve(70);
  auto patient = start(io, budget, 50, 80ms);
  run_for(io, 300ms);
  ASSERT_TRUE(patient->outcome);
  EXPECT_FALSE(patient->outcome->has_value());
  EXPECT_EQ(budget->waiting(), 0u);
  EXPECT_EQ(budget->in_use(), 70u);
  EXPECT_TRUE(budget->try_reserve(30));
}

TEST(PayloadBudget, GrowthIsCountedAndALargerCapacityLetsWaitersIn) {
  asio::io_context io;
  auto budget = std::make_shared<PayloadBudget>(100);
  auto held = budget->try_reserve(50);
  ASSERT_TRUE(held);
  held->grow_to(90);
  held->grow_to(20);  // never shrinks
  EXPECT_EQ(held->bytes(), 90u);
  EXPECT_EQ(budget->in_use(), 90u);
  auto waiting = start(io, budget, 30);
  run_for(io, 50ms);
  EXPECT_FALSE(waiting->outcome);
  budget->set_capacity(200);
  run_for(io, 50ms);
  EXPECT_TRUE(waiting->granted());
  EXPECT_EQ(budget->in_use(), 120u);
  held.reset();
  EXPECT_EQ(budget->in_use(), 30u);
}

TEST(PayloadBudget, AReleaseOnAnotherThreadWakesTheWaiterOnItsOwnExecutor) {
  asio::io_context io;
  auto budget = std::make_shared<PayloadBudget>(100);
  auto held = budget->try_reserve(100);
  auto waiter = start(io, budget, 60);
  run_for(io, 20ms);
  std::thread releaser([&] { held.reset(); });
  releaser.join();
  run_for(io, 100ms);
  EXPECT_TRUE(waiter->granted());
  EXPECT_EQ(budget->in_use(), 60u);
}

TEST(PayloadBudget, AWaiterDestroyedWithItsIoContextLeavesNothingBehind) {
  auto budget = std::make_shared<PayloadBudget>(100);
  auto held = budget->try_reserve(100);
  {
    asio::io_context io;
    auto waiter = start(io, budget, 60);
    run_for(io, 20ms);
    EXPECT_EQ(budget->waiting(), 1u);
  }  // the coroutine frame is destroyed here, still waiting
  EXPECT_EQ(budget->waiting(), 0u);
  held.reset();
  EXPECT_EQ(budget->in_use(), 0u);
}

}  // namespace
}  // namespace smarthost::upstream::http
