// setgroups/setgid/setuid with PR_SET_KEEPCAPS, then capset() down to CAP_NET_BIND_SERVICE: the raw system calls,
// so that no libcap is needed. Verified at the end: going back to root must fail.
#include "app/privileges.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace smarthost::app {
namespace {

std::string errno_text() { return std::strerror(errno); }

bool chown_one(const std::filesystem::path& p, const Account& a, std::string& error) {
  if (::lchown(p.c_str(), a.uid, a.gid) != 0) {
    error = "cannot give " + p.string() + " to " + a.name + ": " + errno_text();
    return false;
  }
  return true;
}

}  // namespace

std::optional<Account> find_account(const std::string& name, std::string& error) {
  std::vector<char> buffer(16384);
  passwd pw{};
  passwd* found = nullptr;
  bool numeric = !name.empty() && name.find_first_not_of("0123456789") == std::string::npos;
  int rc = numeric ? ::getpwuid_r(static_cast<uid_t>(std::stoul(name)), &pw, buffer.data(), buffer.size(), &found)
                   : ::getpwnam_r(name.c_str(), &pw, buffer.data(), buffer.size(), &found);
  if (rc != 0 || found == nullptr) {
    error = "no such user: " + name;
    return std::nullopt;
  }
  return Account{pw.pw_name, pw.pw_uid, pw.pw_gid};
}

bool give_directories(const std::vector<std::filesystem::path>& dirs, const Account& account, std::string& error) {
  for (const auto& dir : dirs) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      error = "cannot create " + dir.string() + ": " + ec.message();
      return false;
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && st.st_uid == account.uid) continue;
    if (!chown_one(dir, account, error)) return false;
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (!chown_one(it->path(), account, error)) return false;
    }
    if (ec) {
      error = "cannot walk " + dir.string() + ": " + ec.message();
      return false;
    }
  }
  return true;
}

bool drop_privileges(const Account& account, std::string& error) {
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    error = "prctl(PR_SET_KEEPCAPS): " + errno_text();
    return false;
  }
  gid_t groups[] = {account.gid};
  if (::setgroups(1, groups) != 0 || ::setresgid(account.gid, account.gid, account.gid) != 0 ||
      ::setresuid(account.uid, account.uid, account.uid) != 0) {
    error = "cannot switch to user " + account.name + ": " + errno_text();
    return false;
  }
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  data[CAP_TO_INDEX(CAP_NET_BIND_SERVICE)].effective = CAP_TO_MASK(CAP_NET_BIND_SERVICE);
  data[CAP_TO_INDEX(CAP_NET_BIND_SERVICE)].permitted = CAP_TO_MASK(CAP_NET_BIND_SERVICE);
  if (::syscall(SYS_capset, &header, data) != 0) {
    error = "capset: " + errno_text();
    return false;
  }
  ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (account.uid != 0 && (::setuid(0) == 0 || ::geteuid() == 0)) {
    error = "still able to become root after dropping privileges";
    return false;
  }
  return true;
}

}  // namespace smarthost::app
