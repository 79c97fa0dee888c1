// The shape of every kind of error message (file:line:col, the key, the allowed range, did-you-mean), that all
// errors are reported rather than the first, and the cross-key (semantic) rules.
#include <gtest/gtest.h>

#include "tests/unit/conf/load_text.h"

namespace smarthost::conf::test {
namespace {

std::vector<std::string> messages(const LoadResult& r) {
  std::vector<std::string> out;
  for (const Diagnostic& d : r.errors) out.push_back(d.to_string());
  return out;
}

// Loads `body` after the minimal file upstream and expects exactly one error containing `needle`.
void expect_one_error(std::string_view body, std::string_view needle) {
  LoadResult r = load(std::string(kFileUpstream) + std::string(body));
  ASSERT_EQ(r.errors.size(), 1u) << body << "\n" << joined(r.errors);
  EXPECT_NE(r.errors[0].to_string().find(needle), std::string::npos) << r.errors[0].to_string();
  EXPECT_GT(r.errors[0].line, 0) << r.errors[0].to_string();
  EXPECT_GT(r.errors[0].column, 0) << r.errors[0].to_string();
  EXPECT_FALSE(r.ok());
}

TEST(ConfErrors, TypoWrongTypeAndUnknownProviderGiveExactlyThreeErrorsWithPositions) {
  const std::string text =
      "provider = \"sendgird\"\n"   // 1
      "[options]\n"                 // 2
      "rate_limt = 100\n"           // 3
      "[server]\n"                  // 4
      "max_recipients = \"many\"\n";  // 5
  LoadResult r = load(text, "relay.toml");
  ASSERT_EQ(r.errors.size(), 3u) << joined(r.errors);
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "relay.toml:1:12: 'provider' at the top level must be one of \"smtp\", \"mailgun\", "
                             "\"sendgrid\", \"postmark\", \"ses\" or \"file\"; got \"sendgird\"; did you mean "
                             "\"sendgrid\"?",
                             "relay.toml:3:1: unknown key 'rate_limt' in [options]; did you mean 'rate_limit'?",
                             "relay.toml:5:18: 'max_recipients' in [server] must be an integer from 1 to 100000; got "
                             "a string",
                         }));
  EXPECT_EQ(r.config, nullptr);
}

TEST(ConfErrors, SameThreeErrorsInTheFailoverFormNameTheNestedTables) {
  const std::string text =
      "[primary_provider]\n"            // 1
      "provider = \"smtp\"\n"           // 2
      "[primary_provider.config]\n"     // 3
      "host = \"smtp.example.com\"\n"   // 4
      "port = \"587\"\n"                // 5
      "[primary_provider.options]\n"    // 6
      "rate_limt = 100\n"               // 7
      "[[fallback_providers]]\n"        // 8
      "provider = \"mailgunn\"\n";      // 9
  LoadResult r = load(text);
  ASSERT_EQ(r.errors.size(), 3u) << joined(r.errors);
  EXPECT_EQ(r.errors[0].to_string(),
            "test.toml:5:8: 'port' in [primary_provider.config] must be an integer from 1 to 65535; got a string");
  EXPECT_EQ(r.errors[1].to_string(),
            "test.toml:7:1: unknown key 'rate_limt' in [primary_provider.options]; did you mean 'rate_limit'?");
  EXPECT_EQ(r.errors[2].line, 9);
  EXPECT_NE(r.errors[2].message.find("'provider' in [fallback_providers[0]]"), std::string::npos);
  EXPECT_NE(r.errors[2].message.find("did you mean \"mailgun\"?"), std::string::npos);
}

TEST(ConfErrors, JsonErrorsCarryLineAndColumnToo) {
  const std::string text =
      "{\n"
      "  // a comment\n"
      "  \"provider\": \"file\",\n"
      "  \"config\": { \"dir\": \"/tmp/x\" },\n"
      "  \"options\": { \"rate_limt\": 5, \"timeout\": true }\n"
      "}\n";
  LoadResult r = load(text, "relay.json");
  ASSERT_EQ(r.errors.size(), 2u) << joined(r.errors);
  EXPECT_EQ(r.errors[0].to_string(),
            "relay.json:5:16: unknown key 'rate_limt' in [options]; did you mean 'rate_limit'?");
  EXPECT_EQ(r.errors[1].line, 5);
  EXPECT_EQ(r.errors[1].column, 43);
  EXPECT_NE(r.errors[1].message.find("'timeout' in [options] must be a duration from 1s to 1h"), std::string::npos);
}

TEST(ConfErrors, UnknownKeyWithoutCloseMatchHasNoSuggestion) {
  LoadResult r = load(std::string(kFileUpstream) + "[server]\nfrobnicate = 1\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(), "test.toml:5:1: unknown key 'frobnicate' in [server]");
}

TEST(ConfErrors, UnknownTopLevelKeyAndTable) {
  LoadResult r = load(std::string(kFileUpstream) + "[securty]\ntls_version = \"TLSv1.2\"\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(), "test.toml:4:2: unknown key 'securty' at the top level; did you mean 'security'?");
}

TEST(ConfErrors, UnknownFileKeySuggestsTheFileForm) {
  LoadResult r = load(
      "provider = \"smtp\"\n[config]\nhost = \"h.example\"\nusername = \"u\"\npasswrd_file = \"/nonexistent\"\n");
  ASSERT_EQ(r.errors.size(), 1u) << joined(r.errors);
  EXPECT_NE(r.errors[0].message.find("did you mean 'password_file'?"), std::string::npos) << r.errors[0].message;
}

TEST(ConfErrors, OutOfRangeNamesTheRange) {
  expect_one_error("[server]\nmax_recipients = 0\n", "'max_recipients' in [server] must be from 1 to 100000; got 0");
  expect_one_error("[alerting]\nerror_rate_threshold = 1.5\n",
                   "'error_rate_threshold' in [alerting] must be from 0.0 to 1.0; got 1.5");
  expect_one_error("[queue]\nmax_lifetime = \"90d\"\n",
                   "'max_lifetime' in [queue] must be a duration from 1m to 30d; got \"90d\"");
  expect_one_error("[server]\nmax_message_size = \"4GB\"\n",
                   "'max_message_size' in [server] must be a size from 1KB to 2GB; got \"4GB\"");
}

TEST(ConfErrors, BadSyntaxOfDurationsAndSizes) {
  expect_one_error("[server]\ncommand_timeout = \"5 minutes\"\n",
                   "'command_timeout' in [server] must be a duration (an integer in seconds or a string like");
  expect_one_error("[server]\ncommand_timeout = \"1500ms\"\n",
                   "'command_timeout' in [server] must be whole seconds; got \"1500ms\"");
  expect_one_error("[server]\nmax_message_size = \"25 parsecs\"\n", "'max_message_size' in [server] must be a size");
  expect_one_error("[server]\ncommand_timeout = -5\n", "'command_timeout' in [server] must be a duration from 1s");
}

TEST(ConfErrors, ChoicesListTheAllowedValues) {
  expect_one_error("[server]\nbare_lf = \"fix\"\n",
                   "'bare_lf' in [server] must be one of \"reject\" or \"normalize\"; got \"fix\"");
  expect_one_error("[server]\ndelivery_mode = \"passthrogh\"\n",
                   "got \"passthrogh\"; did you mean \"passthrough\"?");
  expect_one_error("[logging]\nformat = \"xml\"\n", "'format' in [logging] must be one of \"text\" or \"json\"");
  expect_one_error("[logging]\nlevel = \"verbose\"\n", "'level' in [logging] must be one of \"trace\"");
  expect_one_error("[security]\ntls_version = \"TLSv1.4\"\n",
                   "'tls_version' in [security] must be one of \"TLSv1.0\", \"TLSv1.1\", \"TLSv1.2\" or \"TLSv1.3\"");
  expect_one_error("[caching]\ncache_provider = \"memcached\"\n", "one of \"memory\" or \"redis\"");
}

TEST(ConfErrors, UnknownEnvironment) {
  LoadResult r = load("environment = \"qa\"\n" + std::string(kFileUpstream));
  ASSERT_EQ(r.errors.size(), 1u) << joined(r.errors);
  EXPECT_EQ(r.errors[0].to_string(),
            "test.toml:1:15: 'environment' at the top level must be one of \"development\", \"staging\" or "
            "\"production\"; got \"qa\"");
  LoadResult from_env = load(kFileUpstream, "test.toml", env({{"SMARTHOST_ENV", "prod"}}));
  ASSERT_EQ(from_env.errors.size(), 1u) << joined(from_env.errors);
  EXPECT_NE(from_env.errors[0].message.find("SMARTHOST_ENV \"prod\" must be one of"), std::string::npos);
}

TEST(ConfErrors, DuplicateTomlTableIsASyntaxErrorWithPosition) {
  // (A TOML rule, reported by the TOML parser with a position.)
  LoadResult r = load(std::string(kFileUpstream) + "[server]\n[server]\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 5);
}

TEST(ConfErrors, NetworkSyntax) {
  expect_one_error("[security]\nallowed_ips = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n",
                   "'allowed_ips' in [security]: \"10.0.0.0/33\" is not a CIDR block");
  expect_one_error("[security]\nblocked_ips = [\"300.1.1.1\"]\n", "\"300.1.1.1\" is not a CIDR block");
  expect_one_error("[server]\nlisten = [\"127.0.0.1\"]\n", "'listen' in [server]: \"127.0.0.1\": expected host:port");
  expect_one_error("[server]\nlisten = [\"::1:25\"]\n", "write an IPv6 address in brackets");
  expect_one_error("[server]\nlisten = [\"unix:run/s.sock\"]\n", "a unix socket needs an absolute path");
  expect_one_error("[server]\nlisten = [\"127.0.0.1:99999\"]\n", "is not a port");
  expect_one_error("[metrics]\nlisten = \"localhost\"\n", "'listen' in [metrics]");
}

TEST(ConfErrors, ListenAcceptsEveryDocumentedForm) {
  LoadResult r = load(std::string(kFileUpstream) +
                      "[server]\nlisten = [\"127.0.0.1:25\", \"[::1]:2525\", \"unix:/run/smarthost.sock\", "
                      "\"mail.example.com:587\", \"0.0.0.0:0\"]\n");
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_EQ(r.config->server.listen.size(), 5u);
}

TEST(ConfErrors, ProviderRequirements) {
  struct Case {
    std::string text;
    std::string needle;
  };
  const std::vector<Case> cases{
      {"provider = \"smtp\"\n[config]\nport = 25\n", "missing 'host' in [config]: the smtp provider needs it"},
      {"provider = \"ses\"\n[config]\naws_access_key_id = \"A\"\naws_secret_access_key = \"S\"\n",
       "missing 'region' in [config]: the ses provider needs it"},
      {"provider = \"mailgun\"\n[config]\ndomain = \"mg.example.com\"\n", "missing 'api_key' in [config]"},
      {"provider = \"mailgun\"\n[config]\napi_key = \"k\"\n", "missing 'domain' in [config]"},
      {"provider = \"sendgrid\"\n[config]\nfrom_email = \"a@example.com\"\n", "missing 'api_key' in [config]"},
      {"provider = \"postmark\"\n[config]\n", "missing 'server_token' in [config]"},
      {"provider = \"file\"\n", "missing 'dir' in [config]"},
      {"provider = \"smtp\"\n[config]\nhost = \"h.example\"\nuse_tls = true\nuse_ssl = true\n",
       "'use_tls' in [config] and 'use_ssl' cannot both be true"},
      {"provider = \"smtp\"\n[config]\nhost = \"h.example\"\nport = 0\n",
       "'port' in [config] must be from 1 to 65535; got 0"},
      {"provider = \"smtp\"\n[config]\nhost = \"h.example\"\ndebug_level = 3\n",
       "'debug_level' in [config] must be from 0 to 2; got 3"},
      {"provider = \"postmark\"\n[config]\nserver_token = \"t\"\ntrack_links = \"Always\"\n",
       "'track_links' in [config] must be one of \"None\", \"HtmlAndText\", \"HtmlOnly\" or \"TextOnly\""},
      {"provider = \"mailgun\"\n[config]\napi_key = \"k\"\ndomain = \"d.example\"\nregion = \"asia\"\n",
       "'region' in [config] must be one of \"us\" or \"eu\""},
      {"provider = \"file\"\n[config]\ndir = \"/x\"\n[options]\nmin_rate_limit = 100\nmax_rate_limit = 10\n",
       "'min_rate_limit' in [options] (100) must not exceed 'max_rate_limit' (10)"},
      {"provider = \"sendgrid\"\n[config]\napi_key = \"k\"\nendpoint = \"ftp://x\"\n",
       "'endpoint' in [config]: expected a URL starting with https:// or http://"},
      {"provider = \"smtp\"\n[config]\nhost = \"h.example\"\nendpoint = \"h.example\"\n",
       "'endpoint' in [config]: expected host:port"},
      {"provider = \"smtp\"\n[config]\nhost = \"h.example\"\nfrom_email = \"nobody\"\n",
       "'from_email' in [config]: \"nobody\" is not an email address"},
      {"provider = \"smtp\"\n[config]\nhost = \"h.example\"\nfrom_mode = \"sometimes\"\n",
       "'from_mode' in [config] must be one of \"missing\" or \"always\""},
      {"provider = \"smtp\"\n[config]\nhost = \"h.example\"\nfrom_name = \"A\\r\\nBcc: x@y\"\n",
       "'from_name' in [config] must not contain control characters or line breaks"},
      {"provider = \"file\"\nweight = 2\n[config]\ndir = \"/x\"\n", "unknown key 'weight' at the top level"},
  };
  for (const Case& c : cases) {
    LoadResult r = load(c.text);
    ASSERT_EQ(r.errors.size(), 1u) << c.text << "\n" << joined(r.errors);
    EXPECT_NE(r.errors[0].message.find(c.needle), std::string::npos) << r.errors[0].to_string();
    EXPECT_GT(r.errors[0].line, 0) << r.errors[0].to_string();
  }
}

TEST(ConfErrors, NoUpstream) {
  LoadResult r = load("[server]\nlisten = [\"127.0.0.1:25\"]\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(),
            "test.toml:1:1: no upstream configured: set 'provider' with [config], or [primary_provider], or "
            "[load_balancing]");
}

TEST(ConfErrors, CrossTableRules) {
  expect_one_error("[caching]\ncache_provider = \"redis\"\n", "'redis_url' is not set");
  expect_one_error("[server]\nrequire_auth = true\n", "'require_auth' in [server] needs 'users_file'");
  expect_one_error("[server]\nlisten_tls = [\"0.0.0.0:465\"]\n", "'listen_tls' in [server] needs a certificate");
  expect_one_error("[security]\ncertificate_path = \"/c.pem\"\n",
                   "'certificate_path' in [security] needs 'private_key_path' as well");
  expect_one_error("[authentication]\ntype = \"oauth2\"\nclient_id = \"c\"\ntoken_url = \"https://t.example/token\"\n",
                   "missing 'refresh_token' in [authentication]");
  expect_one_error("[performance.connection_pool]\nmax_connections = 2\nmax_idle_connections = 3\n",
                   "'max_idle_connections' in [performance.connection_pool] (3) must not exceed");
  expect_one_error("[[alerting.notification_channels]]\ntype = \"webhook\"\n", "a webhook channel needs 'url'");
  expect_one_error("[[alerting.notification_channels]]\ntype = \"email\"\n", "an email channel needs 'recipients'");
  expect_one_error("[queue]\nretry_schedule = []\n",
                   "'retry_schedule' in [queue] must be a list of 1 to 100 durations; got an empty list");
}

TEST(ConfErrors, CrossTableErrorsPointAtTheKey) {
  LoadResult r = load(std::string(kFileUpstream) + "[caching]\nenable_response_caching = true\ncache_provider = \"redis\"\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 6);
  EXPECT_EQ(r.errors[0].column, 1);
}

TEST(ConfErrors, MixedUpstreamFormsAreRejected) {
  LoadResult r = load(
      "provider = \"file\"\n[config]\ndir = \"/x\"\n[load_balancing]\n[[load_balancing.providers]]\n"
      "provider = \"file\"\n[load_balancing.providers.config]\ndir = \"/y\"\n");
  ASSERT_EQ(r.errors.size(), 1u) << joined(r.errors);
  EXPECT_NE(r.errors[0].message.find("'provider' and 'load_balancing' are two different upstream forms"),
            std::string::npos);
  EXPECT_EQ(r.errors[0].line, 4);
}

TEST(ConfErrors, ManyErrorsAreAllReportedInFileOrder) {
  LoadResult r = load(
      "provider = \"file\"\n[config]\ndir = \"/x\"\n"
      "[server]\nmax_recipients = 0\nmax_connections = -1\nbare_lf = 1\nhostname = \"bad host\"\n"
      "[queue]\nbounce = \"yes\"\n[metrics]\nenabled = 1\n");
  ASSERT_EQ(r.errors.size(), 6u) << joined(r.errors);
  for (std::size_t i = 1; i < r.errors.size(); ++i) EXPECT_GT(r.errors[i].line, r.errors[i - 1].line);
}

TEST(ConfErrors, TomlSyntaxErrorHasAPosition) {
  LoadResult r = load("provider = \"file\"\n[config\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, "test.toml");
  EXPECT_EQ(r.errors[0].line, 2);
  EXPECT_GT(r.errors[0].column, 0);
}

TEST(ConfErrors, MissingFileIsOneErrorWithoutPosition) {
  LoadResult r = load_file("/nonexistent/smarthost.toml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 0);
  EXPECT_NE(r.errors[0].to_string().find("/nonexistent/smarthost.toml: cannot read the configuration"),
            std::string::npos);
}

}  // namespace
}  // namespace smarthost::conf::test
