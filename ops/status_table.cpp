// The status table (see status_table.h).
#include "ops/status_table.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <vector>

namespace smarthost::ops {

namespace json = boost::json;

std::string human_age(int64_t s) {
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + (s % 60 ? std::to_string(s % 60) + "s" : "");
  if (s < 86400) return std::to_string(s / 3600) + "h" + (s % 3600 / 60 ? std::to_string(s % 3600 / 60) + "m" : "");
  return std::to_string(s / 86400) + "d" + (s % 86400 / 3600 ? std::to_string(s % 86400 / 3600) + "h" : "");
}

std::string human_bytes(uint64_t b) {
  if (b < 1024) return std::to_string(b) + " B";
  if (b < 1024 * 1024) return fmt::format("{:.1f} KB", static_cast<double>(b) / 1024);
  if (b < 1024ull * 1024 * 1024) return fmt::format("{:.1f} MB", static_cast<double>(b) / (1024 * 1024));
  return fmt::format("{:.1f} GB", static_cast<double>(b) / (1024.0 * 1024 * 1024));
}

namespace {

const json::value* field(const json::object& o, std::string_view key) { return o.if_contains(key); }

std::string text(const json::object& o, std::string_view key, std::string fallback = "") {
  auto* v = field(o, key);
  if (!v) return fallback;
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_bool()) return v->get_bool() ? "yes" : "no";
  return fallback;
}

double number(const json::object& o, std::string_view key, double fallback = 0) {
  auto* v = field(o, key);
  if (!v) return fallback;
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  if (v->is_double()) return v->get_double();
  return fallback;
}

bool has(const json::object& o, std::string_view key) { return field(o, key) != nullptr; }

const json::object& object_or_empty(const json::object& o, std::string_view key) {
  static const json::object empty;
  auto* v = field(o, key);
  return v && v->is_object() ? v->get_object() : empty;
}

// Left-aligned columns, two spaces apart.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::string render_status_table(std::string_view status, std::string& error) {
  boost::system::error_code ec;
  auto parsed = json::parse(status, ec);
  if (ec || !parsed.is_object() || !parsed.get_object().contains("upstreams")) {
    error = "not a smarthost /status answer";
    return {};
  }
  const auto& o = parsed.get_object();
  std::string out;
  const auto& config = object_or_empty(o, "config");
  std::string sha = text(config, "sha256");
  out += fmt::format("smarthost {} on {}, up {}, config {}{}\n", text(o, "version", "?"), text(o, "hostname", "?"),
                     human_age(static_cast<int64_t>(number(o, "uptime_seconds"))), sha.substr(0, 12),
                     sha.size() > 12 ? "…" : "");
  bool ready = field(o, "ready") && field(o, "ready")->is_bool() && field(o, "ready")->get_bool();
  out += fmt::format("ready: {}\n", ready ? "yes" : "NO (" + text(o, "ready_reason") + ")");

  std::vector<std::vector<std::string>> rows{
      {"UPSTREAM", "STATE", "CIRCUIT", "RATE", "LATENCY", "IN FLIGHT", "DELIVERED", "FAILED", "HEALTH CHECK"}};
  if (auto* list = field(o, "upstreams"); list && list->is_array()) {
    for (const auto& item : list->get_array()) {
      if (!item.is_object()) continue;
      const auto& u = item.get_object();
      std::string rate = has(u, "rate_per_second") ? fmt::format("{:.2f}/s", number(u, "rate_per_second")) : "unlimited";
      if (has(u, "paused_seconds")) rate += fmt::format(" (paused {:.0f}s)", number(u, "paused_seconds"));
      std::string latency = has(u, "latency_ms") ? fmt::format("{:.0f} ms", number(u, "latency_ms")) : "-";
      std::string health = "-";
      if (auto* h = field(u, "health"); h && h->is_object()) {
        const auto& hc = h->get_object();
        bool ok = field(hc, "ok") && field(hc, "ok")->is_bool() && field(hc, "ok")->get_bool();
        health = ok ? "ok" : fmt::format("failing x{:.0f}: {}", number(hc, "consecutive_failures"), text(hc, "detail"));
        if (health.size() > 60) health = health.substr(0, 57) + "...";
      }
      rows.push_back({text(u, "name"), text(u, "state"), text(u, "circuit"), rate, latency,
                      fmt::format("{:.0f}", number(u, "in_flight")), fmt::format("{:.0f}", number(u, "delivered")),
                      fmt::format("{:.0f}", number(u, "failed")), health});
    }
  }
  out += "\n" + table(rows);

  const auto& q = object_or_empty(o, "queue");
  out += fmt::format("\nqueue: {:.0f} messages ({:.0f} active, {:.0f} delivering, {:.0f} held, {:.0f} failed), {}, oldest {}\n",
                     number(q, "messages"), number(q, "active"), number(q, "delivering"), number(q, "held"),
                     number(q, "failed"), human_bytes(static_cast<uint64_t>(number(q, "bytes"))),
                     human_age(static_cast<int64_t>(number(q, "oldest_age_seconds"))));
  const auto& m = object_or_empty(o, "messages");
  const auto& c = object_or_empty(o, "connections");
  out += fmt::format("traffic: {:.0f} connections open, {:.0f} messages accepted, {:.0f} rejected; recipients {:.0f} "
                     "delivered, {:.0f} deferred, {:.0f} failed\n",
                     number(c, "current"), number(m, "accepted"), number(m, "rejected"),
                     number(m, "recipients_delivered"), number(m, "recipients_deferred"), number(m, "recipients_failed"));

  if (auto* alerts = field(o, "alerts"); alerts && alerts->is_array() && !alerts->get_array().empty()) {
    out += "\nalerts firing:\n";
    for (const auto& a : alerts->get_array())
      if (a.is_object()) out += fmt::format("  {}  since {}: {}\n", text(a.get_object(), "alert"),
                                            text(a.get_object(), "since"), text(a.get_object(), "summary"));
  }
  if (auto* errors = field(o, "last_errors"); errors && errors->is_array() && !errors->get_array().empty()) {
    out += "\nlast errors:\n";
    size_t shown = 0;
    for (const auto& e : errors->get_array()) {
      if (!e.is_object() || shown++ == 10) break;
      const auto& eo = e.get_object();
      out += fmt::format("  {}  {}  qid={}  {}\n", text(eo, "time"), text(eo, "upstream"), text(eo, "queue_id"),
                         text(eo, "error"));
    }
  } else {
    out += "\nno errors recorded\n";
  }
  return out;
}

}  // namespace smarthost::ops
