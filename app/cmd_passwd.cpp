// `smarthost passwd USER`: reads a password (without echo on a terminal, or one line from a pipe) and prints a
// users-file line "USER:<yescrypt hash>". The password is never printed or logged.
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "app/commands.h"
#include "smtpd/users_file.h"

namespace smarthost::app {
namespace {

std::string read_password(const char* prompt) {
  std::string line;
  if (::isatty(0)) {
    std::cerr << prompt << std::flush;
    termios old{};
    ::tcgetattr(0, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(0, TCSAFLUSH, &quiet);
    std::getline(std::cin, line);
    ::tcsetattr(0, TCSAFLUSH, &old);
    std::cerr << "\n";
  } else {
    std::getline(std::cin, line);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

int run_passwd(const Invocation& inv) {
  if (inv.args.size() != 1 || inv.args[0].empty() || inv.args[0].find(':') != std::string::npos) {
    std::cerr << "Usage: smarthost passwd USER   (the user name may not contain ':')\n";
    return kExitUsage;
  }
  std::string password = read_password("Password: ");
  if (password.empty()) {
    std::cerr << "smarthost passwd: empty password refused\n";
    return kExitUsage;
  }
  if (::isatty(0) && read_password("Again: ") != password) {
    std::cerr << "smarthost passwd: the passwords differ\n";
    return kExitUsage;
  }
  std::string hash = smtpd::hash_password(password);
  if (hash.empty()) {
    std::cerr << "smarthost passwd: hashing failed\n";
    return kExitTempFail;
  }
  std::cout << inv.args[0] << ":" << hash << "\n";
  return kExitOk;
}

}  // namespace smarthost::app
