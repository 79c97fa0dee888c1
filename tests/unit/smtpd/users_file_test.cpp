// The users file: parsing with line-numbered errors, and password checks with yescrypt, sha512-crypt and bcrypt
// hashes generated here with libxcrypt.
#include "smtpd/users_file.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/temp_dir.h"

namespace smarthost::smtpd {
namespace {

TEST(PasswordHash, YescryptIsTheDefaultAndVerifies) {
  const std::string hash = hash_password("correct horse");
  ASSERT_EQ(hash.rfind("$y$", 0), 0u) << hash;
  EXPECT_TRUE(verify_password("correct horse", hash));
  EXPECT_FALSE(verify_password("correct horsE", hash));
  EXPECT_FALSE(verify_password("", hash));
  EXPECT_NE(hash_password("correct horse"), hash);  // a fresh salt each time
}

TEST(PasswordHash, Sha512CryptAndBcryptVerify) {
  for (const char* prefix : {"$6$", "$2b$"}) {
    const std::string hash = hash_password_with("s3cret", prefix);
    ASSERT_EQ(hash.rfind(prefix, 0), 0u) << hash;
    EXPECT_TRUE(verify_password("s3cret", hash)) << prefix;
    EXPECT_FALSE(verify_password("s3cret ", hash)) << prefix;
  }
}

TEST(PasswordHash, BrokenInputsNeverVerify) {
  const std::string hash = hash_password("pw");
  EXPECT_FALSE(verify_password("pw", ""));
  EXPECT_FALSE(verify_password("pw", "*"));
  EXPECT_FALSE(verify_password("pw", "$y$garbage"));
  EXPECT_FALSE(verify_password(std::string("pw\0x", 4), hash));
  EXPECT_FALSE(verify_password("pw", hash.substr(0, hash.size() - 1)));
}

TEST(UsersFile, ParsesUsersSendersCommentsAndBlankLines) {
  const std::string alice = hash_password("alice-pw");
  const std::string bob = hash_password_with("bob-pw", "$6$");
  const std::string text = "# users\n\n  alice:" + alice + "\r\nbob:" + bob +
                           ":bob@example.com, @example.org ,app@example.net\n   # indented comment\n";
  std::string error;
  const auto users = UsersFile::parse(text, "users", error);
  ASSERT_TRUE(users.has_value()) << error;
  EXPECT_EQ(users->size(), 2u);
  EXPECT_TRUE(users->verify("alice", "alice-pw"));
  EXPECT_FALSE(users->verify("alice", "bob-pw"));
  EXPECT_TRUE(users->verify("bob", "bob-pw"));
  EXPECT_FALSE(users->verify("carol", "alice-pw"));
  ASSERT_NE(users->find("bob"), nullptr);
  EXPECT_EQ(users->find("bob")->senders,
            (std::vector<std::string>{"bob@example.com", "@example.org", "app@example.net"}));
  EXPECT_TRUE(users->find("alice")->senders.empty());
  EXPECT_EQ(users->find("nobody"), nullptr);
}

TEST(UsersFile, BadLinesAreReportedWithTheirNumber) {
  const std::string good = hash_password_with("x", "$6$");
  struct Case {
    std::string text;
    std::string error;
  };
  const Case cases[] = {
      {"# c\nalice\n", "f:2: expected user:hash[:senders]"},
      {":" + good + "\n", "f:1: empty user name"},
      {"al ice:" + good + "\n", "f:1: user name contains a space or control character"},
      {"a:" + good + "\na:" + good + "\n", "f:2: duplicate user 'a'"},
      {"a:\n", "f:1: empty password hash for user 'a'"},
      {"\n\n\na:plaintext\n", "f:4: unsupported or malformed password hash for user 'a'"},
      {"a:$1$abc$def\n", "f:1: unsupported or malformed password hash for user 'a'"},
      {"a:" + good + ":x@example.com,,y@example.com\n", "f:1: bad sender list for user 'a'"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_FALSE(UsersFile::parse(c.text, "f", error).has_value()) << c.text;
    EXPECT_EQ(error.substr(0, c.error.size()), c.error) << error;
    EXPECT_EQ(error.find(good), std::string::npos) << "the hash must not be quoted: " << error;
    EXPECT_EQ(error.find("plaintext"), std::string::npos) << "the hash must not be quoted: " << error;
  }
}

TEST(UsersFile, LoadsFromDisk) {
  test::TempDir dir;
  const auto path = dir.write("users", "dave:" + hash_password_with("pw", "$2b$") + "\n");
  std::string error;
  const auto users = UsersFile::load(path.string(), error);
  ASSERT_TRUE(users.has_value()) << error;
  EXPECT_TRUE(users->verify("dave", "pw"));
  EXPECT_FALSE(UsersFile::load((dir.path() / "missing").string(), error).has_value());
  EXPECT_NE(error.find("cannot open users file"), std::string::npos);
}

}  // namespace
}  // namespace smarthost::smtpd
