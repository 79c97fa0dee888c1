// The operations HTTP server against curl: routes, 404, only GET/HEAD, header cap, keep-alive, port 0.
#include "ops/status_server.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <atomic>
#include <thread>

#include "tests/support/process.h"

namespace smarthost::ops {
namespace {

struct Running {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::atomic<int> calls{0};
  StatusServer server{io, {{"/hello", [this] {
                              ++calls;
                              return HttpAnswer{200, "text/plain", "hi\n"};
                            }},
                           {"/busy", [] { return HttpAnswer{503, "application/json", "{\"ready\":false}\n"}; }},
                           {"/throws", []() -> HttpAnswer { throw std::runtime_error("boom"); }}}};
  std::thread thread;

  Running() {
    server.start("127.0.0.1:0");
    thread = std::thread([this] { io.run(); });
  }
  ~Running() {
    server.stop();
    work.reset();
    io.stop();
    thread.join();
  }
  std::string url(const std::string& path) const { return "http://" + server.endpoint() + path; }
};

test::RunResult curl(std::vector<std::string> args) {
  std::vector<std::string> argv{"curl", "-s", "--max-time", "5"};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run(argv);
}

TEST(StatusServer, AnswersItsRoutes) {
  Running r;
  EXPECT_NE(r.server.endpoint().find("127.0.0.1:"), std::string::npos);
  EXPECT_NE(r.server.endpoint(), "127.0.0.1:0");
  auto ok = curl({"-i", r.url("/hello?x=1")});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("HTTP/1.1 200 OK"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("Content-Type: text/plain"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("Cache-Control: no-store"), std::string::npos) << ok.out;
  EXPECT_TRUE(ok.out.ends_with("\r\n\r\nhi\n")) << ok.out;
  auto busy = curl({"-o", "/dev/null", "-w", "%{http_code}", r.url("/busy")});
  EXPECT_EQ(busy.out, "503");
  auto missing = curl({"-w", "%{http_code}", r.url("/nope")});
  EXPECT_TRUE(missing.out.ends_with("404")) << missing.out;
  EXPECT_NE(missing.out.find("/hello"), std::string::npos) << missing.out;
  auto failing = curl({"-o", "/dev/null", "-w", "%{http_code}", r.url("/throws")});
  EXPECT_EQ(failing.out, "500");
}

TEST(StatusServer, OnlyGetAndHead) {
  Running r;
  auto post = curl({"-i", "-X", "POST", "--data", "x=1", r.url("/hello")});
  EXPECT_NE(post.out.find("HTTP/1.1 4"), std::string::npos) << post.out;  // 405, or 413 for the body
  auto del = curl({"-i", "-X", "DELETE", r.url("/hello")});
  EXPECT_NE(del.out.find("HTTP/1.1 405"), std::string::npos) << del.out;
  EXPECT_NE(del.out.find("Allow: GET, HEAD"), std::string::npos) << del.out;
  auto head = curl({"-I", r.url("/hello")});
  EXPECT_NE(head.out.find("HTTP/1.1 200"), std::string::npos) << head.out;
  EXPECT_NE(head.out.find("Content-Length: 3"), std::string::npos) << head.out;
  EXPECT_EQ(r.calls.load(), 1) << "the POST and DELETE never reached the route";
}

TEST(StatusServer, RefusesOversizedHeaders) {
  Running r;
  auto big = curl({"-o", "/dev/null", "-w", "%{http_code}", "-H", "X-Big: " + std::string(20000, 'a'), r.url("/hello")});
  EXPECT_EQ(big.out, "431");
  EXPECT_EQ(r.calls.load(), 0);
}

TEST(StatusServer, KeepsTheConnectionForSeveralRequests) {
  Running r;
  auto two = curl({"-w", "%{num_connects}\n", r.url("/hello"), r.url("/hello")});
  EXPECT_EQ(two.out, "hi\n1\nhi\n0\n") << "the second request reused the connection";
  EXPECT_EQ(r.calls.load(), 2);
}

TEST(StatusServer, BindFailureNamesTheAddress) {
  Running r;
  boost::asio::io_context io;
  StatusServer second(io, {});
  try {
    second.start(r.server.endpoint());
    FAIL() << "bound a port already in use";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(r.server.endpoint()), std::string::npos) << e.what();
  }
  EXPECT_THROW(second.start("unix:/tmp/x"), std::runtime_error);
  EXPECT_THROW(second.start("not an address"), std::runtime_error);
}

TEST(StatusServer, SlowClientsAreCutOffAtTheReadDeadline) {
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  StatusServerLimits limits;
  limits.read_timeout = std::chrono::milliseconds(300);
  StatusServer server(io, {{"/x", [] { return HttpAnswer{}; }}}, limits);
  server.start("127.0.0.1:0");
  std::thread t([&] { io.run(); });
  // A client that connects and says nothing: the server closes the connection after its read deadline.
  auto port = server.endpoint().substr(server.endpoint().rfind(':') + 1);
  auto started = std::chrono::steady_clock::now();
  auto r = test::run({test::python3(), "-c",
                      "import socket; s = socket.create_connection(('127.0.0.1', " + port +
                          ")); s.settimeout(5); print(len(s.recv(100)))"});
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.out, "0\n") << r.err;
  EXPECT_LT(took, std::chrono::seconds(3));
  server.stop();
  work.reset();
  io.stop();
  t.join();
}

}  // namespace
}  // namespace smarthost::ops
