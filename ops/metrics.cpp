// The metric primitives and the Prometheus text format (see metrics.h).
#include "ops/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace smarthost::ops {

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()), buckets_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  // The buckets were read one by one: the count is their total, so the series stays consistent.
  s.count = running;
  return s;
}

std::span<const double> latency_buckets() {
  static const double kBounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
  return kBounds;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
    return buffer;
  }
  // The shortest text that reads back as the same double.
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc{} ? std::string(buffer, end) : std::string("NaN");
}

namespace {

void append_labels(std::string& out, const std::vector<std::pair<std::string, std::string>>& labels,
                   const std::pair<std::string, std::string>* extra = nullptr) {
  if (labels.empty() && !extra) return;
  out += '{';
  bool first = true;
  auto add = [&](const std::pair<std::string, std::string>& label) {
    if (!first) out += ',';
    first = false;
    out += label.first;
    out += "=\"";
    out += escape_label_value(label.second);
    out += '"';
  };
  for (const auto& label : labels) add(label);
  if (extra) add(*extra);
  out += '}';
}

}  // namespace

void Exposition::family(std::string_view name, std::string_view help, std::string_view type) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  for (char c : help) out_ += c == '\n' ? ' ' : c;
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Exposition::sample(std::string_view name, const std::vector<std::pair<std::string, std::string>>& labels,
                        double value) {
  out_ += name;
  append_labels(out_, labels);
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

void Exposition::histogram(std::string_view name, const std::vector<std::pair<std::string, std::string>>& labels,
                           const Histogram::Snapshot& snapshot) {
  std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i < snapshot.cumulative.size(); ++i) {
    std::pair<std::string, std::string> le{"le", i < snapshot.bounds.size() ? format_value(snapshot.bounds[i]) : "+Inf"};
    out_ += bucket;
    append_labels(out_, labels, &le);
    out_ += ' ';
    out_ += format_value(static_cast<double>(snapshot.cumulative[i]));
    out_ += '\n';
  }
  sample(std::string(name) + "_sum", labels, snapshot.sum);
  sample(std::string(name) + "_count", labels, static_cast<double>(snapshot.count));
}

}  // namespace smarthost::ops
