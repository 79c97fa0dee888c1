// Every preset in conf/examples/presets loads cleanly, is an SMTP upstream over TLS, and builds a transport.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <set>

#include "conf/loader.h"
#include "tests/support/temp_dir.h"
#include "upstream/smtp/smtp_transport.h"

namespace smarthost::upstream::smtp {
namespace {

namespace fs = std::filesystem;

conf::LoadOptions placeholder_env() {
  conf::LoadOptions options;
  options.getenv = [](std::string_view name) -> std::optional<std::string> {
    if (name == "SMARTHOST_ENV") return std::nullopt;
    return "placeholder-" + std::string(name);
  };
  return options;
}

TEST(SmtpPresets, EveryPresetLoadsAndBuildsATransport) {
  const std::set<std::string> expected{"gmail-app-password.toml", "gmail-xoauth2.toml", "office365-xoauth2.toml",
                                       "yahoo.toml",              "ses-smtp.toml",      "mailgun-smtp.toml",
                                       "sendgrid-smtp.toml",      "postmark-smtp.toml"};
  std::set<std::string> found;
  boost::asio::io_context io;
  for (const auto& entry : fs::directory_iterator(test::source_dir() / "conf/examples/presets")) {
    found.insert(entry.path().filename().string());
    conf::LoadResult r = conf::load_file(entry.path().string(), placeholder_env());
    ASSERT_TRUE(r.ok()) << entry.path() << ": " << (r.errors.empty() ? "" : r.errors.front().to_string());
    ASSERT_EQ(r.config->upstreams.size(), 1u);
    const conf::Upstream& u = r.config->upstreams.front();
    ASSERT_EQ(u.provider, conf::ProviderKind::smtp) << entry.path();
    const auto& smtp = std::get<conf::SmtpConfig>(u.config);
    EXPECT_TRUE(smtp.use_tls || smtp.use_ssl) << entry.path() << ": credentials must never travel in plaintext";
    EXPECT_FALSE(smtp.username.empty()) << entry.path();
    bool oauth2 = r.config->authentication.type == "oauth2";
    EXPECT_EQ(oauth2, entry.path().filename().string().find("xoauth2") != std::string::npos) << entry.path();
    if (!oauth2) {
      EXPECT_FALSE(smtp.password.empty()) << entry.path();
    }
    SmtpTransport transport(u, r.config->security, r.config->performance.connection_pool, r.config->authentication,
                            "relay.test", io.get_executor());
    EXPECT_EQ(transport.name(), u.name);
  }
  EXPECT_EQ(found, expected);
}

}  // namespace
}  // namespace smarthost::upstream::smtp
