// The AUTH users file: lines "user:crypt-hash[:sender1,sender2,...]", '#' comments and blank lines allowed.
// Hashes are crypt(3) strings checked with libxcrypt (yescrypt $y$, sha512-crypt $6$, bcrypt $2b$/$2a$/$2y$).
// It parses and verifies; it does not watch the file, rate-limit failures or decide what the senders list means.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace smarthost::smtpd {

struct UserEntry {
  std::string name;
  std::string hash;                  // crypt(3) format
  std::vector<std::string> senders;  // the third field, split at commas and trimmed; empty when absent
};

class UsersFile {
 public:
  // Parses the text of a users file. On a bad line returns nullopt and sets `error` to
  // "<source>:<line>: <what is wrong>" (never quoting the hash).
  static std::optional<UsersFile> parse(std::string_view text, std::string_view source, std::string& error);
  // Reads and parses a file (at most 16 MiB).
  static std::optional<UsersFile> load(const std::string& path, std::string& error);

  // True when the user exists and the password matches its hash. Unknown users cost the same hashing work,
  // so timing does not tell which user names exist. Slow by design (tens of milliseconds): run it off the
  // event loop's hot path if that matters.
  bool verify(std::string_view user, std::string_view password) const;

  const UserEntry* find(std::string_view user) const;
  size_t size() const { return users_.size(); }

 private:
  std::unordered_map<std::string, UserEntry> users_;
};

// Checks a password against one crypt(3) hash in constant time (for the comparison). False on any error.
bool verify_password(std::string_view password, std::string_view hash);

// A new yescrypt hash ("$y$...") with a random salt, for `smarthost passwd`. Empty on failure.
std::string hash_password(std::string_view password);

// A new hash with the given libxcrypt prefix ("$y$", "$6$", "$2b$"); empty on failure or unknown prefix.
std::string hash_password_with(std::string_view password, const char* prefix);

}  // namespace smarthost::smtpd
