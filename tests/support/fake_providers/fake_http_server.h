// A scriptable local HTTP/1.1 server (Boost.Beast) on its own thread, for tests of HTTP clients and transports.
// It records every exchange and answers through a responder function; it can delay answers and drop connections.
// It knows no provider: fake_provider.h adds the provider rules on top. Plain TCP, or TLS with a given cert.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smarthost::test {

using FakeHeaders = std::vector<std::pair<std::string, std::string>>;

// One request as the server received it.
struct HttpExchange {
  std::string method;
  std::string target;  // path and query
  FakeHeaders headers;  // as sent (original case)
  std::string body;     // after undoing Content-Encoding: gzip
  bool body_was_gzip = false;
  std::size_t connection = 0;  // index of the TCP connection it arrived on (0, 1, ...)
  std::string header(std::string_view name) const;  // case-insensitive; "" when absent
};

// What to do with one request.
struct FakeAnswer {
  int status = 200;
  FakeHeaders headers;
  std::string body;
  std::chrono::milliseconds delay{0};  // wait this long before answering
  bool drop = false;                   // close the connection without an answer
};

struct FakeTls {
  std::string certificate_file;  // PEM
  std::string private_key_file;  // PEM
};

class FakeHttpServer {
 public:
  using Responder = std::function<FakeAnswer(const HttpExchange&)>;
  // Listens on 127.0.0.1:port (0 = the OS picks) at once; answers on a thread of its own.
  explicit FakeHttpServer(Responder responder, uint16_t port = 0, const FakeTls* tls = nullptr);
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  uint16_t port() const;
  std::string base_url() const;  // "http://127.0.0.1:PORT" (https with TLS)
  std::vector<HttpExchange> exchanges() const;
  std::size_t connections() const;  // TCP connections accepted so far
  // Waits until at least n requests were received.
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Inflates a gzip stream (upstream/http/gzip.h). Empty on failure.
std::string gunzip(std::string_view data);

}  // namespace smarthost::test
