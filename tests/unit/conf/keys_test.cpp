// Table-driven: for every key, its default (as printed), that a value is parsed, that values at its bounds are
// accepted, and that values outside them (or of the wrong type) give exactly one error naming the key.
#include <gtest/gtest.h>

#include <map>

#include "tests/unit/conf/load_text.h"

namespace smarthost::conf::test {
namespace {

struct KeyCase {
  std::string provider;  // the upstream around the key
  std::string table;     // "server", "config", "config.tracking", "performance.connection_pool", ...
  std::string key;
  std::string default_printed;  // as print_effective shows it; "(not set)" for unset optional keys
  std::string value;            // a TOML value to set
  std::string value_printed;    // how that value prints back
  std::vector<std::string> bad = {};    // each gives exactly one error about this key
  std::vector<std::string> edges = {};  // each (a bound) loads
};

const std::map<std::string, std::string> kRequired{
    {"file", "dir = \"/tmp/out\"\n"},
    {"smtp", "host = \"smtp.example.com\"\n"},
    {"mailgun", "api_key = \"k\"\ndomain = \"mg.example.com\"\n"},
    {"sendgrid", "api_key = \"k\"\n"},
    {"postmark", "server_token = \"t\"\n"},
    {"ses", "aws_access_key_id = \"A\"\naws_secret_access_key = \"S\"\nregion = \"us-east-1\"\n"},
};

// The provider's required [config] lines (minus the key under test), then the key in its table.
std::string config_text(const KeyCase& c, const std::optional<std::string>& value) {
  std::string required;
  std::string lines = kRequired.at(c.provider);
  for (std::size_t start = 0; start < lines.size();) {
    std::size_t end = lines.find('\n', start);
    std::string line = lines.substr(start, end - start + 1);
    if (!(c.table == "config" && line.starts_with(c.key + " = "))) required += line;
    start = end + 1;
  }
  std::string text = "provider = \"" + c.provider + "\"\n[config]\n" + required;
  if (!value) return text;
  if (c.table != "config") text += "[" + c.table + "]\n";
  return text + c.key + " = " + *value + "\n";
}

// The value printed for `key` in section [header], or "(not set)", or "" when absent.
std::string printed_value(const std::string& printed, const std::string& header, const std::string& key) {
  auto at = printed.find("\n[" + header + "]\n");
  if (at == std::string::npos) return "";
  std::size_t pos = at + header.size() + 4;
  while (pos < printed.size() && printed[pos] != '[') {
    std::size_t end = printed.find('\n', pos);
    std::string line = printed.substr(pos, end - pos);
    if (line.starts_with(key + " = ")) return line.substr(key.size() + 3);
    if (line == "# " + key + " = (not set)") return "(not set)";
    pos = end + 1;
  }
  return "";
}

const std::vector<KeyCase>& cases() {
  static const std::vector<KeyCase> kCases{
      // ---- [config]: keys every provider has
      {"file", "config", "from_email", "\"\"", "\"a@example.com\"", "\"a@example.com\"", {"\"nobody\"", "1"}},
      {"file", "config", "from_name", "\"\"", "\"Relay\"", "\"Relay\"", {"true", "\"a\\nb\""}},
      {"file", "config", "reply_to", "\"\"", "\"r@example.com\"", "\"r@example.com\"", {"\"x@\""}},
      {"sendgrid", "config", "endpoint", "\"\"", "\"http://127.0.0.1:8080\"", "\"http://127.0.0.1:8080\"",
       {"\"127.0.0.1:8080\""}},
      {"file", "config", "from_mode", "\"missing\"", "\"always\"", "\"always\"", {"\"never\""}},
      // ---- smtp
      {"smtp", "config", "host", "(required)", "\"relay.example.com\"", "\"relay.example.com\"", {"\"bad host\""}},
      {"smtp", "config", "port", "587", "2525", "2525", {"0", "65536", "\"587\""}, {"1", "65535"}},
      {"smtp", "config", "username", "\"\"", "\"u\"", "\"u\"", {"5"}},
      {"smtp", "config", "use_tls", "false", "true", "true", {"\"yes\"", "1"}},
      {"smtp", "config", "use_ssl", "false", "true", "true", {"\"true\""}},
      {"smtp", "config", "timeout", "\"30s\"", "\"2m\"", "\"2m\"", {"0", "\"2h\"", "\"1500ms\""}, {"1", "3600"}},
      {"smtp", "config", "local_hostname", "\"\"", "\"mx.example.com\"", "\"mx.example.com\"", {"\"a b\""}},
      {"smtp", "config", "debug_level", "0", "2", "2", {"-1", "3", "1.0"}},
      {"smtp", "config", "return_path", "\"\"", "\"b@example.com\"", "\"b@example.com\"", {"\"b\""}},
      {"smtp", "config", "chunking", "true", "false", "false", {"\"no\"", "0"}},
      // ---- mailgun
      {"mailgun", "config", "domain", "(required)", "\"mg.example.org\"", "\"mg.example.org\"", {"\"a..b\""}},
      {"mailgun", "config", "region", "\"us\"", "\"eu\"", "\"eu\"", {"\"EU\"", "1"}},
      {"mailgun", "config", "tags", "[]", "[\"a\", \"b\"]", "[\"a\", \"b\"]", {"[1]", "{ a = 1 }"}},
      {"mailgun", "config", "custom_variables", "{}", "{ env = \"prod\", n = 3 }", "{ env = \"prod\", n = 3 }",
       {"[1]"}},
      {"mailgun", "config.tracking", "opens", "(not set)", "true", "true", {"\"yes\""}},
      {"mailgun", "config.tracking", "clicks", "(not set)", "false", "false", {"0"}},
      {"mailgun", "config.tracking", "unsubscribes", "(not set)", "true", "true", {"1"}},
      // ---- sendgrid
      {"sendgrid", "config", "template_id", "\"\"", "\"d-1\"", "\"d-1\"", {"1"}},
      {"sendgrid", "config", "categories", "[]", "[\"a\"]", "[\"a\"]",
       {"[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\"]"}},
      {"sendgrid", "config", "custom_args", "{}", "{ a = \"b\" }", "{ a = \"b\" }", {"{ a = 1 }"}},
      {"sendgrid", "config", "compress_requests", "false", "true", "true", {"1"}},
      {"sendgrid", "config.tracking_settings.click_tracking", "enable", "(not set)", "true", "true", {"1"}},
      {"sendgrid", "config.tracking_settings.click_tracking", "enable_text", "(not set)", "false", "false", {"1"}},
      {"sendgrid", "config.tracking_settings.open_tracking", "substitution_tag", "(not set)", "\"%o%\"", "\"%o%\"",
       {"1"}},
      {"sendgrid", "config.tracking_settings.subscription_tracking", "text", "(not set)", "\"Bye\"", "\"Bye\"",
       {"1"}},
      // ---- postmark
      {"postmark", "config", "track_opens", "(not set)", "true", "true", {"\"true\""}},
      {"postmark", "config", "track_links", "(not set)", "\"HtmlAndText\"", "\"HtmlAndText\"", {"\"html\""}},
      {"postmark", "config", "message_stream", "\"outbound\"", "\"broadcast\"", "\"broadcast\"", {"1"}},
      {"postmark", "config", "tag", "\"\"", "\"t\"", "\"t\"", {"[]"}},
      {"postmark", "config", "metadata", "{}", "{ k = \"v\" }", "{ k = \"v\" }", {"\"k=v\""}},
      // ---- ses
      {"ses", "config", "region", "(required)", "\"eu-west-1\"", "\"eu-west-1\"", {"\"Europe\""}},
      {"ses", "config", "configuration_set", "\"\"", "\"cs\"", "\"cs\"", {"1"}},
      {"ses", "config", "aws_session_token", "\"\"", "\"tok\"", "\"***\"", {"1"}},
      // ---- [options]
      {"file", "options", "rate_limit", "(not set)", "100", "100", {"0", "10000001", "\"100\""}, {"1", "10000000"}},
      {"file", "options", "rate_limit_window", "\"1h\"", "60", "\"1m\"", {"0", "\"31d\""}, {"1", "\"30d\""}},
      {"file", "options", "burst_limit", "(not set)", "10", "10", {"0", "100001"}},
      {"file", "options", "max_send_rate", "(not set)", "14", "14.0", {"0", "-1", "100001", "\"fast\""}, {"0.5"}},
      {"file", "options", "queue_on_limit", "true", "false", "false", {"0"}},
      {"file", "options", "adaptive_rate_limiting", "false", "true", "true", {"1"}},
      {"file", "options", "min_rate_limit", "(not set)", "10", "10", {"0"}},
      {"file", "options", "max_rate_limit", "(not set)", "1000", "1000", {"0"}},
      {"file", "options", "rate_adjustment_factor", "0.1", "0.25", "0.25", {"0", "1.5"}, {"1", "0.001"}},
      {"file", "options", "timeout", "\"30s\"", "5", "\"5s\"", {"0", "3601"}},
      {"file", "options", "retry_attempts", "3", "0", "0", {"-1", "101"}, {"100"}},
      {"file", "options", "retry_delay", "\"5s\"", "0", "\"0s\"", {"-1", "\"2d\""}},
      {"file", "options", "connection_pool_size", "(not set)", "5", "5", {"0", "1001"}},
      // ---- [failover_policy]
      {"file", "failover_policy", "max_retries", "3", "5", "5", {"-1", "101"}},
      {"file", "failover_policy", "retry_delay", "\"5s\"", "\"10s\"", "\"10s\"", {"\"2h\""}},
      {"file", "failover_policy.circuit_breaker", "failure_threshold", "5", "10", "10", {"0"}},
      {"file", "failover_policy.circuit_breaker", "recovery_timeout", "\"5m\"", "600", "\"10m\"", {"0"}},
      // ---- [server]
      {"file", "server", "listen", "[\"127.0.0.1:25\"]", "\"0.0.0.0:2525\"", "[\"0.0.0.0:2525\"]", {"[\"x\"]", "25"}},
      {"file", "server", "listen_tls", "[]", "[]", "[]", {"[1]"}},
      {"file", "server", "hostname", "\"\"", "\"mx.example.com\"", "\"mx.example.com\"", {"\"a b\""}},
      {"file", "server", "max_message_size", "\"25MB\"", "10485760", "\"10MB\"", {"1023", "\"3GB\"", "true"},
       {"\"1KB\"", "\"2GB\""}},
      {"file", "server", "max_recipients", "100", "1000", "1000", {"0", "100001"}},
      {"file", "server", "max_connections", "1000", "100", "100", {"0"}},
      {"file", "server", "max_connections_per_ip", "50", "5", "5", {"0"}},
      {"file", "server", "max_connections_per_user", "0", "3", "3", {"-1", "1000001"}},
      {"file", "server", "max_messages_per_minute_per_ip", "0", "60", "60", {"-1", "1000001"}},
      {"file", "server", "max_recipients_per_minute_per_ip", "0", "600", "600", {"-1", "10000001"}},
      {"file", "server", "max_messages_per_minute_per_user", "0", "60", "60", {"-1", "1000001"}},
      {"file", "server", "max_recipients_per_minute_per_user", "0", "600", "600", {"-1", "10000001"}},
      {"file", "server", "command_timeout", "\"5m\"", "\"1m\"", "\"1m\"", {"0", "\"2h\""}},
      {"file", "server", "data_timeout", "\"10m\"", "\"30m\"", "\"30m\"", {"0", "\"3h\""}},
      {"file", "server", "require_auth", "false", "false", "false", {"\"no\""}},
      {"file", "server", "users_file", "\"\"", "\"/etc/smarthost/users\"", "\"/etc/smarthost/users\"", {"1"}},
      {"file", "server", "allow_plaintext_auth", "false", "true", "true", {"1"}},
      {"file", "server", "allowed_sender_domains", "[]", "[\"example.com\", \"*.example.org\"]",
       "[\"example.com\", \"*.example.org\"]", {"[\"not a domain\"]"}},
      {"file", "server", "allowed_recipient_domains", "[]", "[\"example.com\"]", "[\"example.com\"]", {"[\"@\"]"}},
      {"file", "server", "bare_lf", "\"reject\"", "\"normalize\"", "\"normalize\"", {"\"strip\""}},
      {"file", "server", "delivery_mode", "\"queue\"", "\"passthrough\"", "\"passthrough\"", {"\"direct\""}},
      // ---- [queue]
      {"file", "queue", "dir", "\"/var/spool/smarthost\"", "\"/srv/q\"", "\"/srv/q\"", {"1"}},
      {"file", "queue", "max_lifetime", "\"5d\"", "\"2d\"", "\"2d\"", {"59", "\"31d\""}, {"60", "\"30d\""}},
      {"file", "queue", "retry_schedule", "[\"1m\", \"5m\", \"15m\", \"30m\", \"1h\"]", "[10, \"1m\"]",
       "[\"10s\", \"1m\"]", {"[]", "[0]", "\"1m\"", "[\"2d\"]"}},
      {"file", "queue", "bounce", "true", "false", "false", {"0"}},
      {"file", "queue", "max_parallel_deliveries", "20", "4", "4", {"0", "10001"}},
      // ---- [security]
      {"file", "security", "tls_version", "\"TLSv1.2\"", "\"TLSv1.3\"", "\"TLSv1.3\"", {"\"1.2\"", "1.2"}},
      {"file", "security", "verify_certificates", "true", "false", "false", {"\"false\""}},
      {"file", "security", "ca_file", "\"\"", "\"/etc/ssl/ca.pem\"", "\"/etc/ssl/ca.pem\"", {"1"}},
      {"file", "security", "allowed_ips", "[]", "[\"10.0.0.0/8\", \"::1\"]", "[\"10.0.0.0/8\", \"::1\"]",
       {"[\"10.0.0.0/40\"]", "[\"example.com\"]"}},
      {"file", "security", "blocked_ips", "[]", "[\"203.0.113.0/24\"]", "[\"203.0.113.0/24\"]", {"[\"1.2.3\"]"}},
      // ---- [authentication] (type alone is checked with its companions in errors_test)
      {"file", "authentication", "scope", "\"\"", "\"mail\"", "\"mail\"", {"1"}},
      // ---- [performance.connection_pool]
      {"file", "performance.connection_pool", "max_connections", "10", "20", "20", {"0", "10001"}},
      {"file", "performance.connection_pool", "max_idle_connections", "5", "0", "0", {"-1"}},
      {"file", "performance.connection_pool", "connection_timeout", "\"30s\"", "10", "\"10s\"", {"0", "601"}},
      {"file", "performance.connection_pool", "idle_timeout", "\"5m\"", "60", "\"1m\"", {"0"}},
      {"file", "performance", "cpu_scheduling", "\"batch\"", "\"normal\"", "\"normal\"", {"\"fifo\"", "1"}},
      {"file", "performance", "max_payload_memory", "\"256MB\"", "\"1GB\"", "\"1GB\"",
       {"\"1MB\"", "\"65GB\"", "true"}},
      // ---- [caching]
      {"file", "caching", "enable_response_caching", "false", "true", "true", {"1"}},
      {"file", "caching", "cache_ttl", "\"1h\"", "\"2h\"", "\"2h\"", {"0"}},
      {"file", "caching", "cache_key_prefix", "\"smarthost:\"", "\"x:\"", "\"x:\"", {"1"}},
      {"file", "caching", "cache_provider", "\"memory\"", "\"memory\"", "\"memory\"", {"\"disk\""}},
      {"file", "caching", "redis_url", "\"\"", "\"redis://localhost:6379/0\"", "\"redis://localhost:6379/0\"",
       {"\"localhost:6379\""}},
      // ---- [batch_processing]
      {"file", "batch_processing", "enabled", "false", "true", "true", {"1"}},
      {"file", "batch_processing", "batch_size", "100", "500", "500", {"0", "1001"}},
      {"file", "batch_processing", "batch_timeout", "\"1s\"", "\"250ms\"", "\"250ms\"", {"\"0ms\"", "\"2h\""},
       {"\"1ms\"", "3600"}},
      {"file", "batch_processing", "max_batches_per_second", "10", "1", "1", {"0", "1001"}},
      // ---- [monitoring.health_check]
      {"file", "monitoring.health_check", "enabled", "false", "true", "true", {"1"}},
      {"file", "monitoring.health_check", "interval", "\"5m\"", "60", "\"1m\"", {"0"}},
      {"file", "monitoring.health_check", "timeout", "\"10s\"", "5", "\"5s\"", {"0", "601"}},
      {"file", "monitoring.health_check", "failure_threshold", "3", "1", "1", {"0", "101"}},
      // ---- [metrics]
      {"file", "metrics", "enabled", "true", "false", "false", {"1"}},
      {"file", "metrics", "track_delivery_time", "true", "false", "false", {"1"}},
      {"file", "metrics", "track_error_rates", "true", "false", "false", {"1"}},
      {"file", "metrics", "track_throughput", "true", "false", "false", {"1"}},
      {"file", "metrics", "export_interval", "\"1m\"", "30", "\"30s\"", {"0"}},
      {"file", "metrics", "listen", "\"127.0.0.1:9325\"", "\"[::1]:0\"", "\"[::1]:0\"", {"\"9325\""}},
      // ---- [alerting]
      {"file", "alerting", "error_rate_threshold", "0.05", "0.01", "0.01", {"-0.1", "1.01", "\"5%\""}, {"0", "1"}},
      {"file", "alerting", "response_time_threshold", "5000", "250", "250", {"0", "3600001"}},
      {"file", "alerting", "queue_size_threshold", "1000", "10", "10", {"0"}},
      {"file", "alerting", "cooldown", "\"15m\"", "0", "\"0s\"", {"\"8d\""}},
      // ---- [test_mode]
      {"file", "test_mode", "enabled", "false", "true", "true", {"1"}},
      {"file", "test_mode", "test_email", "\"\"", "\"t@example.com\"", "\"t@example.com\"", {"\"t\""}},
      {"file", "test_mode", "skip_delivery", "false", "true", "true", {"1"}},
      {"file", "test_mode", "log_only", "false", "true", "true", {"1"}},
      // ---- [validation]
      {"file", "validation", "validate_credentials", "false", "true", "true", {"1"}},
      {"file", "validation", "test_connection", "false", "true", "true", {"1"}},
      {"file", "validation", "send_test_email", "false", "true", "true", {"1"}},
      {"file", "validation", "verify_domain", "false", "true", "true", {"1"}},
      // ---- [logging]
      {"file", "logging", "level", "\"info\"", "\"debug\"", "\"debug\"", {"\"loud\"", "1"}},
      {"file", "logging", "format", "\"text\"", "\"json\"", "\"json\"", {"\"xml\""}},
      {"file", "logging", "access_log", "\"\"", "\"-\"", "\"-\"", {"1"}},
  };
  return kCases;
}

std::string label(const KeyCase& c) { return c.provider + " [" + c.table + "] " + c.key; }

TEST(ConfKeys, EachKeyHasItsDeclaredDefault) {
  for (const KeyCase& c : cases()) {
    if (c.default_printed == "(required)") continue;
    LoadResult r = load(config_text(c, std::nullopt));
    ASSERT_TRUE(r.ok()) << label(c) << "\n" << joined(r.errors);
    EXPECT_EQ(printed_value(print_effective(*r.config), c.table, c.key), c.default_printed) << label(c);
  }
}

TEST(ConfKeys, EachKeyParsesAValue) {
  for (const KeyCase& c : cases()) {
    LoadResult r = load(config_text(c, c.value));
    ASSERT_TRUE(r.ok()) << label(c) << "\n" << joined(r.errors);
    EXPECT_EQ(printed_value(print_effective(*r.config), c.table, c.key), c.value_printed) << label(c);
  }
}

TEST(ConfKeys, EachKeyAcceptsItsBounds) {
  for (const KeyCase& c : cases()) {
    for (const std::string& edge : c.edges) {
      LoadResult r = load(config_text(c, edge));
      EXPECT_TRUE(r.ok()) << label(c) << " = " << edge << "\n" << joined(r.errors);
    }
  }
}

TEST(ConfKeys, EachKeyRejectsValuesOutsideItsBoundsWithOneErrorNamingIt) {
  for (const KeyCase& c : cases()) {
    ASSERT_FALSE(c.bad.empty()) << label(c);
    for (const std::string& bad : c.bad) {
      LoadResult r = load(config_text(c, bad));
      ASSERT_EQ(r.errors.size(), 1u) << label(c) << " = " << bad << "\n" << joined(r.errors);
      const Diagnostic& d = r.errors[0];
      EXPECT_NE(d.message.find(c.key), std::string::npos) << label(c) << " = " << bad << ": " << d.message;
      EXPECT_GT(d.line, 0) << d.to_string();
      EXPECT_GT(d.column, 0) << d.to_string();
    }
  }
}

TEST(ConfKeys, SpotChecksOfTheModel) {
  LoadResult r = load(
      "provider = \"smtp\"\n[config]\nhost = \"h.example\"\nuse_ssl = true\n"
      "[options]\nrate_limit = 100\nretry_delay = \"1m\"\n"
      "[server]\nmax_message_size = \"512KB\"\ncommand_timeout = \"2m\"\n"
      "[batch_processing]\nbatch_timeout = 30\n"
      "[security]\ntls_version = \"TLSv1.3\"\n"
      "[logging]\nformat = \"json\"\n");
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  const Config& c = *r.config;
  const auto& smtp = std::get<SmtpConfig>(c.upstreams[0].config);
  EXPECT_EQ(smtp.port, 465);  // implicit TLS defaults to 465
  EXPECT_EQ(c.upstreams[0].options.rate_limit, 100u);
  EXPECT_EQ(c.upstreams[0].options.retry_delay, Seconds{60});
  EXPECT_EQ(c.server.max_message_size, 512u * 1024);
  EXPECT_EQ(c.server.command_timeout, Seconds{120});
  EXPECT_EQ(c.batch_processing.batch_timeout, Millis{30'000});
  EXPECT_EQ(c.security.tls_version, TlsVersion::tls1_3);
  EXPECT_EQ(c.logging.format, LogFormat::json);
}

TEST(ConfKeys, ArraysOfTables) {
  LoadResult r = load(std::string(kFileUpstream) +
                      "[[alerting.notification_channels]]\ntype = \"email\"\nrecipients = [\"a@example.com\"]\n"
                      "[[alerting.notification_channels]]\ntype = \"webhook\"\nurl = \"https://hooks.example/x\"\n");
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  ASSERT_EQ(r.config->alerting.notification_channels.size(), 2u);
  EXPECT_EQ(r.config->alerting.notification_channels[1].url, "https://hooks.example/x");

  LoadResult bad = load(std::string(kFileUpstream) + "[[alerting.notification_channels]]\ntype = \"sms\"\n");
  ASSERT_EQ(bad.errors.size(), 1u) << joined(bad.errors);
  EXPECT_NE(bad.errors[0].message.find("'type' in [alerting.notification_channels[0]] must be one of"),
            std::string::npos);

  LoadResult ses = load(
      "provider = \"ses\"\n[config]\naws_access_key_id = \"A\"\naws_secret_access_key = \"S\"\nregion = \"us-east-1\"\n"
      "tags = [{ Name = \"a\", Value = \"b\" }, { Name = \"c\", Valu = \"d\" }]\n");
  ASSERT_EQ(ses.errors.size(), 1u) << joined(ses.errors);
  EXPECT_NE(ses.errors[0].message.find("unknown key 'Valu' in [config.tags[1]]; did you mean 'Value'?"),
            std::string::npos)
      << ses.errors[0].message;
}

}  // namespace
}  // namespace smarthost::conf::test
