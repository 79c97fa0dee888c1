// Parsing and printing of durations ("30s", "5m") and sizes ("25MB", binary multiples).
// Callers apply each key's bounds; this file only knows the units.
#include "conf/units.h"

#include <cctype>
#include <limits>

namespace smarthost::conf {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Reads leading decimal digits; false when there are none or the value overflows.
bool read_number(std::string_view& s, uint64_t& out) {
  std::size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    v = v * 10 + digit;
    ++i;
  }
  if (i == 0) return false;
  s.remove_prefix(i);
  out = v;
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool checked_mul_add(uint64_t value, uint64_t unit, uint64_t& total) {
  if (unit != 0 && value > std::numeric_limits<uint64_t>::max() / unit) return false;
  uint64_t part = value * unit;
  if (total > std::numeric_limits<uint64_t>::max() - part) return false;
  total += part;
  return true;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::string_view s = trim(text);
  if (s.empty()) return std::nullopt;
  uint64_t total_ms = 0;
  while (!s.empty()) {
    uint64_t n = 0;
    if (!read_number(s, n)) return std::nullopt;
    std::size_t unit_len = 0;
    while (unit_len < s.size() && std::isalpha(static_cast<unsigned char>(s[unit_len]))) ++unit_len;
    std::string_view unit = s.substr(0, unit_len);
    s.remove_prefix(unit_len);
    uint64_t ms = 0;
    if (unit == "ms") ms = 1;
    else if (unit == "s") ms = 1000;
    else if (unit == "m") ms = 60'000;
    else if (unit == "h") ms = 3'600'000;
    else if (unit == "d") ms = 86'400'000;
    else return std::nullopt;
    if (!checked_mul_add(n, ms, total_ms)) return std::nullopt;
  }
  if (total_ms > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(total_ms));
}

std::optional<uint64_t> parse_size(std::string_view text) {
  std::string_view s = trim(text);
  uint64_t n = 0;
  if (!read_number(s, n)) return std::nullopt;
  s = trim(s);
  uint64_t unit = 0;
  if (s.empty() || iequals(s, "b")) unit = 1;
  else if (iequals(s, "k") || iequals(s, "kb") || iequals(s, "kib")) unit = 1ull << 10;
  else if (iequals(s, "m") || iequals(s, "mb") || iequals(s, "mib")) unit = 1ull << 20;
  else if (iequals(s, "g") || iequals(s, "gb") || iequals(s, "gib")) unit = 1ull << 30;
  else if (iequals(s, "t") || iequals(s, "tb") || iequals(s, "tib")) unit = 1ull << 40;
  else return std::nullopt;
  uint64_t total = 0;
  if (!checked_mul_add(n, unit, total)) return std::nullopt;
  return total;
}

std::string format_duration(std::chrono::milliseconds value) {
  const int64_t ms = value.count();
  if (ms == 0) return "0s";
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  const int64_t s = ms / 1000;
  if (s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

std::string format_size(uint64_t bytes) {
  if (bytes == 0) return "0B";
  if (bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + "GB";
  if (bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "MB";
  if (bytes % (1ull << 10) == 0) return std::to_string(bytes >> 10) + "KB";
  return std::to_string(bytes) + "B";
}

}  // namespace smarthost::conf
