// Balancing strategies: configured order, round robin, smooth weighted round robin (exact shares, interleaved),
// least connections and response time (with exploration).
#include "policy/balancer.h"

#include <gtest/gtest.h>

#include <map>

namespace smarthost::policy {
namespace {

std::vector<Candidate> three() { return {{0, 1, 0, {}}, {1, 1, 0, {}}, {2, 1, 0, {}}}; }

TEST(Balancer, FailoverKeepsTheConfiguredOrder) {
  auto b = make_balancer(conf::Routing::failover, 3);
  auto c = three();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(b->order(c), (std::vector<size_t>{0, 1, 2}));
  std::vector<Candidate> without_primary{{1, 1, 0, {}}, {2, 1, 0, {}}};
  EXPECT_EQ(b->order(without_primary), (std::vector<size_t>{1, 2}));
}

TEST(Balancer, RoundRobinRotates) {
  auto b = make_balancer(conf::Routing::round_robin, 3);
  auto c = three();
  EXPECT_EQ(b->order(c), (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(b->order(c), (std::vector<size_t>{1, 2, 0}));
  EXPECT_EQ(b->order(c), (std::vector<size_t>{2, 0, 1}));
  EXPECT_EQ(b->order(c), (std::vector<size_t>{0, 1, 2}));
}

TEST(Balancer, WeightedGivesExactSharesInterleaved) {
  auto b = make_balancer(conf::Routing::weighted, 3);
  std::vector<Candidate> c{{0, 5, 0, {}}, {1, 1, 0, {}}, {2, 1, 0, {}}};
  std::string picks;
  for (int i = 0; i < 7; ++i) picks += static_cast<char>('a' + b->order(c).front());
  // nginx's smooth weighted round robin for 5:1:1.
  EXPECT_EQ(picks, "aabacaa");
}

TEST(Balancer, WeightedSixtyFortyOverTenThousand) {
  auto b = make_balancer(conf::Routing::weighted, 2);
  std::vector<Candidate> c{{0, 60, 0, {}}, {1, 40, 0, {}}};
  std::map<size_t, int> count;
  for (int i = 0; i < 10'000; ++i) ++count[b->order(c).front()];
  EXPECT_NEAR(count[0] / 10'000.0, 0.6, 0.02);
  EXPECT_NEAR(count[1] / 10'000.0, 0.4, 0.02);
}

TEST(Balancer, WeightedOrderPutsTheRestByWeight) {
  auto b = make_balancer(conf::Routing::weighted, 3);
  std::vector<Candidate> c{{0, 1, 0, {}}, {1, 10, 0, {}}, {2, 5, 0, {}}};
  auto order = b->order(c);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0], 1u);
  EXPECT_EQ(order[1], 2u);
  EXPECT_EQ(order[2], 0u);
}

TEST(Balancer, WeightedSkipsAnAbsentMemberWithoutLosingTheSplit) {
  auto b = make_balancer(conf::Routing::weighted, 3);
  std::vector<Candidate> all{{0, 3, 0, {}}, {1, 1, 0, {}}, {2, 1, 0, {}}};
  std::vector<Candidate> without_first{{1, 1, 0, {}}, {2, 1, 0, {}}};
  std::map<size_t, int> count;
  for (int i = 0; i < 100; ++i) ++count[b->order(without_first).front()];
  EXPECT_EQ(count[1], 50);
  EXPECT_EQ(count[2], 50);
  count.clear();
  for (int i = 0; i < 500; ++i) ++count[b->order(all).front()];
  EXPECT_NEAR(count[0], 300, 3);
}

TEST(Balancer, LeastConnectionsPicksTheIdlest) {
  auto b = make_balancer(conf::Routing::least_connections, 3);
  std::vector<Candidate> c{{0, 1, 5, {}}, {1, 1, 2, {}}, {2, 1, 7, {}}};
  EXPECT_EQ(b->order(c), (std::vector<size_t>{1, 0, 2}));
  // Ties spread round robin.
  std::vector<Candidate> tie{{0, 1, 1, {}}, {1, 1, 1, {}}, {2, 1, 4, {}}};
  std::map<size_t, int> count;
  for (int i = 0; i < 100; ++i) ++count[b->order(tie).front()];
  EXPECT_GT(count[0], 30);
  EXPECT_GT(count[1], 30);
  EXPECT_EQ(count[2], 0);
}

TEST(Balancer, ResponseTimePrefersTheFastestAndExploresALittle) {
  auto b = make_balancer(conf::Routing::response_time, 3, 42);
  std::vector<Candidate> c{{0, 1, 0, 250.0}, {1, 1, 0, 40.0}, {2, 1, 0, 900.0}};
  std::map<size_t, int> count;
  for (int i = 0; i < 10'000; ++i) ++count[b->order(c).front()];
  // About kExploration of the picks go to a random member (a third of them to the fastest anyway).
  EXPECT_GT(count[1], 9'500);
  EXPECT_GT(count[0], 50);
  EXPECT_GT(count[2], 50);
  EXPECT_LT(count[0] + count[2], 700);
  auto order = b->order(std::vector<Candidate>{{0, 1, 0, 250.0}, {1, 1, 0, 40.0}});
  EXPECT_EQ(order.size(), 2u);
}

TEST(Balancer, ResponseTimeMeasuresTheUnmeasuredFirst) {
  auto b = make_balancer(conf::Routing::response_time, 2, 7);
  std::vector<Candidate> c{{0, 1, 0, 10.0}, {1, 1, 0, std::nullopt}};
  int first_unmeasured = 0;
  for (int i = 0; i < 100; ++i) first_unmeasured += b->order(c).front() == 1;
  EXPECT_GT(first_unmeasured, 90);
}

}  // namespace
}  // namespace smarthost::policy
