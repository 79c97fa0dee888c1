// `smarthost sendmail` (also argv[0] == "sendmail"): the drop-in /usr/sbin/sendmail for cron, PHP and scripts.
// Submits through the local listener; when the relay is down, writes straight into the spool. The exit status
// tells success (0) from temporary (75) and permanent (65) failure.
#include <poll.h>
#include <pwd.h>
#include <unistd.h>

#include <cstring>
#include <iostream>

#include "app/commands.h"
#include "app/config_source.h"
#include "app/local_submit.h"
#include "app/offline_spool.h"
#include "app/sendmail_message.h"

namespace smarthost::app {
namespace {

constexpr int kExitDataErr = 65;

std::string login_name() {
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_name) return pw->pw_name;
  if (const char* u = std::getenv("USER")) return u;
  return "nobody";
}

// -bs: an SMTP conversation on stdin/stdout, relayed to the local listener.
int relay_stdio(const std::string& address) {
  int fd = connect_local(address, std::chrono::seconds(5));
  if (fd < 0) {
    std::cout << "421 4.3.0 smarthost is not running (" << address << ")\r\n" << std::flush;
    return kExitTempFail;
  }
  pollfd fds[2] = {{0, POLLIN, 0}, {fd, POLLIN, 0}};
  char buf[16384];
  bool stdin_open = true;
  for (;;) {
    int n = ::poll(fds, 2, 600 * 1000);
    if (n <= 0) break;
    if (stdin_open && fds[0].revents) {
      ssize_t r = ::read(0, buf, sizeof buf);
      if (r <= 0) {
        stdin_open = false;
        fds[0].fd = -1;
        ::shutdown(fd, SHUT_WR);
      } else if (::send(fd, buf, static_cast<size_t>(r), MSG_NOSIGNAL) != r) {
        break;
      }
    }
    if (fds[1].revents) {
      ssize_t r = ::recv(fd, buf, sizeof buf, 0);
      if (r <= 0) break;
      if (::write(1, buf, static_cast<size_t>(r)) != r) break;
    }
  }
  ::close(fd);
  return kExitOk;
}

}  // namespace

int run_sendmail(const Invocation& inv) {
  SendmailOptions options;
  if (auto error = parse_sendmail_args(inv.args, options); !error.empty()) {
    std::cerr << "sendmail: " << error << "\n";
    return kExitUsage;
  }
  auto loaded = load_config(inv.global, true, conf::SecretFiles::skip);
  if (!loaded) return kExitConfig;
  const auto& config = *loaded->config;
  std::string address = submit_address(config);
  if (options.smtp_on_stdio) return relay_stdio(address);

  std::string input;
  char buf[65536];
  const uint64_t cap = config.server.max_message_size + 65536;
  for (;;) {
    ssize_t r = ::read(0, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    input.append(buf, static_cast<size_t>(r));
    if (input.size() > cap) {
      std::cerr << "sendmail: message larger than server.max_message_size (" << config.server.max_message_size
                << " bytes)\n";
      return kExitDataErr;
    }
  }
  std::string hostname = local_hostname(config);
  auto message = prepare_message(input, options, login_name() + "@" + hostname, hostname);
  if (message.recipients.empty()) {
    std::cerr << "sendmail: no recipients (give addresses as arguments, or -t with To/Cc/Bcc headers)\n";
    return kExitUsage;
  }
  auto result = submit_local(address, message.sender, message.recipients, message.content);
  if (result.status == SubmitResult::Status::unreachable) {
    // The relay is not running: queue the message directly; the relay delivers it when it starts.
    auto offline = spool_offline(config, message.sender, message.recipients, message.content);
    if (offline.ok) return kExitOk;
    std::cerr << "sendmail: " << result.reply << "; and the spool could not take the message: " << offline.error
              << "\n";
    return kExitTempFail;
  }
  if (result.status == SubmitResult::Status::accepted) return kExitOk;
  std::cerr << "sendmail: mail not accepted: " << result.reply << "\n";
  return result.status == SubmitResult::Status::temporary ? kExitTempFail : kExitDataErr;
}

}  // namespace smarthost::app
