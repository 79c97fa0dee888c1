// Secrets: ${NAME} and ${NAME:-default} in any string, X_file keys (trailing newline stripped, a warning for
// files readable by group or others), and the collection of every secret value into Config::secrets.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>

#include "tests/support/temp_dir.h"
#include "tests/unit/conf/load_text.h"

namespace smarthost::conf::test {
namespace {

using smarthost::test::TempDir;

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::filesystem::path secret_file(const TempDir& dir, const std::string& name, const std::string& content,
                                  mode_t mode) {
  auto path = dir.write(name, content);
  ::chmod(path.c_str(), mode);
  return path;
}

TEST(ConfSecrets, VariablesAreExpandedInAnyString) {
  LoadResult r = load(
      "provider = \"smtp\"\n[config]\nhost = \"${SMTP_HOST}\"\nusername = \"${SMTP_USER}\"\n"
      "password = \"${SMTP_PASSWORD}\"\nfrom_name = \"${FROM_NAME:-Relay}\"\n"
      "[server]\nlisten = [\"${LISTEN:-127.0.0.1:2525}\"]\n",
      "test.toml", env({{"SMTP_HOST", "smtp.example.com"}, {"SMTP_USER", "u"}, {"SMTP_PASSWORD", "pw"}}));
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  const auto& smtp = std::get<SmtpConfig>(r.config->upstreams[0].config);
  EXPECT_EQ(smtp.host, "smtp.example.com");
  EXPECT_EQ(smtp.password, "pw");
  EXPECT_EQ(r.config->server.listen, std::vector<std::string>{"127.0.0.1:2525"});
  EXPECT_EQ(r.config->upstreams[0].common.from_name, "Relay");
}

TEST(ConfSecrets, UnsetVariableIsAnErrorAtTheString) {
  LoadResult r = load("provider = \"smtp\"\n[config]\nhost = \"h.example\"\nusername = \"u\"\npassword = \"${SMTP_PASSWORD}\"\n");
  ASSERT_EQ(r.errors.size(), 1u) << joined(r.errors);
  EXPECT_EQ(r.errors[0].to_string(),
            "test.toml:5:12: environment variable SMTP_PASSWORD is not set (write ${SMTP_PASSWORD:-default} to give "
            "a default)");
}

TEST(ConfSecrets, ValuesOfOverriddenKeysAreNotExpanded) {
  // Expansion runs after the overlay merge: a variable only the base file mentions need not exist.
  TempDir dir;
  auto main = dir.write("smarthost.toml",
                        "environment = \"staging\"\nprovider = \"sendgrid\"\n[config]\napi_key = \"${PROD_KEY}\"\n");
  dir.write("smarthost.staging.toml", "[config]\napi_key = \"staging-key\"\n");
  LoadResult r = load_file(main.string(), env());
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_EQ(std::get<SendgridConfig>(r.config->upstreams[0].config).api_key, "staging-key");
}

TEST(ConfSecrets, FileKeysReadTheValueWithoutTheTrailingNewline) {
  TempDir dir;
  secret_file(dir, "smtp-password", "from-file\n", 0600);
  auto main = dir.write("smarthost.toml",
                        "provider = \"smtp\"\n[config]\nhost = \"h.example\"\nusername = \"u\"\n"
                        "password_file = \"smtp-password\"\n");  // relative to the configuration's directory
  LoadResult r = load_file(main.string(), env());
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << joined(r.warnings);
  EXPECT_EQ(std::get<SmtpConfig>(r.config->upstreams[0].config).password, "from-file");
  EXPECT_TRUE(contains(r.config->secrets, "from-file"));
}

TEST(ConfSecrets, FileKeysWorkForAnyStringKeyAndWithVariablesInThePath) {
  TempDir dir;
  secret_file(dir, "creds/host", "smtp.example.com\r\n", 0600);
  LoadResult r = load("provider = \"smtp\"\n[config]\nhost_file = \"${CREDENTIALS_DIRECTORY}/host\"\n", "t.toml",
                      env({{"CREDENTIALS_DIRECTORY", (dir.path() / "creds").string()}}));
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_EQ(std::get<SmtpConfig>(r.config->upstreams[0].config).host, "smtp.example.com");
}

TEST(ConfSecrets, GroupOrWorldReadableSecretFileWarns) {
  TempDir dir;
  auto path = secret_file(dir, "key", "SG.key\n", 0644);
  LoadResult r = load("provider = \"sendgrid\"\n[config]\napi_key_file = \"" + path.string() + "\"\n");
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].line, 3);
  EXPECT_NE(r.warnings[0].message.find("is readable by group or others"), std::string::npos);
  ::chmod(path.c_str(), 0640);
  EXPECT_EQ(load("provider = \"sendgrid\"\n[config]\napi_key_file = \"" + path.string() + "\"\n").warnings.size(), 1u);
}

TEST(ConfSecrets, FileKeyErrors) {
  TempDir dir;
  auto path = secret_file(dir, "pw", "x", 0600);
  struct Case {
    std::string text;
    std::string needle;
  };
  const std::vector<Case> cases{
      {"provider = \"smtp\"\n[config]\nhost = \"h.example\"\nusername = \"u\"\npassword_file = \"/nonexistent/pw\"\n",
       "'password_file' in [config]: cannot read /nonexistent/pw: No such file or directory"},
      {"provider = \"smtp\"\n[config]\nhost = \"h.example\"\nusername = \"u\"\npassword = \"a\"\npassword_file = \"" +
           path.string() + "\"\n",
       "give either 'password' in [config] or 'password_file', not both"},
      {"provider = \"smtp\"\n[config]\nhost = \"h.example\"\nport_file = \"" + path.string() + "\"\n",
       "unknown key 'port_file' in [config]"},
      {"provider = \"smtp\"\n[config]\nhost = \"h.example\"\nusername = \"u\"\npassword_file = 5\n",
       "'password_file' in [config] must be a string (the path of a file holding the value)"},
      {"provider = \"smtp\"\n[config]\nhost = \"h.example\"\nusername = \"u\"\npassword_file = \"" +
           dir.path().string() + "\"\n",
       "is not a regular file"},
  };
  for (const Case& c : cases) {
    LoadResult r = load(c.text);
    ASSERT_EQ(r.errors.size(), 1u) << c.text << "\n" << joined(r.errors);
    EXPECT_NE(r.errors[0].message.find(c.needle), std::string::npos) << r.errors[0].to_string();
    EXPECT_GT(r.errors[0].line, 0);
  }
}

TEST(ConfSecrets, CommandsThatNeedNoSecretLoadWithoutTheirFiles) {
  const std::string text =
      "provider = \"smtp\"\n[config]\nhost = \"h.example\"\nusername = \"u\"\npassword_file = \"/nonexistent/pw\"\n";
  // check-config on a machine without the secrets: a warning naming the file, and the config loads.
  LoadOptions check = env();
  check.secret_files = SecretFiles::check;
  LoadResult checked = load(text, "test.toml", check);
  ASSERT_TRUE(checked.ok()) << joined(checked.errors);
  ASSERT_EQ(checked.warnings.size(), 1u) << joined(checked.warnings);
  EXPECT_NE(checked.warnings[0].message.find("cannot read /nonexistent/pw: No such file or directory (serve and "
                                             "validate need it)"),
            std::string::npos)
      << checked.warnings[0].to_string();
  // sendmail, queue, status: the file is not opened at all, and nothing is said.
  LoadOptions skip = env();
  skip.secret_files = SecretFiles::skip;
  LoadResult skipped = load(text, "test.toml", skip);
  ASSERT_TRUE(skipped.ok()) << joined(skipped.errors);
  EXPECT_TRUE(skipped.warnings.empty()) << joined(skipped.warnings);
  EXPECT_EQ(std::get<SmtpConfig>(skipped.config->upstreams.at(0).config).password, kUnreadSecret);
  // serve and validate: an error, as before.
  EXPECT_FALSE(load(text).ok());
}

TEST(ConfSecrets, ReadableConfigurationHoldingASecretWarns) {
  TempDir dir;
  auto path = secret_file(dir, "smarthost.toml", "provider = \"sendgrid\"\n[config]\napi_key = \"SG.inline\"\n", 0644);
  LoadResult readable = load_file(path.string(), env());
  ASSERT_TRUE(readable.ok()) << joined(readable.errors);
  ASSERT_EQ(readable.warnings.size(), 1u);
  EXPECT_EQ(readable.warnings[0].to_string(),
            path.string() + ":3:12: this file holds a secret and is readable by group or others; restrict it with "
                            "chmod 600, or move the secret to ${VAR} or a KEY_file");
  ::chmod(path.c_str(), 0600);
  EXPECT_TRUE(load_file(path.string(), env()).warnings.empty());

  auto by_variable =
      secret_file(dir, "env.toml", "provider = \"sendgrid\"\n[config]\napi_key = \"${KEY}\"\n", 0644);
  EXPECT_TRUE(load_file(by_variable.string(), env({{"KEY", "SG.from-env"}})).warnings.empty());
}

TEST(ConfSecrets, OversizedValueFileIsRefused) {
  TempDir dir;
  auto path = secret_file(dir, "big", std::string(70 * 1024, 'x'), 0600);
  LoadResult r = load("provider = \"sendgrid\"\n[config]\napi_key_file = \"" + path.string() + "\"\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("larger than 64 KB"), std::string::npos);
}

TEST(ConfSecrets, EverySecretIsCollectedAndNothingElse) {
  LoadResult r = load(
      "[primary_provider]\nprovider = \"smtp\"\n[primary_provider.config]\nhost = \"h.example\"\n"
      "username = \"relay-user\"\npassword = \"smtp-pw\"\n"
      "[[fallback_providers]]\nprovider = \"mailgun\"\n[fallback_providers.config]\napi_key = \"mg-key\"\n"
      "domain = \"mg.example.com\"\n"
      "[[fallback_providers]]\nprovider = \"sendgrid\"\n[fallback_providers.config]\napi_key = \"sg-key\"\n"
      "[[fallback_providers]]\nprovider = \"postmark\"\n[fallback_providers.config]\nserver_token = \"pm-token\"\n"
      "[[fallback_providers]]\nprovider = \"ses\"\n[fallback_providers.config]\naws_access_key_id = \"AKIDPUBLIC\"\n"
      "aws_secret_access_key = \"ses-secret\"\naws_session_token = \"ses-session\"\nregion = \"us-east-1\"\n"
      "[authentication]\ntype = \"oauth2\"\nclient_id = \"client-public\"\nclient_secret = \"oauth-secret\"\n"
      "refresh_token = \"oauth-refresh\"\ntoken_url = \"https://t.example/token\"\n"
      "[caching]\ncache_provider = \"redis\"\nredis_url = \"redis://:redis-pw@cache:6379/0\"\n"
      "[[alerting.notification_channels]]\ntype = \"webhook\"\nurl = \"https://hooks.example/T/secret\"\n");
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  const auto& secrets = r.config->secrets;
  for (const char* s : {"smtp-pw", "mg-key", "sg-key", "pm-token", "ses-secret", "ses-session", "oauth-secret",
                        "oauth-refresh", "redis-pw", "redis://:redis-pw@cache:6379/0",
                        "https://hooks.example/T/secret"}) {
    EXPECT_TRUE(contains(secrets, s)) << s;
  }
  for (const char* s : {"relay-user", "AKIDPUBLIC", "client-public", "h.example"}) {
    EXPECT_FALSE(contains(secrets, s)) << s;
  }
  // Longest first, so that a redactor replaces the whole URL before the password inside it.
  EXPECT_TRUE(std::is_sorted(secrets.begin(), secrets.end(),
                             [](const std::string& a, const std::string& b) { return a.size() > b.size(); }));
  // And none of them is printed.
  const std::string printed = print_effective(*r.config);
  for (const std::string& s : secrets) EXPECT_EQ(printed.find(s), std::string::npos) << s;
}

TEST(ConfSecrets, RedisUrlWithoutPasswordIsNotASecret) {
  LoadResult r = load(std::string(kFileUpstream) + "[caching]\ncache_provider = \"redis\"\nredis_url = \"redis://cache:6379/0\"\n");
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_TRUE(r.config->secrets.empty());
  EXPECT_NE(print_effective(*r.config).find("redis_url = \"redis://cache:6379/0\""), std::string::npos);
}

}  // namespace
}  // namespace smarthost::conf::test
