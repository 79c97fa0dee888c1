// `smarthost status`: the /status JSON as a table for a terminal: a header line, the upstreams with their state,
// rate and latency, the queue, firing alerts and the last errors. Pure text work, no I/O.
#pragma once

#include <string>
#include <string_view>

namespace smarthost::ops {

// The table, or an empty string with `error` set when `status_json` is not a /status answer.
std::string render_status_table(std::string_view status_json, std::string& error);

// "3h12m", "45s", "2d4h".
std::string human_age(int64_t seconds);
// "1.2 MB", "512 B".
std::string human_bytes(uint64_t bytes);

}  // namespace smarthost::ops
