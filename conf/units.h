// Durations and sizes as written in the configuration: an integer is seconds (or bytes); a string has units.
// Durations: "500ms", "30s", "5m", "2h", "5d", also combined ("1h30m"). Sizes: "512KB", "25MB", "1GB" with
// binary multiples (K = 1024), also "25M", "25MiB" or "100B". No other syntax; no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smarthost::conf {

// Milliseconds in `text`, or nothing when it is not a duration. Units are required.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// Bytes in `text`, or nothing when it is not a size. A bare number is bytes.
std::optional<uint64_t> parse_size(std::string_view text);

// The shortest exact spelling: "5d", "90s", "1500ms"; parse_duration reads it back.
std::string format_duration(std::chrono::milliseconds value);

// "25MB", "512KB", or the number of bytes when no unit divides it exactly; parse_size reads it back.
std::string format_size(uint64_t bytes);

}  // namespace smarthost::conf
