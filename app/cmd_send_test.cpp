// `smarthost send-test --to ADDR [--from ADDR] [--timeout SECONDS]`: sends one message through the running relay
// and prints its journey: the SMTP submission, then each change the queue admin socket reports (attempts, the last
// answer) until the message leaves the queue. Exit 0 delivered, 1 failed for good, 75 still waiting or no relay.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <random>
#include <thread>

#include "app/commands.h"
#include "app/config_source.h"
#include "app/local_submit.h"
#include "queue/admin_client.h"

namespace smarthost::app {
namespace {

using Clock = std::chrono::steady_clock;

std::string message_text(const std::string& from, const std::string& to, const std::string& host) {
  std::random_device rd;
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char date[64];
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: smarthost send-test from " + host + "\r\nDate: " +
         date + "\r\nMessage-ID: <send-test." + std::to_string(rd()) + std::to_string(rd()) + "@" + host +
         ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
         "This message was sent by `smarthost send-test` to follow one message through the relay.\r\n";
}

std::string elapsed(Clock::time_point start) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%6.2fs", static_cast<double>(ms) / 1000.0);
  return buf;
}

}  // namespace

int run_send_test(const Invocation& inv) {
  std::string to, from;
  std::chrono::seconds timeout{60};
  for (size_t i = 0; i < inv.args.size(); ++i) {
    const std::string& a = inv.args[i];
    auto value = [&](std::string_view flag) { return option_value(inv.args, i, flag); };
    if (auto v = value("--to")) {
      to = *v;
    } else if (auto v = value("--from")) {
      from = *v;
    } else if (auto v = value("--timeout")) {
      long s = std::atol(v->c_str());
      if (s < 1 || s > 3600) {
        std::cerr << "smarthost send-test: --timeout takes 1 to 3600 seconds\n";
        return kExitUsage;
      }
      timeout = std::chrono::seconds(s);
    } else {
      std::cerr << "smarthost send-test: unknown argument '" << a << "'\n";
      return kExitUsage;
    }
  }
  if (to.empty() || to.find('@') == std::string::npos) {
    std::cerr << "smarthost send-test: --to ADDR is required\n";
    return kExitUsage;
  }
  auto loaded = load_config(inv.global, true, conf::SecretFiles::skip);
  if (!loaded) return kExitConfig;
  const auto& config = *loaded->config;
  const std::string host = local_hostname(config);
  if (from.empty()) from = "send-test@" + host;
  const std::string address = submit_address(config);
  const auto start = Clock::now();

  std::cout << elapsed(start) << "  submitting to " << address << ": MAIL FROM:<" << from << "> RCPT TO:<" << to
            << ">\n";
  auto submitted = submit_local(address, from, {to}, message_text(from, to, host), timeout);
  if (submitted.status != SubmitResult::Status::accepted) {
    std::cout << elapsed(start) << "  not accepted: " << submitted.reply << "\n";
    if (submitted.status == SubmitResult::Status::unreachable) {
      std::cout << "is the relay running? (smarthost serve)\n";
      return kExitTempFail;
    }
    return submitted.status == SubmitResult::Status::permanent ? kExitConfig : kExitTempFail;
  }
  std::cout << elapsed(start) << "  accepted: " << submitted.reply << "\n";
  if (submitted.queue_id.empty()) {
    std::cout << elapsed(start) << "  no queue id in the answer: cannot follow the message further\n";
    return kExitOk;
  }

  const auto socket = std::filesystem::path(config.queue.dir) / "admin.sock";
  queue::admin::Request show;
  show.verb = queue::admin::Verb::show;
  std::string error;
  auto parsed = queue::admin::parse_request("show " + submitted.queue_id, error);
  if (!parsed) {
    std::cout << elapsed(start) << "  cannot follow queue id " << submitted.queue_id << ": " << error << "\n";
    return kExitOk;
  }
  show = *parsed;
  std::string last_seen;
  const auto deadline = start + timeout;
  bool seen_in_queue = false;
  while (Clock::now() < deadline) {
    auto exchange = queue::admin::ask(socket, show, std::chrono::seconds(5));
    if (exchange.reach != queue::admin::Exchange::Reach::answered || !exchange.answer) {
      std::cout << elapsed(start) << "  cannot ask the relay about " << submitted.queue_id << " through " << socket.string()
                << ": " << (exchange.error.empty() ? "no admin socket" : exchange.error) << "\n";
      return kExitTempFail;
    }
    const auto& answer = *exchange.answer;
    if (answer.status == queue::admin::Status::not_found) {
      std::cout << elapsed(start) << "  " << submitted.queue_id
                << (seen_in_queue ? " left the queue: delivered\n" : " was delivered before it could be watched\n");
      return kExitOk;
    }
    if (answer.status != queue::admin::Status::ok || !answer.details) {
      std::cout << elapsed(start) << "  the relay answered: " << answer.error << "\n";
      return kExitTempFail;
    }
    seen_in_queue = true;
    const auto& entry = answer.details->entry;
    std::string state = "attempts=" + std::to_string(entry.attempts);
    for (const auto& r : entry.recipients) {
      state += "  " + r.address + ": " +
               (r.state == mail::RecipientState::delivered ? "delivered"
                : r.state == mail::RecipientState::failed  ? "failed"
                                                           : "pending") +
               (r.last_reply.empty() ? "" : " (" + r.last_reply + ")");
    }
    if (entry.folder == queue::Folder::failed) {
      std::cout << elapsed(start) << "  failed for good: " << state << "\n";
      return kExitConfig;
    }
    if (entry.folder == queue::Folder::hold) state += "  [held]";
    if (state != last_seen) {
      std::cout << elapsed(start) << "  in the queue: " << state << "\n";
      last_seen = state;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cout << elapsed(start) << "  still queued after " << timeout.count() << "s: " << last_seen << "\n";
  return kExitTempFail;
}

}  // namespace smarthost::app
