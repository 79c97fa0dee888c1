// Every shipped example (conf/examples/*.toml, conf/smarthost.toml) loads cleanly, and every JSON snippet of the
// configuration guide (tests/unit/conf/guide/, kept verbatim) loads, with a provider put around the partial ones.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <regex>
#include <set>

#include "tests/support/temp_dir.h"
#include "tests/unit/conf/load_text.h"

namespace smarthost::conf::test {
namespace {

namespace fs = std::filesystem;
using smarthost::test::TempDir;

fs::path examples_dir() { return smarthost::test::source_dir() / "conf" / "examples"; }
fs::path guide_dir() { return smarthost::test::source_dir() / "tests" / "unit" / "conf" / "guide"; }

// Every ${NAME} resolves to a placeholder; CREDENTIALS_DIRECTORY and SMARTHOST_SECRETS point at `secrets`.
LoadOptions example_env(const fs::path& secrets) {
  LoadOptions options;
  options.getenv = [secrets](std::string_view name) -> std::optional<std::string> {
    if (name == "SMARTHOST_ENV") return std::nullopt;
    if (name == "CREDENTIALS_DIRECTORY" || name == "SMARTHOST_SECRETS") return secrets.string();
    return "placeholder-" + std::string(name);
  };
  return options;
}

// Creates, mode 600, each file an example reads through ${CREDENTIALS_DIRECTORY}/x or ${SMARTHOST_SECRETS...}/x.
void provide_secret_files(const std::string& text, const TempDir& secrets) {
  static const std::regex kRef(R"(\$\{(CREDENTIALS_DIRECTORY|SMARTHOST_SECRETS)[^}]*\}/([A-Za-z0-9_.-]+))");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kRef); it != std::sregex_iterator(); ++it) {
    fs::path p = secrets.write((*it)[2].str(), "secret-from-file\n");
    ::chmod(p.c_str(), 0600);
  }
}

TEST(ConfExamples, EveryGuideExampleHasAFileAndEachLoadsCleanly) {
  const std::set<std::string> expected{
      "smtp-basic.toml",       "smtp-advanced.toml",     "gmail.toml",         "office365.toml",
      "yahoo.toml",            "mailgun-basic.toml",     "mailgun-advanced.toml", "sendgrid-basic.toml",
      "sendgrid-advanced.toml", "postmark-basic.toml",   "postmark-advanced.toml", "ses-basic.toml",
      "ses-advanced.toml",     "failover.toml",          "load-balancing.toml", "development.toml",
      "staging.toml",          "production.toml"};
  std::set<std::string> found;
  for (const auto& entry : fs::directory_iterator(examples_dir())) {
    if (!entry.is_regular_file()) continue;
    found.insert(entry.path().filename().string());
    TempDir secrets;
    provide_secret_files(smarthost::test::read_file(entry.path()), secrets);
    LoadResult r = load_file(entry.path().string(), example_env(secrets.path()));
    EXPECT_TRUE(r.ok()) << entry.path() << "\n" << joined(r.errors);
    EXPECT_TRUE(r.warnings.empty()) << entry.path() << "\n" << joined(r.warnings);
  }
  for (const std::string& name : expected) EXPECT_TRUE(found.count(name)) << "missing example " << name;
}

TEST(ConfExamples, ExamplesMeanWhatTheySay) {
  TempDir secrets;
  auto load_example = [&](const char* name) {
    const fs::path path = examples_dir() / name;
    provide_secret_files(smarthost::test::read_file(path), secrets);
    LoadResult r = load_file(path.string(), example_env(secrets.path()));
    EXPECT_TRUE(r.ok()) << name << "\n" << joined(r.errors);
    return r.config;
  };
  auto smtp = load_example("smtp-advanced.toml");
  ASSERT_NE(smtp, nullptr);
  EXPECT_EQ(std::get<SmtpConfig>(smtp->upstreams[0].config).password, "secret-from-file");
  EXPECT_EQ(smtp->upstreams[0].name, "example-relay");
  auto failover = load_example("failover.toml");
  ASSERT_NE(failover, nullptr);
  EXPECT_EQ(failover->routing, Routing::failover);
  ASSERT_EQ(failover->upstreams.size(), 3u);
  EXPECT_EQ(failover->upstreams[2].name, "backup-relay");
  auto balanced = load_example("load-balancing.toml");
  ASSERT_NE(balanced, nullptr);
  EXPECT_EQ(balanced->routing, Routing::weighted);
  EXPECT_EQ(balanced->upstreams[0].weight, 60u);
  auto staging = load_example("staging.toml");
  ASSERT_NE(staging, nullptr);
  EXPECT_TRUE(staging->test_mode.enabled);
  EXPECT_EQ(staging->environment, "staging");
  auto ses = load_example("ses-advanced.toml");
  ASSERT_NE(ses, nullptr);
  EXPECT_EQ(std::get<SesConfig>(ses->upstreams[0].config).tags.size(), 2u);
  EXPECT_EQ(std::get<SesConfig>(ses->upstreams[0].config).aws_session_token, "placeholder-AWS_SESSION_TOKEN");
}

TEST(ConfExamples, DefaultEtcConfigurationLoadsAndKeepsMailLocal) {
  const fs::path path = smarthost::test::source_dir() / "conf" / "smarthost.toml";
  LoadResult r = load_file(path.string(), env());
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_TRUE(r.warnings.empty());
  ASSERT_EQ(r.config->upstreams.size(), 1u);
  EXPECT_EQ(r.config->upstreams[0].provider, ProviderKind::file);
  EXPECT_EQ(r.config->server.listen, std::vector<std::string>{"127.0.0.1:25"});
  // Every table of the model is documented in the default file.
  const std::string text = smarthost::test::read_file(path);
  for (const char* table : {"[config]", "[options]", "[failover_policy]", "[failover_policy.circuit_breaker]",
                            "[server]", "[queue]", "[security]", "[authentication]", "[performance.connection_pool]",
                            "[caching]", "[batch_processing]", "[monitoring.health_check]", "[metrics]", "[alerting]",
                            "[[alerting.notification_channels]]", "[test_mode]", "[validation]", "[logging]"}) {
    EXPECT_NE(text.find(table), std::string::npos) << table;
  }
  // The documented size unit is binary.
  EXPECT_NE(text.find("1 KB = 1024 bytes"), std::string::npos);
}

// ---- The guide's JSON snippets ---------------------------------------------------------------------------------

LoadResult load_guide_file(const fs::path& path) { return load_file(path.string(), env()); }

TEST(ConfGuide, CompleteSnippetsLoadVerbatim) {
  for (const char* name :
       {"smtp-basic.json", "smtp-advanced.json", "mailgun-basic.json", "mailgun-advanced.json", "sendgrid-basic.json",
        "sendgrid-advanced.json", "postmark-basic.json", "postmark-advanced.json", "ses-basic.json",
        "ses-advanced.json", "failover.json", "load-balancing.json", "development.json", "staging.json",
        "production.json"}) {
    LoadResult r = load_guide_file(guide_dir() / name);
    EXPECT_TRUE(r.ok()) << name << "\n" << joined(r.errors);
  }
}

TEST(ConfGuide, SnippetValuesArrive) {
  LoadResult failover = load_guide_file(guide_dir() / "failover.json");
  ASSERT_TRUE(failover.ok()) << joined(failover.errors);
  ASSERT_EQ(failover.config->upstreams.size(), 3u);
  EXPECT_EQ(failover.config->upstreams[0].name, "sendgrid0");
  EXPECT_EQ(failover.config->upstreams[1].name, "mailgun1");
  EXPECT_EQ(failover.config->upstreams[2].name, "smtp2");
  EXPECT_EQ(failover.config->failover_policy.circuit_breaker.recovery_timeout, Seconds{300});

  LoadResult balanced = load_guide_file(guide_dir() / "load-balancing.json");
  ASSERT_TRUE(balanced.ok()) << joined(balanced.errors);
  EXPECT_EQ(balanced.config->routing, Routing::round_robin);
  EXPECT_EQ(balanced.config->upstreams[0].weight, 60u);
  EXPECT_EQ(balanced.config->upstreams[1].weight, 40u);

  LoadResult sendgrid = load_guide_file(guide_dir() / "sendgrid-advanced.json");
  ASSERT_TRUE(sendgrid.ok()) << joined(sendgrid.errors);
  const auto& sg = std::get<SendgridConfig>(sendgrid.config->upstreams[0].config);
  EXPECT_EQ(sg.tracking_settings.click_enable, true);
  EXPECT_EQ(sg.tracking_settings.click_enable_text, false);
  EXPECT_EQ(sg.tracking_settings.open_substitution_tag, "%open_track%");
  EXPECT_EQ(sg.tracking_settings.subscription_html, "<a href=\"%unsubscribe%\">Unsubscribe</a>");
  EXPECT_EQ(sg.custom_args.at("service"), "chatapi");

  LoadResult smtp = load_guide_file(guide_dir() / "smtp-advanced.json");
  ASSERT_TRUE(smtp.ok()) << joined(smtp.errors);
  const auto& s = std::get<SmtpConfig>(smtp.config->upstreams[0].config);
  EXPECT_TRUE(s.use_ssl);
  EXPECT_EQ(s.port, 465);
  EXPECT_EQ(s.return_path, "bounces@example.com");
  EXPECT_EQ(smtp.config->upstreams[0].options.connection_pool_size, 5u);
  // The guide's literal password is a secret like any other.
  EXPECT_NE(std::find(smtp.config->secrets.begin(), smtp.config->secrets.end(), "password"),
            smtp.config->secrets.end());
}

TEST(ConfGuide, SmtpHostSnippetsLoadInsideAnSmtpProvider) {
  for (const char* name : {"smtp-gmail.json", "smtp-office365.json", "smtp-yahoo.json"}) {
    const std::string snippet = smarthost::test::read_file(guide_dir() / name);
    LoadResult r = load("{\"provider\": \"smtp\", \"config\": " + snippet + "}", name);
    ASSERT_TRUE(r.ok()) << name << "\n" << joined(r.errors);
    const auto& smtp = std::get<SmtpConfig>(r.config->upstreams[0].config);
    EXPECT_TRUE(smtp.use_tls);
    EXPECT_EQ(smtp.port, 587);
  }
}

// A partial snippet is the main file; an overlay beside it adds the provider (and whatever else it needs).
LoadResult load_partial(const char* name, const std::string& extra = {}) {
  TempDir dir;
  const std::string snippet = smarthost::test::read_file(guide_dir() / name);
  EXPECT_FALSE(snippet.empty()) << name;
  fs::path main = dir.write("smarthost.json", snippet);
  dir.write("smarthost.development.json",
            "{\"provider\": \"file\", \"config\": {\"dir\": \"/tmp/outbox\"}" + extra + "}");
  LoadOptions options = env();
  options.environment = "development";
  return load_file(main.string(), options);
}

TEST(ConfGuide, PartialSnippetsLoadWithAProviderAroundThem) {
  for (const char* name : {"rate-limiting.json", "adaptive-rate-limiting.json", "encryption.json",
                           "authentication.json", "ip-restrictions.json", "connection-pooling.json",
                           "batch-processing.json", "health-checks.json", "metrics.json", "alerting.json",
                           "test-mode.json", "validation.json"}) {
    LoadResult r = load_partial(name);
    EXPECT_TRUE(r.ok()) << name << "\n" << joined(r.errors);
  }
}

TEST(ConfGuide, PartialSnippetValuesArrive) {
  LoadResult limits = load_partial("rate-limiting.json");
  ASSERT_TRUE(limits.ok()) << joined(limits.errors);
  EXPECT_EQ(limits.config->upstreams[0].options.rate_limit, 100u);
  EXPECT_EQ(limits.config->upstreams[0].options.burst_limit, 10u);
  LoadResult batch = load_partial("batch-processing.json");
  ASSERT_TRUE(batch.ok()) << joined(batch.errors);
  EXPECT_EQ(batch.config->batch_processing.batch_timeout, Millis{30000});  // the guide's 30 is seconds
  LoadResult ips = load_partial("ip-restrictions.json");
  ASSERT_TRUE(ips.ok()) << joined(ips.errors);
  EXPECT_EQ(ips.config->security.blocked_ips, std::vector<std::string>{"203.0.113.0/24"});
}

TEST(ConfGuide, CachingSnippetNeedsARedisUrlWhichTheGuideLeavesOut) {
  LoadResult verbatim = load_partial("caching.json");
  ASSERT_EQ(verbatim.errors.size(), 1u) << joined(verbatim.errors);
  EXPECT_NE(verbatim.errors[0].message.find("'redis_url' is not set"), std::string::npos);
  LoadResult completed = load_partial("caching.json", ", \"caching\": {\"redis_url\": \"redis://localhost:6379/0\"}");
  ASSERT_TRUE(completed.ok()) << joined(completed.errors);
  EXPECT_EQ(completed.config->caching.cache_key_prefix, "chatapi:email:");
  EXPECT_TRUE(completed.config->caching.enable_response_caching);
}

TEST(ConfGuide, StructureSnippetParsesAndOnlyItsPlaceholderProviderIsRejected) {
  LoadResult verbatim = load_guide_file(guide_dir() / "structure.json");
  ASSERT_EQ(verbatim.errors.size(), 1u) << joined(verbatim.errors);
  EXPECT_NE(verbatim.errors[0].message.find("got \"provider_name\""), std::string::npos);
  EXPECT_EQ(verbatim.errors[0].line, 2);

  std::string text = smarthost::test::read_file(guide_dir() / "structure.json");
  text.replace(text.find("\"provider_name\""), 15, "\"file\"");
  text.replace(text.find("// Provider-specific configuration"), 34, "\"dir\": \"/tmp/outbox\"");
  LoadResult filled = load(text, "structure.json");
  ASSERT_TRUE(filled.ok()) << joined(filled.errors);
  EXPECT_EQ(filled.config->upstreams[0].options.rate_limit, 100u);
}

}  // namespace
}  // namespace smarthost::conf::test
