// Environment overlays: smarthost.<env>.toml (or .json) beside the main file is merged over it, table by table;
// the environment comes from LoadOptions, then SMARTHOST_ENV, then the `environment` key.
#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"
#include "tests/unit/conf/load_text.h"

namespace smarthost::conf::test {
namespace {

using smarthost::test::TempDir;

const std::string kMain =
    "environment = \"production\"\n"
    "provider = \"smtp\"\n"
    "[config]\nhost = \"smtp.example.com\"\nfrom_email = \"noreply@example.com\"\n"
    "[server]\nmax_recipients = 10\nmax_connections = 500\n"
    "[logging]\nlevel = \"info\"\n";

TEST(ConfOverlay, MergesTableByTable) {
  TempDir dir;
  auto main = dir.write("smarthost.toml", kMain);
  dir.write("smarthost.production.toml",
            "[config]\nport = 2525\n[server]\nmax_recipients = 50\n[queue]\ndir = \"/srv/queue\"\n");
  LoadResult r = load_file(main.string(), env());
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  const Config& c = *r.config;
  EXPECT_EQ(c.environment, "production");
  const auto& smtp = std::get<SmtpConfig>(c.upstreams[0].config);
  EXPECT_EQ(smtp.host, "smtp.example.com");  // kept from the main file
  EXPECT_EQ(smtp.port, 2525);                // from the overlay
  EXPECT_EQ(c.upstreams[0].common.from_email, "noreply@example.com");
  EXPECT_EQ(c.server.max_recipients, 50u);
  EXPECT_EQ(c.server.max_connections, 500u);
  EXPECT_EQ(c.queue.dir, "/srv/queue");
  EXPECT_EQ(c.source_path, main.string());
}

TEST(ConfOverlay, NoOverlayWithoutAnEnvironment) {
  TempDir dir;
  auto main = dir.write("smarthost.toml", "provider = \"file\"\n[config]\ndir = \"/a\"\n");
  dir.write("smarthost.production.toml", "[server]\nmax_recipients = 50\n");
  LoadResult r = load_file(main.string(), env());
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_EQ(r.config->server.max_recipients, 100u);
  EXPECT_EQ(r.config->environment, "");
}

TEST(ConfOverlay, EnvironmentPrecedenceOptionsThenVariableThenKey) {
  TempDir dir;
  auto main = dir.write("smarthost.toml", kMain);  // environment = "production"
  dir.write("smarthost.production.toml", "[server]\nmax_recipients = 1\n");
  dir.write("smarthost.staging.toml", "[server]\nmax_recipients = 2\n");
  dir.write("smarthost.development.toml", "[server]\nmax_recipients = 3\n");

  LoadResult by_key = load_file(main.string(), env());
  ASSERT_TRUE(by_key.ok()) << joined(by_key.errors);
  EXPECT_EQ(by_key.config->server.max_recipients, 1u);

  LoadResult by_variable = load_file(main.string(), env({{"SMARTHOST_ENV", "staging"}}));
  ASSERT_TRUE(by_variable.ok()) << joined(by_variable.errors);
  EXPECT_EQ(by_variable.config->server.max_recipients, 2u);
  EXPECT_EQ(by_variable.config->environment, "staging");

  LoadOptions options = env({{"SMARTHOST_ENV", "staging"}});
  options.environment = "development";
  LoadResult by_option = load_file(main.string(), options);
  ASSERT_TRUE(by_option.ok()) << joined(by_option.errors);
  EXPECT_EQ(by_option.config->server.max_recipients, 3u);
  EXPECT_EQ(by_option.config->environment, "development");
}

TEST(ConfOverlay, JsonOverlayBesideTomlMain) {
  TempDir dir;
  auto main = dir.write("smarthost.toml", kMain);
  dir.write("smarthost.production.json", "{ // production\n \"logging\": {\"level\": \"warn\"} }\n");
  LoadResult r = load_file(main.string(), env());
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_EQ(r.config->logging.level, "warn");
}

TEST(ConfOverlay, OverlayNamedAfterTheMainFile) {
  TempDir dir;
  auto main = dir.write("relay.toml", kMain);
  dir.write("relay.production.toml", "[server]\nmax_recipients = 7\n");
  dir.write("smarthost.production.toml", "[server]\nmax_recipients = 8\n");
  LoadResult r = load_file(main.string(), env());
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_EQ(r.config->server.max_recipients, 7u);
}

TEST(ConfOverlay, ADifferentProviderReplacesTheMainFilesConfig) {
  TempDir dir;
  auto main = dir.write("smarthost.toml", kMain);
  dir.write("smarthost.production.toml", "provider = \"sendgrid\"\n[config]\napi_key = \"k\"\n");
  LoadResult r = load_file(main.string(), env());
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  ASSERT_EQ(r.config->upstreams.size(), 1u);
  EXPECT_EQ(r.config->upstreams[0].provider, ProviderKind::sendgrid);
  EXPECT_EQ(r.config->upstreams[0].common.from_email, "");  // the smtp [config] went with its provider
}

TEST(ConfOverlay, ADifferentUpstreamFormReplacesTheMainFilesForm) {
  TempDir dir;
  auto main = dir.write("smarthost.toml", kMain);
  dir.write("smarthost.production.toml",
            "[load_balancing]\n[[load_balancing.providers]]\nprovider = \"file\"\n"
            "[load_balancing.providers.config]\ndir = \"/a\"\n");
  LoadResult r = load_file(main.string(), env());
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_EQ(r.config->routing, Routing::round_robin);
  EXPECT_EQ(r.config->upstreams[0].provider, ProviderKind::file);
}

TEST(ConfOverlay, OverlayErrorsNameTheOverlayFile) {
  TempDir dir;
  auto main = dir.write("smarthost.toml", kMain);
  auto overlay = dir.write("smarthost.production.toml", "[server]\nmax_recipents = 5\n");
  LoadResult r = load_file(main.string(), env());
  ASSERT_EQ(r.errors.size(), 1u) << joined(r.errors);
  EXPECT_EQ(r.errors[0].to_string(), overlay.string() +
                                         ":2:1: unknown key 'max_recipents' in [server]; did you mean "
                                         "'max_recipients'?");
}

TEST(ConfOverlay, OverlaySyntaxErrorIsReported) {
  TempDir dir;
  auto main = dir.write("smarthost.toml", kMain);
  auto overlay = dir.write("smarthost.production.toml", "[server\n");
  LoadResult r = load_file(main.string(), env());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, overlay.string());
}

TEST(ConfOverlay, LoadStringNeverMergesAnOverlay) {
  LoadResult r = load(kMain);
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_EQ(r.config->server.max_recipients, 10u);
  EXPECT_EQ(r.config->environment, "production");
}

TEST(ConfOverlay, AnUnknownEnvironmentNeverBecomesAFileName) {
  TempDir dir;
  dir.write("sub/smarthost.toml", "provider = \"file\"\n[config]\ndir = \"/a\"\n");
  dir.write("smarthost.x.toml", "this is not toml\n");
  LoadResult r = load_file((dir.path() / "sub/smarthost.toml").string(), env({{"SMARTHOST_ENV", "../smarthost.x"}}));
  ASSERT_EQ(r.errors.size(), 1u) << joined(r.errors);
  EXPECT_NE(r.errors[0].message.find("SMARTHOST_ENV \"../smarthost.x\" must be one of"), std::string::npos);
}

}  // namespace
}  // namespace smarthost::conf::test
