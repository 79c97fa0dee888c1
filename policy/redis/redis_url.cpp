// URL parsing for the fleet's Redis: scheme, optional credentials (percent-decoded), host or [IPv6], port, db.
#include "policy/redis/redis_url.h"

#include <charconv>
#include <cctype>

namespace smarthost::policy::redis {
namespace {

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      return std::nullopt;
    }
    unsigned value = 0;
    std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

template <typename T>
bool parse_number(std::string_view text, T& out, T max) {
  if (text.empty()) return false;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > max) return false;
  out = static_cast<T>(value);
  return true;
}

// "user:password" -> both; "password" (no colon) -> the password, as conf/secrets reads it.
bool parse_userinfo(std::string_view info, RedisEndpoint& e, std::string& error) {
  auto colon = info.find(':');
  auto user = percent_decode(colon == std::string_view::npos ? std::string_view{} : info.substr(0, colon));
  auto password = percent_decode(colon == std::string_view::npos ? info : info.substr(colon + 1));
  if (!user || !password) {
    error = "bad %-escape in the credentials";
    return false;
  }
  e.username = std::move(*user);
  e.password = std::move(*password);
  return true;
}

// "db=N&password=P&username=U" after a unix socket path.
bool parse_query(std::string_view query, RedisEndpoint& e, std::string& error) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1));
    if (!value) {
      error = "bad %-escape in '" + std::string(name) + "'";
      return false;
    }
    if (name == "db") {
      if (!parse_number<uint32_t>(*value, e.db, 1'000'000)) {
        error = "db must be a number";
        return false;
      }
    } else if (name == "password") {
      e.password = *value;
    } else if (name == "username" || name == "user") {
      e.username = *value;
    } else {
      error = "unknown parameter '" + std::string(name) + "' (db, password, username)";
      return false;
    }
  }
  return true;
}

}  // namespace

std::string RedisEndpoint::describe() const {
  switch (kind) {
    case Kind::unix_socket: return "unix:" + path + (db ? "?db=" + std::to_string(db) : "");
    case Kind::tcp:
    case Kind::tls: {
      std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
      return std::string(kind == Kind::tls ? "rediss://" : "redis://") + h + ":" + std::to_string(port) + "/" +
             std::to_string(db);
    }
  }
  return "?";
}

std::optional<RedisEndpoint> parse_redis_url(std::string_view url, std::string& error) {
  RedisEndpoint e;
  if (url.starts_with("unix:")) {
    std::string_view rest = url.substr(5);
    if (rest.starts_with("//")) rest.remove_prefix(2);
    auto q = rest.find('?');
    std::string_view path = rest.substr(0, q);
    if (path.empty() || path.front() != '/') {
      error = "a unix socket URL needs an absolute path, e.g. unix:///run/redis/redis.sock";
      return std::nullopt;
    }
    e.kind = RedisEndpoint::Kind::unix_socket;
    e.path = std::string(path);
    if (q != std::string_view::npos && !parse_query(rest.substr(q + 1), e, error)) return std::nullopt;
    return e;
  }
  std::string_view rest;
  if (url.starts_with("redis://")) {
    rest = url.substr(8);
  } else if (url.starts_with("rediss://")) {
    e.kind = RedisEndpoint::Kind::tls;
    rest = url.substr(9);
  } else {
    error = "the URL must start with redis://, rediss:// or unix:";
    return std::nullopt;
  }
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view tail = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    if (!parse_userinfo(authority.substr(0, at), e, error)) return std::nullopt;
    authority = authority.substr(at + 1);
  }
  std::string_view host = authority, port;
  if (authority.starts_with("[")) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "unclosed '[' in the host";
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "unexpected text after the IPv6 address";
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    error = "the URL has no host";
    return std::nullopt;
  }
  e.host = std::string(host);
  if (!port.empty() && (!parse_number<uint16_t>(port, e.port, 65535) || e.port == 0)) {
    error = "the port must be a number from 1 to 65535";
    return std::nullopt;
  }
  auto q = tail.find('?');
  std::string_view db = tail.substr(0, q);
  if (!db.empty() && !parse_number<uint32_t>(db, e.db, 1'000'000)) {
    error = "the path must be a database number, e.g. /0";
    return std::nullopt;
  }
  if (q != std::string_view::npos && !parse_query(tail.substr(q + 1), e, error)) return std::nullopt;
  return e;
}

}  // namespace smarthost::policy::redis
