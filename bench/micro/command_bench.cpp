// Micro-benchmarks of SMTP command handling in smtpd_protocol: splitting a line into verb and argument, parsing
// MAIL/RCPT paths and parameters, and a whole transaction's command lines through the Session state machine.
// Measures CPU per command only; no sockets (the connection coroutine's I/O is measured by bench/run).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "mail/address.h"
#include "smtpd/command.h"
#include "smtpd/session.h"

namespace {

using namespace smarthost;

const std::vector<std::string> kLines = {
    "EHLO client.example.org",
    "MAIL FROM:<sender.name@example.org> SIZE=4096 BODY=8BITMIME",
    "RCPT TO:<recipient.name@example.net>",
    "DATA",
    "RSET",
    "NOOP",
    "QUIT",
};

void BM_parse_command(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) {
    auto command = smtpd::parse_command(kLines[i++ % kLines.size()]);
    benchmark::DoNotOptimize(command);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_parse_command);

void BM_parse_mail_from(benchmark::State& state) {
  const std::string line = "MAIL FROM:<sender.name@example.org> SIZE=4096 BODY=8BITMIME";
  for (auto _ : state) {
    auto command = smtpd::parse_command(line);
    auto after = smtpd::after_keyword(command.argument, "FROM:");
    auto path = mail::parse_path(*after, true, false);
    auto params = smtpd::parse_mail_parameters(path.rest);
    benchmark::DoNotOptimize(path);
    benchmark::DoNotOptimize(params);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_parse_mail_from);

class AllowAll final : public smtpd::SessionPolicy {
 public:
  smtpd::Verdict on_connect(const smtpd::ClientInfo&) override { return smtpd::Verdict::allow(); }
  smtpd::Verdict on_mail(const smtpd::SessionView&, std::string_view) override { return smtpd::Verdict::allow(); }
  smtpd::Verdict on_rcpt(const smtpd::SessionView&, std::string_view, std::string_view) override {
    return smtpd::Verdict::allow();
  }
  smtpd::Verdict on_end_of_data(const smtpd::SessionView&, const mail::Envelope&) override {
    return smtpd::Verdict::allow();
  }
  bool authenticate(const smtpd::ClientInfo&, std::string_view, std::string_view) override { return false; }
};

// One message's commands (MAIL, `range(0)` RCPTs, DATA, end of data, commit) on a session that said EHLO once.
void BM_session_transaction(benchmark::State& state) {
  AllowAll policy;
  smtpd::SessionSettings settings;
  settings.hostname = "relay.bench";
  settings.max_recipients = 1000;
  smtpd::Session session(settings, policy, smtpd::ClientInfo{"127.0.0.1", 40000, true, false});
  session.greeting();
  session.on_line("EHLO client.example.org");
  std::vector<std::string> rcpts;
  for (int64_t r = 0; r < state.range(0); ++r) rcpts.push_back("RCPT TO:<user" + std::to_string(r) + "@example.net>");
  smtpd::DataOutcome data{4096};
  smtpd::CommitOutcome commit{true, "0T9XK2M4B7QF"};
  for (auto _ : state) {
    benchmark::DoNotOptimize(session.on_line("MAIL FROM:<sender.name@example.org> SIZE=4096"));
    for (const auto& r : rcpts) benchmark::DoNotOptimize(session.on_line(r));
    benchmark::DoNotOptimize(session.on_line("DATA"));
    benchmark::DoNotOptimize(session.data_end(data));
    benchmark::DoNotOptimize(session.committed(commit));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("messages");
}
BENCHMARK(BM_session_transaction)->Arg(1)->Arg(100);

}  // namespace
