// Reply helpers: integers out of replies, and readable failures.
#include "policy/redis/redis_reply.h"

#include <charconv>

namespace smarthost::policy::redis {

int64_t RedisReply::as_int(int64_t fallback) const {
  if (type == Type::integer) return integer;
  if (type == Type::string || type == Type::status) {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size()) return value;
  }
  return fallback;
}

std::string_view to_string(RedisFailure failure) {
  switch (failure) {
    case RedisFailure::none: return "ok";
    case RedisFailure::down: return "not connected";
    case RedisFailure::timeout: return "timed out";
    case RedisFailure::overloaded: return "too many calls waiting";
    case RedisFailure::lost: return "connection lost";
  }
  return "?";
}

std::string RedisResult::error() const {
  if (failure != RedisFailure::none) return std::string(to_string(failure));
  if (reply.is_error()) return reply.text;
  return "";
}

}  // namespace smarthost::policy::redis
