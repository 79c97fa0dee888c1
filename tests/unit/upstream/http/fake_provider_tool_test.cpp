// The fake_provider executable used by end-to-end tests: it prints its port, answers like the provider, follows
// its script and records each request as a JSON line.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/upstream/http/run_awaitable.h"
#include "upstream/http/http_client.h"

namespace smarthost::upstream::http {
namespace {

using namespace std::chrono_literals;

// Waits (bounded) until the tool has written its port line.
int read_port(const std::filesystem::path& log) {
  auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    std::string text = test::read_file(log);
    if (auto eol = text.find('\n'); eol != std::string::npos) return std::stoi(text.substr(0, eol));
    std::this_thread::sleep_for(10ms);  // polling a file the child writes; bounded by the deadline above
  }
  return 0;
}

TEST(FakeProviderTool, ServesRecordsAndFollowsItsScript) {
  test::TempDir dir;
  auto log = dir.path() / "out.log";
  auto record = dir.path() / "requests.jsonl";
  test::Process tool({FAKE_PROVIDER_BIN, "--provider", "sendgrid", "--port", "0", "--api-key", "SG.k", "--record",
                      record.string(), "--script", "429,ok"},
                     {}, log.string());
  int port = read_port(log);
  ASSERT_GT(port, 0) << test::read_file(log);

  boost::asio::io_context io;
  HttpClient client(io.get_executor());
  HttpRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(port) + "/v3/mail/send";
  request.headers = {{"Authorization", "Bearer SG.k"}, {"Content-Type", "application/json"}};
  request.body = R"({"personalizations":[{"to":[{"email":"a@example.net"}]}],"from":{"email":"b@example.com"},)"
                 R"("subject":"s","content":[{"type":"text/plain","value":"v"}]})";
  EXPECT_EQ(test::run_awaitable(io, client.request(request)).status, 429);
  auto ok = test::run_awaitable(io, client.request(request));
  EXPECT_EQ(ok.status, 202);
  EXPECT_FALSE(ok.header("x-message-id").empty());
  request.headers = {{"Authorization", "Bearer wrong"}, {"Content-Type", "application/json"}};
  EXPECT_EQ(test::run_awaitable(io, client.request(request)).status, 400);

  tool.signal(SIGTERM);
  EXPECT_EQ(tool.wait(5s), 0);
  std::ifstream lines(record);
  std::string line;
  std::vector<boost::json::value> records;
  while (std::getline(lines, line)) records.push_back(boost::json::parse(line));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].at("status"), 429);
  EXPECT_EQ(records[1].at("status"), 202);
  EXPECT_EQ(records[1].at("target"), "/v3/mail/send");
  EXPECT_TRUE(records[1].at("problems").as_array().empty());
  EXPECT_EQ(records[2].at("status"), 400);
  EXPECT_FALSE(records[2].at("problems").as_array().empty());
}

}  // namespace
}  // namespace smarthost::upstream::http
