// The Lua scripts of fleet mode, each run atomically by Redis on one hash per upstream (fields tat, rate,
// changed, paused, open; times in microseconds of the Redis server's clock, so instances' clocks never matter).
// Replies give times as offsets from the server's "now". The scripts' contracts are in fleet_scripts.cpp.
#pragma once

#include "policy/redis/redis_client.h"

namespace smarthost::policy::redis {

// GCRA lease of up to `want` send slots.
// ARGV: base_rate (per second), burst, want, max_wait_us, key_ttl_s.
// Reply: {granted, tat_offset_us, interval_us, tolerance_us, paused_offset_us, open_offset_us, rate_micro}.
const RedisScript& lease_script();
// Throttling answer: lowers the shared rate (adaptive) and/or pauses the fleet.
// ARGV: base_rate, burst, adaptive (0|1), factor, floor_rate, ceiling_rate (0 = none), pause_us (0 = none), ttl.
// Reply: {rate_micro, paused_offset_us}.
const RedisScript& throttle_script();
// Sustained success: raises a lowered shared rate by `factor`, at most once per raise_after_us fleet-wide.
// ARGV: base_rate, factor, ceiling_rate (0 = base), raise_after_us, ttl. Reply: rate_micro (0 = configured).
const RedisScript& raise_script();
// Circuit: opens it until now + open_us (keeping a later time), or closes it (open_us = 0). ARGV: open_us, ttl.
const RedisScript& circuit_script();
// The fleet's view. Reply: {paused_offset_us, open_offset_us, rate_micro (0 = configured)}.
const RedisScript& view_script();
// Dedup claim: stores ARGV[1] for ARGV[2] seconds unless the key holds a value; replies with that value or nil.
const RedisScript& claim_script();

}  // namespace smarthost::policy::redis
