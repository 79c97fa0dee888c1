// Adapts the AUTH users file (smtpd/users_file.h) to the access policy's Authenticator.
#pragma once

#include <memory>

#include "policy/access_policy.h"
#include "smtpd/users_file.h"

namespace smarthost::policy {

class UsersAuthenticator final : public Authenticator {
 public:
  explicit UsersAuthenticator(smtpd::UsersFile users) : users_(std::move(users)) {}
  bool check(std::string_view user, std::string_view password) const override {
    return users_.verify(user, password);
  }
  std::vector<std::string> senders_of(std::string_view user) const override {
    const auto* entry = users_.find(user);
    return entry ? entry->senders : std::vector<std::string>{};
  }

 private:
  smtpd::UsersFile users_;
};

}  // namespace smarthost::policy
