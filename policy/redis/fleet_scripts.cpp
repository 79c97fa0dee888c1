// The scripts' Lua. GCRA as in policy/token_bucket.h: `tat` is the theoretical arrival time of the next token;
// slot i of a lease is due at max(now, tat + i*interval - tolerance, paused). Leasing advances tat by the slots
// granted, so the fleet's leases together never exceed burst + rate * t in any span t.
#include "policy/redis/fleet_scripts.h"

namespace smarthost::policy::redis {
namespace {

constexpr const char* kNow = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
)lua";

std::string with_now(const char* body) { return std::string(kNow) + body; }

}  // namespace

const RedisScript& lease_script() {
  static const RedisScript script(with_now(R"lua(
local h = redis.call('HMGET', KEYS[1], 'tat', 'rate', 'paused', 'open')
local rate = tonumber(h[2]) or tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local paused = tonumber(h[3]) or 0
local open = tonumber(h[4]) or 0
local interval = 1000000 / rate
local tolerance = (burst - 1) * interval
local tat = math.max(tonumber(h[1]) or now, now)
local first = math.max(now, tat - tolerance, paused)
local granted = 0
if first - now <= max_wait then
  granted = math.min(want, math.floor((now + max_wait - (tat - tolerance)) / interval) + 1)
  if granted > 0 then
    redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat + granted * interval))
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {granted, math.floor(tat - now), math.floor(interval), math.floor(tolerance),
        math.floor(math.max(paused - now, -1)), math.floor(math.max(open - now, -1)),
        math.floor(((tonumber(h[2]) or 0)) * 1000000)}
)lua"));
  return script;
}

const RedisScript& throttle_script() {
  static const RedisScript script(with_now(R"lua(
local base = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local h = redis.call('HMGET', KEYS[1], 'rate', 'tat', 'paused')
local rate = tonumber(h[1])
if ARGV[3] == '1' and base > 0 then
  local new = math.max(tonumber(ARGV[5]), (rate or base) * (1 - tonumber(ARGV[4])))
  local ceiling = tonumber(ARGV[6])
  if ceiling > 0 then new = math.min(new, ceiling) end
  local interval = 1000000 / new
  local tolerance = (burst - 1) * interval
  -- The upstream said "too fast" now: no burst right after it.
  local tat = math.max(tonumber(h[2]) or now, now + tolerance + interval)
  redis.call('HSET', KEYS[1], 'rate', tostring(new), 'changed', string.format('%.0f', now),
             'tat', string.format('%.0f', tat))
  rate = new
end
local paused = tonumber(h[3]) or 0
local pause = tonumber(ARGV[7])
if pause > 0 and now + pause > paused then
  paused = now + pause
  redis.call('HSET', KEYS[1], 'paused', string.format('%.0f', paused))
end
redis.call('EXPIRE', KEYS[1], ARGV[8])
return {math.floor((rate or 0) * 1000000), math.floor(math.max(paused - now, -1))}
)lua"));
  return script;
}

const RedisScript& raise_script() {
  static const RedisScript script(with_now(R"lua(
local h = redis.call('HMGET', KEYS[1], 'rate', 'changed')
local rate = tonumber(h[1])
if not rate then return 0 end
if now - (tonumber(h[2]) or 0) < tonumber(ARGV[4]) then return math.floor(rate * 1000000) end
local base = tonumber(ARGV[1])
local ceiling = tonumber(ARGV[3])
if ceiling <= 0 then ceiling = base end
local new = math.min(ceiling, rate * (1 + tonumber(ARGV[2])))
if new >= base and ceiling == base then
  redis.call('HDEL', KEYS[1], 'rate')
  new = 0
else
  redis.call('HSET', KEYS[1], 'rate', tostring(new))
end
redis.call('HSET', KEYS[1], 'changed', string.format('%.0f', now))
redis.call('EXPIRE', KEYS[1], ARGV[5])
return math.floor(new * 1000000)
)lua"));
  return script;
}

const RedisScript& circuit_script() {
  static const RedisScript script(with_now(R"lua(
local open_for = tonumber(ARGV[1])
if open_for > 0 then
  local old = tonumber(redis.call('HGET', KEYS[1], 'open')) or 0
  if now + open_for > old then redis.call('HSET', KEYS[1], 'open', string.format('%.0f', now + open_for)) end
else
  redis.call('HDEL', KEYS[1], 'open')
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
)lua"));
  return script;
}

const RedisScript& view_script() {
  static const RedisScript script(with_now(R"lua(
local h = redis.call('HMGET', KEYS[1], 'paused', 'open', 'rate')
return {math.floor(math.max((tonumber(h[1]) or 0) - now, -1)), math.floor(math.max((tonumber(h[2]) or 0) - now, -1)),
        math.floor((tonumber(h[3]) or 0) * 1000000)}
)lua"));
  return script;
}

const RedisScript& claim_script() {
  static const RedisScript script(R"lua(
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
)lua");
  return script;
}

}  // namespace smarthost::policy::redis
