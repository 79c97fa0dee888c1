// Dropping root for `serve --user NAME`: resolves the account, hands it the directories it must write (the queue,
// file-provider outboxes), then switches to it keeping only CAP_NET_BIND_SERVICE, so that a reload can still open
// a port below 1024. It binds nothing and reads no configuration.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace smarthost::app {

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Looks the user up (a name, or a numeric uid). nullopt with `error` set when there is no such user.
std::optional<Account> find_account(const std::string& name, std::string& error);

// Creates each directory when missing and gives it, with everything in it, to `account` where it belongs to
// someone else. False with `error` naming the path on failure.
bool give_directories(const std::vector<std::filesystem::path>& dirs, const Account& account, std::string& error);

// Becomes `account` for good (groups, gid, uid), keeping CAP_NET_BIND_SERVICE and setting no_new_privs.
// False with `error` on any failure; the caller must then exit.
bool drop_privileges(const Account& account, std::string& error);

}  // namespace smarthost::app
