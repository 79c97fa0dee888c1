// The embedded development profile, as `make run` starts it: no configuration file, SMTP on 127.0.0.1:2525,
// mail written into ./smarthost-data/outbox within a second, and a banner that says so.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <thread>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using namespace smarthost::test;

TEST(DevProfile, SwaksToTheDefaultProfileLandsInTheOutbox) {
  if (wait_for_port(2525, std::chrono::milliseconds(1))) GTEST_SKIP() << "port 2525 is busy";
  TempDir cwd;
  auto log = cwd.path() / "serve.log";
  // Run from the temp dir, so ./smarthost-data is created there; no config anywhere.
  Process relay({"/bin/sh", "-c", "cd '" + cwd.path().string() + "' && exec '" + smarthost_bin().string() + "' serve"},
                {{"SMARTHOST_CONFIG", ""}}, log.string());
  ASSERT_TRUE(wait_for_port(2525, std::chrono::seconds(10))) << read_file(log);
  auto sent = run({"swaks", "--server", "127.0.0.1:2525", "--to", "a@example.net", "--from", "dev@example.org",
                   "--header", "Subject: dev profile"});
  ASSERT_EQ(sent.exit_code, 0) << sent.out << sent.err;
  EXPECT_NE(sent.out.find("250 2.0.0 Ok: queued as"), std::string::npos);

  auto outbox = cwd.path() / "smarthost-data" / "outbox";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  std::vector<fs::path> eml;
  while (eml.empty() && std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(outbox, ec))
      if (e.path().extension() == ".eml") eml.push_back(e.path());
    if (eml.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(eml.size(), 1u) << "no message in the outbox within a second\n" << read_file(log);
  std::string message = read_file(eml[0]);
  EXPECT_EQ(message.rfind("Received: from ", 0), 0u) << message;
  EXPECT_NE(message.find("Subject: dev profile"), std::string::npos);
  auto json = eml[0];
  json.replace_extension(".json");
  // The sidecar is written just after the message: give it a moment.
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
       !fs::exists(json) && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::string envelope = read_file(json);
  EXPECT_NE(envelope.find("\"mail_from\":\"dev@example.org\""), std::string::npos) << envelope;
  EXPECT_NE(envelope.find("a@example.net"), std::string::npos) << envelope;

  relay.signal(SIGTERM);
  EXPECT_EQ(relay.wait(std::chrono::seconds(15)), 0);
  std::string banner = read_file(log);
  EXPECT_NE(banner.find("127.0.0.1:2525"), std::string::npos) << banner;
  EXPECT_NE(banner.find("smarthost-data/outbox"), std::string::npos) << banner;
}
