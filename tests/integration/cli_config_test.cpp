// The command line as a user meets it: check-config on every shipped example, the three-error typo config,
// --print masking secrets, version and help, and the exit codes (0 ok, 1 config error, 2 usage error).
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using smarthost::test::run;
using smarthost::test::smarthost_bin;
using smarthost::test::source_dir;
using smarthost::test::TempDir;

namespace {

// Environment for the examples: no overlay, and the secret files they name provided in a temp dir.
std::map<std::string, std::string> example_env(const TempDir& secrets, const std::string& text) {
  static const std::regex kRef(R"(\$\{(CREDENTIALS_DIRECTORY|SMARTHOST_SECRETS)[^}]*\}/([A-Za-z0-9_.-]+))");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kRef); it != std::sregex_iterator(); ++it) {
    auto p = secrets.write((*it)[2].str(), "secret-from-file\n");
    fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
  }
  return {{"CREDENTIALS_DIRECTORY", secrets.path().string()},
          {"SMARTHOST_SECRETS", secrets.path().string()},
          {"SMARTHOST_ENV", ""}};
}

}  // namespace

TEST(CliConfig, EveryShippedExampleChecksOut) {
  std::vector<fs::path> files{source_dir() / "conf" / "smarthost.toml"};
  for (const auto& e : fs::recursive_directory_iterator(source_dir() / "conf" / "examples"))
    if (e.path().extension() == ".toml") files.push_back(e.path());
  ASSERT_GE(files.size(), 19u);
  for (const auto& f : files) {
    TempDir secrets;
    auto r = run({smarthost_bin().string(), "check-config", "--config", f.string()}, "", std::chrono::seconds(20),
                 example_env(secrets, smarthost::test::read_file(f)));
    EXPECT_EQ(r.exit_code, 0) << f << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find(": ok ("), std::string::npos) << r.out;
  }
}

// As a new user runs it: no secret files here, no variables set. The examples that read an API key from a file
// still check out, with a warning naming the file; serve would refuse to start without it.
TEST(CliConfig, ExamplesCheckOutWithoutTheirSecretFiles) {
  for (const char* name : {"production.toml", "mailgun-advanced.toml", "smtp-advanced.toml"}) {
    fs::path f = source_dir() / "conf" / "examples" / name;
    auto r = run({smarthost_bin().string(), "check-config", "--config", f.string()}, "", std::chrono::seconds(20),
                 {{"SMARTHOST_ENV", ""}, {"CREDENTIALS_DIRECTORY", "/nonexistent"}, {"SMARTHOST_SECRETS", "/nonexistent"}});
    EXPECT_EQ(r.exit_code, 0) << f << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find("cannot read /nonexistent/"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("(serve and validate need it)"), std::string::npos) << r.err;
  }
  // serve needs the key: it says which file is missing and exits 1.
  fs::path f = source_dir() / "conf" / "examples" / "production.toml";
  auto serve = run({smarthost_bin().string(), "serve", "--config", f.string()}, "", std::chrono::seconds(20),
                   {{"SMARTHOST_ENV", ""}, {"CREDENTIALS_DIRECTORY", "/nonexistent"}});
  EXPECT_EQ(serve.exit_code, 1) << serve.out << serve.err;
  EXPECT_NE(serve.err.find("cannot read /nonexistent/sendgrid-api-key"), std::string::npos) << serve.err;
}

TEST(CliConfig, TypoWrongTypeAndUnknownProviderGiveThreePositionedErrors) {
  TempDir dir;
  auto file = dir.write("bad.toml",
                        "provider = \"sendgird\"\n"
                        "\n"
                        "[config]\n"
                        "api_key = \"SG.x\"\n"
                        "\n"
                        "[options]\n"
                        "rate_limt = 100\n"
                        "timeout = \"soon\"\n");
  auto r = run({smarthost_bin().string(), "check-config", "--config", file.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  std::regex positioned(file.string() + R"(:\d+:\d+: )");
  int count = 0;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);)
    if (std::regex_search(line, positioned)) ++count;
  EXPECT_EQ(count, 3) << r.err;
  EXPECT_NE(r.err.find("did you mean 'rate_limit'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sendgird"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("timeout"), std::string::npos) << r.err;
}

TEST(CliConfig, PrintShowsDefaultsAndMasksSecrets) {
  TempDir dir;
  auto file = dir.write("s.toml",
                        "provider = \"smtp\"\n[config]\nhost = \"smtp.example.com\"\nusername = \"u\"\n"
                        "password = \"hunter2-very-secret\"\n");
  auto r = run({smarthost_bin().string(), "check-config", "--print", "--config", file.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("hunter2-very-secret"), std::string::npos);
  EXPECT_NE(r.out.find("***"), std::string::npos);
  EXPECT_NE(r.out.find("max_message_size"), std::string::npos) << "defaults are filled in";
  // The printed configuration loads again.
  auto printed = dir.write("printed.toml", r.out);
  auto again = run({smarthost_bin().string(), "check-config", "--config", printed.string()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
}

TEST(CliConfig, SecretsNeverReachTheLog) {
  TempDir dir;
  auto file = dir.write("s.toml",
                        "provider = \"smtp\"\n[config]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"u\"\n"
                        "password = \"hunter2-very-secret\"\ndebug_level = 2\n"
                        "[server]\nlisten = [\"127.0.0.1:0\"]\n[queue]\ndir = \"" +
                            (dir.path() / "q").string() + "\"\n");
  auto r = run({smarthost_bin().string(), "check-config", "--config", file.string(), "--log-level", "trace"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ((r.out + r.err).find("hunter2-very-secret"), std::string::npos);
}

TEST(CliConfig, VersionHelpAndUsageErrors) {
  auto v = run({smarthost_bin().string(), "version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find("smarthost "), std::string::npos);
#ifdef SMARTHOST_EXPECT_JEMALLOC
  // Linked with jemalloc (SMARTHOST_JEMALLOC): it, not glibc, must serve the process's malloc.
  EXPECT_NE(v.out.find("allocator: jemalloc 5."), std::string::npos) << v.out;
#else
  EXPECT_NE(v.out.find("allocator: "), std::string::npos) << v.out;
#endif
  auto h = run({smarthost_bin().string(), "help"});
  EXPECT_EQ(h.exit_code, 0);
  // Every command's whole name, then at least two spaces before its summary.
  for (const char* cmd : {"serve", "check-config", "sendmail", "queue", "passwd", "ses-smtp-password", "validate",
                          "send-test", "status", "version", "help"})
    EXPECT_NE(h.out.find("  " + std::string(cmd) + "  "), std::string::npos) << cmd << "\n" << h.out;
  auto ch = run({smarthost_bin().string(), "check-config", "--help"});
  EXPECT_EQ(ch.exit_code, 0);
  EXPECT_NE(ch.out.find("--print"), std::string::npos);
  EXPECT_EQ(run({smarthost_bin().string(), "no-such-command"}).exit_code, 2);
  EXPECT_EQ(run({smarthost_bin().string(), "check-config", "--bogus"}).exit_code, 2);
  EXPECT_EQ(run({smarthost_bin().string(), "--config"}).exit_code, 2);
  EXPECT_EQ(run({smarthost_bin().string(), "check-config", "--config", "/nonexistent/x.toml"}).exit_code, 1);
}

TEST(CliConfig, GuideJsonExampleLoadsVerbatim) {
  TempDir dir;
  auto file = dir.write("guide.json",
                        "{\n\t\"provider\": \"sendgrid\",\n\t\"config\": {\n\t\t// the key\n\t\t\"api_key\": "
                        "\"SG.your-api-key\",\n\t\t\"from_email\": \"noreply@yourdomain.com\",\n\t\t\"from_name\": "
                        "\"Your Service\"\n\t}\n}\n");
  auto r = run({smarthost_bin().string(), "check-config", "--config", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(CliConfig, SesSmtpPasswordMatchesThePublishedValue) {
  // AWS's documented example secret key; the expected value is the one the AWS SDK for PHP tests publish.
  auto r = run({smarthost_bin().string(), "ses-smtp-password", "--region", "us-east-2"},
               "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS\n");
  EXPECT_EQ(run({smarthost_bin().string(), "ses-smtp-password"}, "x\n").exit_code, 2);
}
