// fake_provider: one fake provider API server as a process, for end-to-end tests through `smarthost serve`.
// Prints the port it listens on (one line), records every request as a JSON line when --record is given, and
// runs until SIGINT or SIGTERM. Scripted answers (--script) are used in order before the usual success answers.
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <string>

#include "tests/support/fake_providers/fake_provider.h"

namespace {

int usage() {
  std::cerr << "usage: fake_provider --provider mailgun|sendgrid|postmark|ses [--port N] [--record FILE]\n"
               "         [--api-key K] [--domain D] [--region R] [--access-key-id ID] [--secret-access-key S]\n"
               "         [--session-token T] [--allow-control-headers] [--tls-cert PEM --tls-key PEM]\n"
               "         [--script 429,503,401,400,slow:MS,drop,ok,...]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace smarthost::test;
  std::string provider, record, script, cert, key;
  int port = 0;
  FakeCredentials credentials;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    try {
      if (arg == "--provider") provider = value();
      else if (arg == "--port") port = std::stoi(value());
      else if (arg == "--record") record = value();
      else if (arg == "--api-key") credentials.api_key = value();
      else if (arg == "--domain") credentials.domain = value();
      else if (arg == "--region") credentials.region = value();
      else if (arg == "--access-key-id") credentials.aws_access_key_id = value();
      else if (arg == "--secret-access-key") credentials.aws_secret_access_key = value();
      else if (arg == "--session-token") credentials.aws_session_token = value();
      else if (arg == "--allow-control-headers") credentials.allow_control_headers = true;
      else if (arg == "--tls-cert") cert = value();
      else if (arg == "--tls-key") key = value();
      else if (arg == "--script") script = value();
      else return usage();
    } catch (const std::exception& e) {
      std::cerr << "fake_provider: " << e.what() << "\n";
      return usage();
    }
  }
  if (provider.empty() || port < 0 || port > 65535) return usage();
  // SIGINT and SIGTERM are taken with sigwait below; blocked first so that the server thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    FakeTls tls{cert, key};
    FakeProvider fake(fake_kind_from(provider), credentials, static_cast<uint16_t>(port),
                      cert.empty() ? nullptr : &tls);
    if (!record.empty()) fake.record_to(record);
    std::size_t pos = 0;
    while (pos < script.size()) {
      auto end = script.find(',', pos);
      std::string step = script.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      pos = end == std::string::npos ? script.size() : end + 1;
      if (step == "429") fake.push_answer(fake.throttled(1));
      else if (step == "503" || step == "500") fake.push_answer(fake.server_error());
      else if (step == "401") fake.push_answer(fake.bad_credentials());
      else if (step == "400") fake.push_answer(fake.rejected("rejected by the fake"));
      else if (step == "drop") fake.push_answer(FakeProvider::dropped());
      else if (step.starts_with("slow:")) fake.push_answer(FakeProvider::slow(std::chrono::milliseconds(std::stoi(step.substr(5)))));
      else if (step == "ok") {
        // "ok" is the default answer; scripting it keeps later steps in place. Checked requests still fail.
        fake.push_answer(FakeProvider::usual());
      } else {
        std::cerr << "fake_provider: unknown script step '" << step << "'\n";
        return 2;
      }
    }
    std::cout << fake.port() << std::endl;
    int received = 0;
    sigwait(&signals, &received);
  } catch (const std::exception& e) {
    std::cerr << "fake_provider: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
