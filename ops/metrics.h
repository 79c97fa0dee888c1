// Metric primitives behind /metrics: counters, gauges and histograms updated lock-free (atomics), grouped in
// families whose number of label sets is capped, and the Prometheus text format (0.0.4) they render to.
// It knows nothing about the relay: relay_metrics.cpp decides what is counted and how it is named.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smarthost::ops {

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative buckets with fixed upper bounds (the +Inf bucket is implicit).
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Delivery latency buckets in seconds: 5 ms to 2 minutes.
std::span<const double> latency_buckets();

// Writes the Prometheus text exposition format. Label values are escaped; names are the caller's (valid) ones.
class Exposition {
 public:
  // Starts a family: "# HELP" and "# TYPE" lines. `type` is counter, gauge or histogram.
  void family(std::string_view name, std::string_view help, std::string_view type);
  // One sample line; `labels` are name/value pairs.
  void sample(std::string_view name, const std::vector<std::pair<std::string, std::string>>& labels, double value);
  // The _bucket, _sum and _count lines of one histogram series.
  void histogram(std::string_view name, const std::vector<std::pair<std::string, std::string>>& labels,
                 const Histogram::Snapshot& snapshot);
  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// "a\"b" for a label value: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);
// A sample value as Prometheus writes it: integers without a fraction, +Inf, -Inf, NaN.
std::string format_value(double value);

// A family of one metric kind keyed by label values (in the order of the label names). Lookups that create a
// series take a mutex; callers keep the returned reference (stable for the family's life) for lock-free updates.
// Past `max_series` label sets, every new one shares one overflow series whose label values are all "other".
template <class Metric>
class Family {
 public:
  template <class... Args>
  Family(std::vector<std::string> label_names, size_t max_series, Args... metric_args)
      : label_names_(std::move(label_names)), max_series_(max_series), make_([metric_args...] {
          return std::make_unique<Metric>(metric_args...);
        }) {}

  Metric& with(const std::vector<std::string>& values) {
    std::lock_guard lock(mutex_);
    for (auto& s : series_)
      if (s.first == values) return *s.second;
    std::vector<std::string> key = values;
    if (series_.size() >= max_series_) key.assign(label_names_.size(), "other");
    for (auto& s : series_)
      if (s.first == key) return *s.second;
    series_.emplace_back(std::move(key), make_());
    return *series_.back().second;
  }

  // Each series as label pairs and a reference to its metric (valid while the family lives).
  template <class Visit>
  void each(Visit visit) const {
    std::lock_guard lock(mutex_);
    for (const auto& [values, metric] : series_) {
      std::vector<std::pair<std::string, std::string>> labels;
      for (size_t i = 0; i < label_names_.size() && i < values.size(); ++i)
        labels.emplace_back(label_names_[i], values[i]);
      visit(labels, *metric);
    }
  }

  size_t size() const {
    std::lock_guard lock(mutex_);
    return series_.size();
  }

 private:
  std::vector<std::string> label_names_;
  size_t max_series_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mutex_;
  std::deque<std::pair<std::vector<std::string>, std::unique_ptr<Metric>>> series_;
};

}  // namespace smarthost::ops
