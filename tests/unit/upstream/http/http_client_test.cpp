// Tests of the libcurl-on-Asio HTTP client against a local Beast server: answers, keep-alive reuse, concurrency,
// timeouts, dropped connections, response caps, gzip bodies, header injection, rate-limit headers and TLS checks.
#include "upstream/http/http_client.h"
#include "upstream/http/gzip.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tests/support/fake_providers/fake_http_server.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/upstream/http/run_awaitable.h"
#include "tests/unit/upstream/http/self_signed.h"

namespace smarthost::upstream::http {
namespace {

using namespace std::chrono_literals;
using test::FakeAnswer;
using test::FakeHttpServer;
using test::HttpExchange;

FakeAnswer echo_answer(const HttpExchange& exchange) {
  FakeAnswer answer;
  answer.headers = {{"X-Echo-Method", exchange.method}, {"X-Message-Id", "abc123"}};
  answer.body = exchange.body.empty() ? "{}" : exchange.body;
  return answer;
}

class HttpClientTest : public ::testing::Test {
 protected:
  HttpResponse send(HttpRequest request) { return test::run_awaitable(io_, client_.request(std::move(request))); }
  boost::asio::io_context io_;
  HttpClient client_{io_.get_executor()};
};

TEST_F(HttpClientTest, PostsAndReadsStatusHeadersAndBody) {
  FakeHttpServer server(echo_answer);
  HttpRequest request;
  request.url = server.base_url() + "/v3/mail/send?x=1";
  request.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer k"}};
  request.body = R"({"hello":"world"})";
  auto response = send(request);
  EXPECT_EQ(response.status, 200) << response.error;
  EXPECT_EQ(response.body, R"({"hello":"world"})");
  EXPECT_EQ(response.header("x-message-id"), "abc123");
  EXPECT_EQ(response.header("x-echo-method"), "POST");
  EXPECT_EQ(response.http_version, "1.1");
  auto exchanges = server.exchanges();
  ASSERT_EQ(exchanges.size(), 1u);
  EXPECT_EQ(exchanges[0].target, "/v3/mail/send?x=1");
  EXPECT_EQ(exchanges[0].header("Authorization"), "Bearer k");
  EXPECT_EQ(exchanges[0].header("Content-Type"), "application/json");
  EXPECT_EQ(exchanges[0].header("Expect"), "");
  EXPECT_FALSE(exchanges[0].body_was_gzip);
}

TEST_F(HttpClientTest, GetSendsNoBody) {
  FakeHttpServer server(echo_answer);
  HttpRequest request;
  request.method = "GET";
  request.url = server.base_url() + "/ping";
  auto response = send(request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("x-echo-method"), "GET");
  EXPECT_EQ(server.exchanges().at(0).body, "");
}

TEST_F(HttpClientTest, BasicAuthIsEncoded) {
  FakeHttpServer server(echo_answer);
  HttpRequest request;
  request.url = server.base_url() + "/";
  request.basic_user = "api";
  request.basic_password = "key-123";
  EXPECT_EQ(send(request).status, 200);
  EXPECT_EQ(server.exchanges().at(0).header("Authorization"), "Basic YXBpOmtleS0xMjM=");
}

TEST_F(HttpClientTest, ReusesTheConnectionForSequentialRequests) {
  FakeHttpServer server(echo_answer);
  for (int i = 0; i < 3; ++i) {
    HttpRequest request;
    request.url = server.base_url() + "/n" + std::to_string(i);
    request.body = "x";
    EXPECT_EQ(send(request).status, 200);
  }
  EXPECT_EQ(server.exchanges().size(), 3u);
  EXPECT_EQ(server.connections(), 1u);
}

TEST_F(HttpClientTest, RunsConcurrentRequestsOnOneThread) {
  FakeHttpServer server([](const HttpExchange& exchange) {
    FakeAnswer answer;
    answer.body = exchange.target;
    answer.delay = 200ms;
    return answer;
  });
  constexpr int kCount = 8;
  std::vector<std::string> bodies(kCount);
  int finished = 0;
  for (int i = 0; i < kCount; ++i) {
    boost::asio::co_spawn(
        io_,
        [&, i]() -> boost::asio::awaitable<void> {
          HttpRequest request;
          request.url = server.base_url() + "/r" + std::to_string(i);
          auto pending = client_.request(request);
          auto response = co_await std::move(pending);
          bodies[i] = response.body;
          ++finished;
        },
        [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  }
  auto start = std::chrono::steady_clock::now();
  while (finished < kCount && std::chrono::steady_clock::now() - start < 10s) io_.run_one_for(50ms);
  ASSERT_EQ(finished, kCount);
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(bodies[i], "/r" + std::to_string(i));
  // Overlapping in time: one after the other they would take 8 x 200 ms.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1200ms);
  EXPECT_EQ(client_.active_transfers(), 0u);
}

TEST(HttpClientPool, NeverOpensMoreConnectionsThanAllowed) {
  FakeHttpServer server([](const HttpExchange&) {
    FakeAnswer answer;
    answer.delay = 20ms;
    return answer;
  });
  boost::asio::io_context io;
  HttpClientSettings settings;
  settings.max_connections_per_host = 2;
  HttpClient client(io.get_executor(), settings);
  int finished = 0, ok = 0;
  for (int i = 0; i < 10; ++i) {
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          HttpRequest request;
          request.url = server.base_url() + "/pool";
          auto pending = client.request(request);
          auto response = co_await std::move(pending);
          ok += response.status == 200;
          ++finished;
        },
        [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  }
  auto start = std::chrono::steady_clock::now();
  while (finished < 10 && std::chrono::steady_clock::now() - start < 10s) io.run_one_for(50ms);
  EXPECT_EQ(ok, 10);
  EXPECT_EQ(server.exchanges().size(), 10u);
  EXPECT_LE(server.connections(), 2u);
  EXPECT_GE(server.connections(), 1u);
}

TEST_F(HttpClientTest, TimesOutASlowAnswer) {
  FakeHttpServer server([](const HttpExchange&) {
    FakeAnswer answer;
    answer.delay = 3s;
    return answer;
  });
  HttpRequest request;
  request.url = server.base_url() + "/slow";
  request.timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  auto response = send(request);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(response.status, 0);
  EXPECT_TRUE(response.timed_out);
  EXPECT_FALSE(response.error.empty());
}

// curl's timer is kept lazily (a later deadline does not re-arm it, an early expiry re-arms for the real one): a
// short timeout set after a long one still fires on time, and the long one neither fires early nor is lost.
TEST_F(HttpClientTest, ShortAndLongTimeoutsTogetherEachHoldTheirOwn) {
  FakeHttpServer server([](const HttpExchange& exchange) {
    FakeAnswer answer;
    answer.delay = exchange.target == "/slow" ? 3s : 700ms;
    return answer;
  });
  struct Result {
    HttpResponse response;
    std::chrono::steady_clock::duration took{};
    bool done = false;
  };
  Result patient, hasty;
  auto start = std::chrono::steady_clock::now();
  auto spawn = [&](std::string target, std::chrono::milliseconds timeout, Result& result) {
    boost::asio::co_spawn(
        io_,
        [&, target, timeout]() -> boost::asio::awaitable<void> {
          HttpRequest request;
          request.url = server.base_url() + target;
          request.timeout = timeout;
          auto pending = client_.request(request);
          result.response = co_await std::move(pending);
          result.took = std::chrono::steady_clock::now() - start;
          result.done = true;
        },
        [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  };
  spawn("/answer", 5000ms, patient);  // armed first, far out
  spawn("/slow", 300ms, hasty);       // then a nearer deadline
  while (!(patient.done && hasty.done) && std::chrono::steady_clock::now() - start < 10s) io_.run_one_for(50ms);
  ASSERT_TRUE(hasty.done && patient.done);
  EXPECT_TRUE(hasty.response.timed_out);
  EXPECT_GE(hasty.took, 300ms);
  EXPECT_LT(hasty.took, 1500ms) << "the nearer deadline fired late";
  EXPECT_EQ(patient.response.status, 200) << patient.response.error;
  EXPECT_FALSE(patient.response.timed_out);
  EXPECT_GE(patient.took, 700ms);

  // And the other way round: a near deadline first, then a far one that must not be cut short by it.
  Result first, second;
  start = std::chrono::steady_clock::now();
  spawn("/slow", 200ms, first);
  spawn("/answer", 4000ms, second);
  while (!(first.done && second.done) && std::chrono::steady_clock::now() - start < 10s) io_.run_one_for(50ms);
  ASSERT_TRUE(first.done && second.done);
  EXPECT_TRUE(first.response.timed_out);
  EXPECT_LT(first.took, 1500ms);
  EXPECT_EQ(second.response.status, 200) << second.response.error;
  EXPECT_GE(second.took, 700ms);
}

TEST_F(HttpClientTest, ReportsADroppedConnection) {
  FakeHttpServer server([](const HttpExchange&) {
    FakeAnswer answer;
    answer.drop = true;
    return answer;
  });
  HttpRequest request;
  request.url = server.base_url() + "/drop";
  auto response = send(request);
  EXPECT_EQ(response.status, 0);
  EXPECT_FALSE(response.timed_out);
  EXPECT_FALSE(response.error.empty());
}

TEST_F(HttpClientTest, ReportsARefusedConnection) {
  uint16_t port;
  { FakeHttpServer closed(echo_answer); port = closed.port(); }
  HttpRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  auto response = send(request);
  EXPECT_EQ(response.status, 0);
  EXPECT_FALSE(response.error.empty());
}

TEST_F(HttpClientTest, CapsTheResponseBody) {
  FakeHttpServer server([](const HttpExchange&) {
    FakeAnswer answer;
    answer.body = std::string(100000, 'x');
    return answer;
  });
  HttpRequest request;
  request.url = server.base_url() + "/big";
  request.max_response_bytes = 1000;
  auto response = send(request);
  EXPECT_TRUE(response.truncated);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body.size(), 1000u);
  EXPECT_NE(response.error.find("larger than 1000"), std::string::npos);
}

TEST_F(HttpClientTest, GzipsTheBodyWhenAsked) {
  FakeHttpServer server(echo_answer);
  HttpRequest request;
  request.url = server.base_url() + "/gz";
  request.body = std::string(5000, 'a') + "end";
  request.gzip_body = true;
  EXPECT_EQ(send(request).status, 200);
  auto exchange = server.exchanges().at(0);
  EXPECT_TRUE(exchange.body_was_gzip);
  EXPECT_EQ(exchange.header("Content-Encoding"), "gzip");
  EXPECT_EQ(exchange.body, std::string(5000, 'a') + "end");
}

TEST_F(HttpClientTest, RefusesHeaderInjection) {
  FakeHttpServer server(echo_answer);
  HttpRequest request;
  request.url = server.base_url() + "/";
  request.headers = {{"X-Tag", "ok\r\nBcc: victim@example.com"}};
  auto response = send(request);
  EXPECT_EQ(response.status, 0);
  EXPECT_NE(response.error.find("refused"), std::string::npos);
  request.headers = {{"X-Tag", std::string("a\0b", 3)}};
  EXPECT_EQ(send(request).status, 0);
  request.headers = {{"X-Bad\nName", "v"}};
  EXPECT_EQ(send(request).status, 0);
  EXPECT_TRUE(server.exchanges().empty());
}

TEST_F(HttpClientTest, ParsesRetryAfterOnA429) {
  FakeHttpServer server([](const HttpExchange&) {
    FakeAnswer answer;
    answer.status = 429;
    answer.headers = {{"Retry-After", "7"}, {"X-RateLimit-Limit", "600"}, {"X-RateLimit-Remaining", "0"}};
    answer.body = R"({"errors":[{"message":"too many requests"}]})";
    return answer;
  });
  HttpRequest request;
  request.url = server.base_url() + "/";
  auto before = std::chrono::system_clock::now();
  auto response = send(request);
  EXPECT_EQ(response.status, 429);
  ASSERT_TRUE(response.rate_limit.retry_after.has_value());
  EXPECT_GE(*response.rate_limit.retry_after, before + 6s);
  EXPECT_LE(*response.rate_limit.retry_after, std::chrono::system_clock::now() + 8s);
  EXPECT_EQ(response.rate_limit.limit, 600);
  EXPECT_EQ(response.rate_limit.remaining, 0);
}

TEST(RateLimitParse, ReadsEachForm) {
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  auto info = parse_rate_limit({{"x-ratelimit-reset", "1700000060"}, {"x-ratelimit-remaining", "0"}}, now);
  ASSERT_TRUE(info.retry_after);
  EXPECT_EQ(*info.retry_after, now + 60s);

  info = parse_rate_limit({{"x-ratelimit-reset", "30"}, {"x-ratelimit-remaining", "5"}}, now);
  EXPECT_EQ(*info.reset, now + 30s);
  EXPECT_FALSE(info.retry_after) << "a reset with requests left is not a reason to wait";

  info = parse_rate_limit({{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}}, now);
  ASSERT_TRUE(info.retry_after);
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*info.retry_after), 1445412480);

  info = parse_rate_limit({{"retry-after", "soon"}}, now);
  EXPECT_FALSE(info.retry_after);
  info = parse_rate_limit({{"retry-after", " 120 "}, {"x-ratelimit-reset", "1700000005"},
                           {"x-ratelimit-remaining", "0"}}, now);
  EXPECT_EQ(*info.retry_after, now + 120s) << "Retry-After wins over the reset time";
}

TEST(HeaderSafety, RefusesCrLfNul) {
  EXPECT_TRUE(is_header_safe("plain value; with = signs"));
  EXPECT_FALSE(is_header_safe("a\rb"));
  EXPECT_FALSE(is_header_safe("a\nb"));
  EXPECT_FALSE(is_header_safe(std::string_view("a\0b", 3)));
}

TEST(Gzip, RoundTrips) {
  std::string text = "The quick brown fox jumps over the lazy dog. ";
  for (int i = 0; i < 6; ++i) text += text;
  auto packed = gzip_compress(text);
  ASSERT_FALSE(packed.empty());
  EXPECT_LT(packed.size(), text.size() / 4);
  EXPECT_EQ(static_cast<unsigned char>(packed[0]), 0x1f);
  EXPECT_EQ(test::gunzip(packed), text);
  EXPECT_EQ(gzip_decompress(packed), text);
  EXPECT_FALSE(gzip_decompress(packed.substr(0, packed.size() / 2)).has_value()) << "truncated";
  EXPECT_FALSE(gzip_decompress("not gzip at all").has_value());
  EXPECT_FALSE(gzip_decompress(packed, 100).has_value()) << "over the cap";
  EXPECT_EQ(gzip_decompress(gzip_compress("")), "");
}

TEST(HttpClientTls, VerifiesAgainstTheConfiguredCaAndRefusesUnknownOnes) {
  test::SelfSigned certificate;
  FakeHttpServer server(echo_answer, 0, &certificate.files);
  ASSERT_EQ(server.base_url().substr(0, 8), "https://");
  boost::asio::io_context io;
  HttpRequest request;
  request.url = server.base_url() + "/tls";
  request.timeout = 5s;

  HttpClientSettings trusting;
  trusting.tls.ca_file = certificate.files.certificate_file;
  HttpClient with_ca(io.get_executor(), trusting);
  auto ok = test::run_awaitable(io, with_ca.request(request));
  EXPECT_EQ(ok.status, 200) << ok.error;

  HttpClient without_ca(io.get_executor(), HttpClientSettings{});  // the system store does not know our CA
  auto refused = test::run_awaitable(io, without_ca.request(request));
  EXPECT_EQ(refused.status, 0);
  EXPECT_FALSE(refused.error.empty());

  HttpClientSettings lax;
  lax.tls.verify_certificates = false;
  HttpClient unverified(io.get_executor(), lax);
  EXPECT_EQ(test::run_awaitable(io, unverified.request(request)).status, 200);

  HttpClientSettings too_new;
  too_new.tls.ca_file = certificate.files.certificate_file;
  too_new.tls.min_version = conf::TlsVersion::tls1_3;
  HttpClient tls13(io.get_executor(), too_new);
  auto modern = test::run_awaitable(io, tls13.request(request));
  EXPECT_EQ(modern.status, 200) << modern.error;  // the fake offers TLS 1.3, so a 1.3 minimum still connects
}

// A server that offers HTTP/2 (nghttpd, Debian nghttp2-server, with ALPN over TLS): the client speaks it, and two
// requests in a row both go through on it.
TEST(HttpClientTls, SpeaksHttp2WhereTheServerOffersIt) {
  if (test::run({"sh", "-c", "command -v nghttpd"}).exit_code != 0) GTEST_SKIP() << "nghttpd is not installed";
  test::SelfSigned certificate;
  test::TempDir htdocs;
  htdocs.write("v3/mail/send", "");
  const int port = test::free_port();
  test::Process server({"nghttpd", "--echo-upload", "-d", htdocs.path().string(), std::to_string(port),
                        certificate.files.private_key_file, certificate.files.certificate_file});
  ASSERT_TRUE(test::wait_for_port(port, 5s));
  boost::asio::io_context io;
  HttpClientSettings settings;
  settings.tls.ca_file = certificate.files.certificate_file;
  HttpClient client(io.get_executor(), settings);
  for (int i = 0; i < 2; ++i) {
    HttpRequest request;
    request.url = "https://127.0.0.1:" + std::to_string(port) + "/v3/mail/send";
    request.headers = {{"Content-Type", "application/json"}};
    request.body = R"({"n":)" + std::to_string(i) + "}";
    request.timeout = 5s;
    auto response = test::run_awaitable(io, client.request(request));
    EXPECT_EQ(response.status, 200) << response.error;
    EXPECT_EQ(response.http_version, "2");
    EXPECT_EQ(response.body, request.body) << "nghttpd echoes what was posted";
  }
}

TEST(HttpClientLifetime, ShutsDownWithARequestInFlight) {
  FakeHttpServer server([](const HttpExchange&) {
    FakeAnswer answer;
    answer.delay = 2s;
    return answer;
  });
  boost::asio::io_context io;
  std::optional<HttpResponse> result;
  auto client = std::make_unique<HttpClient>(io.get_executor());
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        HttpRequest request;
        request.url = server.base_url() + "/";
        auto pending = client->request(request);
        result = co_await std::move(pending);
      },
      [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  auto begin = std::chrono::steady_clock::now();
  while (server.exchanges().empty() && std::chrono::steady_clock::now() - begin < 5s) io.run_one_for(10ms);
  ASSERT_EQ(server.exchanges().size(), 1u);
  client.reset();
  auto start = std::chrono::steady_clock::now();
  while (!result && std::chrono::steady_clock::now() - start < 5s) io.run_one_for(50ms);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status, 0);
  EXPECT_EQ(result->error, "client shut down");
}

}  // namespace
}  // namespace smarthost::upstream::http
