// The metric primitives and the Prometheus text format: values, escaping, histogram series, bounded families.
#include "ops/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace smarthost::ops {
namespace {

TEST(Metrics, CounterAndGaugeKeepTheirValues) {
  Counter c;
  c.inc();
  c.inc(4);
  EXPECT_EQ(c.value(), 5u);
  Gauge g;
  g.set(2.5);
  g.add(-1);
  EXPECT_DOUBLE_EQ(g.value(), 1.5);
}

TEST(Metrics, CountersAreExactUnderConcurrentUpdates) {
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.inc();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  const double bounds[] = {0.1, 1, 10};
  Histogram h(bounds);
  h.observe(0.05);
  h.observe(0.1);  // on the bound: belongs to le="0.1"
  h.observe(0.5);
  h.observe(100);
  auto s = h.snapshot();
  ASSERT_EQ(s.cumulative.size(), 4u);
  EXPECT_EQ(s.cumulative[0], 2u);
  EXPECT_EQ(s.cumulative[1], 3u);
  EXPECT_EQ(s.cumulative[2], 3u);
  EXPECT_EQ(s.cumulative[3], 4u);
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.sum, 100.65);
}

TEST(Metrics, ExpositionWritesHelpTypeAndEscapedLabels) {
  Exposition e;
  e.family("smarthost_x_total", "a help\ntext", "counter");
  e.sample("smarthost_x_total", {{"upstream", "a\"b\\c\nd"}}, 3);
  EXPECT_EQ(e.text(),
            "# HELP smarthost_x_total a help text\n"
            "# TYPE smarthost_x_total counter\n"
            "smarthost_x_total{upstream=\"a\\\"b\\\\c\\nd\"} 3\n");
}

TEST(Metrics, ExpositionWritesHistogramSeries) {
  const double bounds[] = {0.5, 2};
  Histogram h(bounds);
  h.observe(1);
  Exposition e;
  e.histogram("smarthost_d_seconds", {{"upstream", "u"}}, h.snapshot());
  EXPECT_EQ(e.text(),
            "smarthost_d_seconds_bucket{upstream=\"u\",le=\"0.5\"} 0\n"
            "smarthost_d_seconds_bucket{upstream=\"u\",le=\"2\"} 1\n"
            "smarthost_d_seconds_bucket{upstream=\"u\",le=\"+Inf\"} 1\n"
            "smarthost_d_seconds_sum{upstream=\"u\"} 1\n"
            "smarthost_d_seconds_count{upstream=\"u\"} 1\n");
}

TEST(Metrics, ValuesAreFormattedAsPrometheusReadsThem) {
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(0.005), "0.005");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(0.0 / 0.0), "NaN");
}

TEST(Metrics, FamilyCapsItsLabelSets) {
  Family<Counter> f({"upstream", "kind"}, 2);
  f.with({"a", "x"}).inc();
  f.with({"b", "x"}).inc();
  f.with({"c", "x"}).inc();  // over the cap: the overflow series
  f.with({"d", "y"}).inc(2);
  f.with({"a", "x"}).inc();
  EXPECT_EQ(f.size(), 3u);
  std::map<std::string, uint64_t> seen;
  f.each([&](const auto& labels, const Counter& c) { seen[labels[0].second + "/" + labels[1].second] = c.value(); });
  EXPECT_EQ(seen["a/x"], 2u);
  EXPECT_EQ(seen["b/x"], 1u);
  EXPECT_EQ(seen["other/other"], 3u);
}

}  // namespace
}  // namespace smarthost::ops
