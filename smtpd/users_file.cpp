// Users file parsing and password checks on libxcrypt (crypt_rn, crypt_gensalt_rn, crypt_checksalt).
// Passwords are copied only into buffers that are wiped afterwards; nothing here logs.
#include "smtpd/users_file.h"

#include <crypt.h>
#include <string.h>  // explicit_bzero

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

namespace smarthost::smtpd {
namespace {

constexpr uintmax_t kMaxFileSize = 16 * 1024 * 1024;
constexpr size_t kMaxUserName = 255;

constexpr std::array<std::string_view, 5> kHashPrefixes{"$y$", "$6$", "$2b$", "$2a$", "$2y$"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool has_space_or_control(std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F) return true;
  }
  return false;
}

// Compares without stopping at the first difference (the hash of a wrong password differs early).
bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// The libxcrypt work area (about 32 KiB): on the heap, zeroed before use and wiped after.
struct CryptArea {
  std::unique_ptr<crypt_data> data = std::make_unique<crypt_data>();
  ~CryptArea() { explicit_bzero(data.get(), sizeof(crypt_data)); }
};

// The hash unknown users are checked against, so that they cost the same work as known ones.
const std::string& decoy_hash() {
  static const std::string hash = hash_password("smarthost decoy password");
  return hash;
}

}  // namespace

bool verify_password(std::string_view password, std::string_view hash) {
  if (hash.empty() || password.find('\0') != std::string_view::npos || hash.find('\0') != std::string_view::npos)
    return false;
  std::string phrase(password);
  const std::string setting(hash);
  CryptArea area;
  const char* out = crypt_rn(phrase.c_str(), setting.c_str(), area.data.get(), sizeof(crypt_data));
  explicit_bzero(phrase.data(), phrase.size());
  // libxcrypt may return a failure token starting with '*' instead of a null pointer.
  if (out == nullptr || out[0] == '*') return false;
  return constant_time_equal(out, hash);
}

std::string hash_password_with(std::string_view password, const char* prefix) {
  if (password.find('\0') != std::string_view::npos) return {};
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn(prefix, 0, nullptr, 0, salt, sizeof salt) == nullptr || salt[0] == '*') return {};
  std::string phrase(password);
  CryptArea area;
  const char* out = crypt_rn(phrase.c_str(), salt, area.data.get(), sizeof(crypt_data));
  explicit_bzero(phrase.data(), phrase.size());
  if (out == nullptr || out[0] == '*') return {};
  return out;
}

std::string hash_password(std::string_view password) { return hash_password_with(password, "$y$"); }

std::optional<UsersFile> UsersFile::parse(std::string_view text, std::string_view source, std::string& error) {
  UsersFile file;
  size_t line_number = 0;
  auto fail = [&](std::string_view what) {
    error = std::string(source) + ":" + std::to_string(line_number) + ": " + std::string(what);
    return std::nullopt;
  };
  while (!text.empty()) {
    ++line_number;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;

    const size_t c1 = line.find(':');
    if (c1 == std::string_view::npos) return fail("expected user:hash[:senders]");
    const std::string_view name = trim(line.substr(0, c1));
    std::string_view rest = line.substr(c1 + 1);
    const size_t c2 = rest.find(':');
    const std::string_view hash = trim(rest.substr(0, c2));
    const std::string_view senders = c2 == std::string_view::npos ? std::string_view{} : trim(rest.substr(c2 + 1));

    if (name.empty()) return fail("empty user name");
    if (name.size() > kMaxUserName) return fail("user name longer than 255 octets");
    if (has_space_or_control(name)) return fail("user name contains a space or control character");
    if (file.users_.count(std::string(name)) != 0) return fail("duplicate user '" + std::string(name) + "'");
    if (hash.empty()) return fail("empty password hash for user '" + std::string(name) + "'");
    bool known = false;
    for (auto prefix : kHashPrefixes) known = known || hash.substr(0, prefix.size()) == prefix;
    const std::string hash_text(hash);
    if (!known || has_space_or_control(hash) || crypt_checksalt(hash_text.c_str()) != CRYPT_SALT_OK) {
      return fail("unsupported or malformed password hash for user '" + std::string(name) +
                  "' (use yescrypt $y$, sha512-crypt $6$ or bcrypt $2b$; see `smarthost passwd`)");
    }

    UserEntry entry{std::string(name), hash_text, {}};
    std::string_view list = senders;
    while (!list.empty()) {
      const size_t comma = list.find(',');
      const std::string_view sender = trim(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      if (sender.empty() || has_space_or_control(sender))
        return fail("bad sender list for user '" + std::string(name) + "' (comma-separated, no spaces)");
      entry.senders.emplace_back(sender);
    }
    file.users_.emplace(entry.name, std::move(entry));
  }
  return file;
}

std::optional<UsersFile> UsersFile::load(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open users file: " + std::string(strerror(errno));
    return std::nullopt;
  }
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    error = path + ": cannot read users file: " + ec.message();
    return std::nullopt;
  }
  if (size > kMaxFileSize) {
    error = path + ": users file larger than 16 MiB";
    return std::nullopt;
  }
  std::string text(static_cast<size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (in.bad()) {
    error = path + ": cannot read users file";
    return std::nullopt;
  }
  text.resize(static_cast<size_t>(in.gcount()));
  return parse(text, path, error);
}

bool UsersFile::verify(std::string_view user, std::string_view password) const {
  const UserEntry* entry = find(user);
  if (entry == nullptr) {
    (void)verify_password(password, decoy_hash());
    return false;
  }
  return verify_password(password, entry->hash);
}

const UserEntry* UsersFile::find(std::string_view user) const {
  const auto it = users_.find(std::string(user));
  return it == users_.end() ? nullptr : &it->second;
}

}  // namespace smarthost::smtpd
