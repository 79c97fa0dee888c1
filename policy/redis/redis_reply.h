// One Redis reply as a value (RESP2: nil, integer, bulk or status string, error, array), and what a call
// returns: the reply, or why there is none (not connected, timed out, too many calls, connection lost).
// No I/O; redis_connection.h produces them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smarthost::policy::redis {

struct RedisReply {
  enum class Type { nil, integer, string, status, error, array };
  Type type = Type::nil;
  int64_t integer = 0;
  std::string text;  // string, status and error
  std::vector<RedisReply> elements;

  bool is_error() const { return type == Type::error; }
  // An integer reply, or a string holding one; `fallback` otherwise.
  int64_t as_int(int64_t fallback = 0) const;
};

// Why a call has no reply.
enum class RedisFailure {
  none,
  down,        // not connected (connecting, or backing off after a failure): refused at once
  timeout,     // no reply within the call's timeout
  overloaded,  // too many calls waiting already
  lost,        // the connection broke before the reply came
};
std::string_view to_string(RedisFailure failure);

struct RedisResult {
  RedisFailure failure = RedisFailure::none;
  RedisReply reply;
  // A reply came and it is not an error reply.
  bool ok() const { return failure == RedisFailure::none && !reply.is_error(); }
  // For logs: the failure, or the error reply's text.
  std::string error() const;
};

}  // namespace smarthost::policy::redis
