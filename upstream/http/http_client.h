// An asynchronous HTTP(S) client for provider APIs: libcurl's multi-socket interface driven by the Asio event loop
// (no thread per request, nothing blocks the loop), keep-alive reuse, HTTP/2 when offered, capped responses.
// It does not know any provider; transports build requests and read answers. No curl or Asio-heavy includes here.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conf/config.h"

namespace smarthost::upstream::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  HeaderList headers;  // name, value; checked: a CR, LF or NUL in either refuses the request
  std::string body;
  std::chrono::milliseconds timeout{30000};  // the whole exchange, connect included
  bool gzip_body = false;                    // compress the body and send Content-Encoding: gzip
  std::size_t max_response_bytes = 1 << 20;  // larger answers fail (the body is cut and `truncated` set)
  std::string basic_user;                    // HTTP Basic auth when basic_user or basic_password is set
  std::string basic_password;
};

// What X-RateLimit-* and Retry-After said, when they said it.
struct RateLimitInfo {
  std::optional<long long> limit;
  std::optional<long long> remaining;
  std::optional<std::chrono::system_clock::time_point> reset;
  std::optional<std::chrono::system_clock::time_point> retry_after;  // Retry-After, else a reset with 0 remaining
};

struct HttpResponse {
  int status = 0;        // 0 when no HTTP answer came (see error)
  HeaderList headers;    // names lower-cased, in arrival order (of the final response only)
  std::string body;
  std::string error;     // transport failure text; empty on an HTTP answer
  bool timed_out = false;
  bool truncated = false;
  std::string http_version;  // "1.1", "2"
  RateLimitInfo rate_limit;

  // The first header with this (lower-case) name; empty when absent.
  std::string_view header(std::string_view lower_name) const;
};

// TLS settings from [security]: verification, an extra CA bundle and the minimum version.
struct HttpTlsSettings {
  bool verify_certificates = true;
  std::string ca_file;
  conf::TlsVersion min_version = conf::TlsVersion::tls1_2;
  static HttpTlsSettings from(const conf::SecurityConfig& security);
};

struct HttpClientSettings {
  HttpTlsSettings tls;
  long max_connections_per_host = 0;  // 0 = libcurl's default (no limit)
  long max_idle_connections = 0;      // the connection cache size; 0 = libcurl's default
  std::string user_agent = "smarthost/0.1";
};

// Parses Retry-After (delta seconds or an HTTP date) and X-RateLimit-Limit/-Remaining/-Reset (epoch seconds, or
// seconds from now when small) from response headers. Pure; `now` is injected.
RateLimitInfo parse_rate_limit(const HeaderList& lower_case_headers, std::chrono::system_clock::time_point now);

// True when `value` holds no CR, LF or NUL, so it is safe in a header field or JSON string destined for one.
bool is_header_safe(std::string_view value);

class HttpClient {
 public:
  // Runs on `executor` (all libcurl work happens on a strand of it). Throws only if libcurl cannot initialise.
  HttpClient(boost::asio::any_io_executor executor, HttpClientSettings settings = {});
  ~HttpClient();  // requests still running complete with error "client shut down"
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request. Never throws for network or HTTP failures: they come back in the response (status 0 and
  // `error` for no answer; `timed_out` past request.timeout). Safe to call concurrently from many coroutines.
  boost::asio::awaitable<HttpResponse> request(HttpRequest request);

  // How many transfers are running now (for tests and metrics).
  std::size_t active_transfers() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace smarthost::upstream::http
