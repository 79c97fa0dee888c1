// The in-memory configuration model: one immutable value built by the loader (loader.h) from TOML or JSON.
// Every key of the configuration guide and of the contract (shared/design/config.md) has a field here with its
// default next to it. Bounds and validation live in the loader's schema, not here.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace smarthost::conf {

using Seconds = std::chrono::seconds;
using Millis = std::chrono::milliseconds;

// ---- Upstreams ---------------------------------------------------------------------------------------------

enum class ProviderKind { smtp, mailgun, sendgrid, postmark, ses, file };

// from_mode: "missing" uses from_email/from_name only when the message has no From; "always" rewrites From.
enum class FromMode { missing, always };

// Keys every provider has.
struct CommonProviderConfig {
  std::string from_email;
  std::string from_name;
  std::string reply_to;
  std::string endpoint;  // base URL for HTTP providers, host:port for smtp; empty = the provider's default
  FromMode from_mode = FromMode::missing;
};

struct SmtpConfig {
  std::string host;
  uint16_t port = 587;  // default: 465 when use_ssl, else 587
  std::string username;
  std::string password;  // secret
  bool use_tls = false;  // STARTTLS, required once set
  bool use_ssl = false;  // implicit TLS
  Seconds timeout{30};
  std::string local_hostname;  // empty = server.hostname
  int debug_level = 0;         // 0..2
  std::string return_path;     // the envelope sender used upstream; empty = keep the client's
  bool chunking = true;        // BDAT (RFC 3030) when the server offers CHUNKING; false: always DATA
};

struct MailgunTracking {
  std::optional<bool> opens;
  std::optional<bool> clicks;
  std::optional<bool> unsubscribes;
};

struct MailgunConfig {
  std::string api_key;  // secret
  std::string domain;
  std::string region = "us";  // us | eu
  MailgunTracking tracking;
  std::vector<std::string> tags;
  std::map<std::string, std::string> custom_variables;  // value is JSON text (a string value is quoted)
};

// SendGrid tracking_settings, as in the v3 API. Unset fields are not sent.
struct SendgridTracking {
  std::optional<bool> click_enable;
  std::optional<bool> click_enable_text;
  std::optional<bool> open_enable;
  std::optional<std::string> open_substitution_tag;
  std::optional<bool> subscription_enable;
  std::optional<std::string> subscription_text;
  std::optional<std::string> subscription_html;
  std::optional<std::string> subscription_substitution_tag;
};

struct SendgridConfig {
  std::string api_key;  // secret
  std::string template_id;
  std::vector<std::string> categories;
  std::map<std::string, std::string> custom_args;
  SendgridTracking tracking_settings;
  // gzip the JSON body (Content-Encoding: gzip): SendGrid's "mail body compression", enabled for some accounts only.
  bool compress_requests = false;
};

struct PostmarkConfig {
  std::string server_token;  // secret
  std::optional<bool> track_opens;
  std::string track_links;  // "" (unset) | None | HtmlAndText | HtmlOnly | TextOnly
  std::string message_stream = "outbound";
  std::string tag;
  std::map<std::string, std::string> metadata;
};

struct SesTag {
  std::string name;
  std::string value;
};

struct SesConfig {
  std::string aws_access_key_id;
  std::string aws_secret_access_key;  // secret
  std::string aws_session_token;      // secret
  std::string region;                 // required
  std::string return_path;
  std::string configuration_set;
  std::vector<SesTag> tags;
};

struct FileConfig {
  std::string dir;  // required; each message becomes <id>.eml plus <id>.json
};

using ProviderConfig =
    std::variant<SmtpConfig, MailgunConfig, SendgridConfig, PostmarkConfig, SesConfig, FileConfig>;

// Per-upstream `options` (the guide's names).
struct UpstreamOptions {
  std::optional<uint32_t> rate_limit;  // messages per rate_limit_window; unset = unlimited
  Seconds rate_limit_window{3600};
  std::optional<uint32_t> burst_limit;   // messages back to back
  std::optional<double> max_send_rate;   // messages per second
  bool queue_on_limit = true;
  bool adaptive_rate_limiting = false;
  std::optional<uint32_t> min_rate_limit;
  std::optional<uint32_t> max_rate_limit;
  double rate_adjustment_factor = 0.1;
  Seconds timeout{30};
  uint32_t retry_attempts = 3;
  Seconds retry_delay{5};
  std::optional<uint32_t> connection_pool_size;
};

struct Upstream {
  std::string name;  // default: provider plus its index, e.g. "sendgrid0"
  ProviderKind provider = ProviderKind::file;
  uint32_t weight = 1;  // load_balancing only; never 0
  CommonProviderConfig common;
  ProviderConfig config;
  UpstreamOptions options;
};

enum class Routing { single, failover, round_robin, weighted, least_connections, response_time };

struct CircuitBreakerPolicy {
  uint32_t failure_threshold = 5;
  Seconds recovery_timeout{300};
};

struct FailoverPolicy {
  uint32_t max_retries = 3;
  Seconds retry_delay{5};
  CircuitBreakerPolicy circuit_breaker;
};

// ---- Other tables of the guide -------------------------------------------------------------------------------

enum class TlsVersion { tls1_0, tls1_1, tls1_2, tls1_3 };

struct SecurityConfig {
  TlsVersion tls_version = TlsVersion::tls1_2;  // the minimum, both directions
  bool verify_certificates = true;
  std::string certificate_path;
  std::string private_key_path;
  std::string ca_file;                 // (new) extra CA bundle for upstream TLS; empty = system store
  std::vector<std::string> allowed_ips;  // CIDR; empty = loopback only
  std::vector<std::string> blocked_ips;  // CIDR; wins over allowed_ips
};

struct AuthenticationConfig {
  std::string type;  // "" (none) | "oauth2"
  std::string client_id;
  std::string client_secret;  // secret
  std::string refresh_token;  // secret
  std::string token_url;
  std::string scope;  // (new) optional OAuth scope
};

struct ConnectionPoolConfig {
  uint32_t max_connections = 10;
  uint32_t max_idle_connections = 5;
  Seconds connection_timeout{30};
  Seconds idle_timeout{300};
};

// (new) The relay's CPU scheduling policy: batch (SCHED_BATCH) or normal (SCHED_OTHER); app/cpu_scheduling.h.
enum class CpuScheduling { batch, normal };

struct PerformanceConfig {
  ConnectionPoolConfig connection_pool;
  CpuScheduling cpu_scheduling = CpuScheduling::batch;
  // (new) What the provider API deliveries may hold in memory for message payloads at once
  // (upstream/http/payload_budget.h); deliveries beyond it wait their turn.
  uint64_t max_payload_memory = 256ull << 20;
};

enum class CacheProvider { memory, redis };

struct CachingConfig {
  bool enable_response_caching = false;
  Seconds cache_ttl{3600};
  std::string cache_key_prefix = "smarthost:";
  CacheProvider cache_provider = CacheProvider::memory;
  std::string redis_url;  // secret (may hold a password); required with cache_provider = "redis"
  Millis redis_timeout{500};             // each Redis call; slower counts as down (fleet mode falls back)
  double redis_fallback_fraction = 0.5;  // Redis down: each instance's local limits, as a share of the shared ones
};

struct BatchProcessingConfig {
  bool enabled = false;
  uint32_t batch_size = 100;
  Millis batch_timeout{1000};
  uint32_t max_batches_per_second = 10;
};

struct HealthCheckConfig {
  bool enabled = false;
  Seconds interval{300};
  Seconds timeout{10};
  uint32_t failure_threshold = 3;
};

struct MonitoringConfig {
  HealthCheckConfig health_check;
};

struct MetricsConfig {
  bool enabled = true;
  bool track_delivery_time = true;
  bool track_error_rates = true;
  bool track_throughput = true;
  Seconds export_interval{60};
  std::string listen = "127.0.0.1:9325";
};

struct NotificationChannel {
  std::string type;  // "email" | "webhook"
  std::vector<std::string> recipients;  // email
  std::string url;                      // webhook; secret (webhook URLs carry tokens)
};

struct AlertingConfig {
  double error_rate_threshold = 0.05;
  uint32_t response_time_threshold = 5000;  // milliseconds, p95
  uint32_t queue_size_threshold = 1000;
  std::vector<NotificationChannel> notification_channels;
  Seconds cooldown{900};
};

struct TestModeConfig {
  bool enabled = false;
  std::string test_email;
  bool skip_delivery = false;
  bool log_only = false;
};

struct ValidationConfig {
  bool validate_credentials = false;
  bool test_connection = false;
  bool send_test_email = false;
  bool verify_domain = false;
};

// ---- New tables (not in the guide) -----------------------------------------------------------------------

enum class BareLf { reject, normalize };
enum class DeliveryMode { queue, passthrough };

struct ServerConfig {
  std::vector<std::string> listen{"127.0.0.1:25"};  // "host:port", "[v6]:port" or "unix:/path"
  std::vector<std::string> listen_tls;               // implicit TLS (RFC 8314)
  std::string hostname;                              // default: the machine's host name
  uint64_t max_message_size = 25ull * 1024 * 1024;
  uint32_t max_recipients = 100;
  uint32_t max_connections = 1000;
  uint32_t max_connections_per_ip = 50;
  uint32_t max_connections_per_user = 0;  // concurrent authenticated sessions per user; 0 = no limit
  // Per-client rates (0 = no limit): over them, MAIL or RCPT gets 450 4.7.1. "per_user" counts AUTH users.
  uint32_t max_messages_per_minute_per_ip = 0;
  uint32_t max_recipients_per_minute_per_ip = 0;
  uint32_t max_messages_per_minute_per_user = 0;
  uint32_t max_recipients_per_minute_per_user = 0;
  Seconds command_timeout{300};
  Seconds data_timeout{600};
  Seconds drain_timeout{30};  // SIGTERM: open sessions may finish for this long, then get 421 4.3.2
  bool require_tls = false;
  bool require_auth = false;
  std::string users_file;  // lines "user:crypt-hash[:sender,sender...]"
  bool allow_plaintext_auth = false;
  std::vector<std::string> allowed_sender_domains;
  std::vector<std::string> allowed_recipient_domains;
  BareLf bare_lf = BareLf::reject;
  DeliveryMode delivery_mode = DeliveryMode::queue;
};

struct QueueConfig {
  std::string dir = "/var/spool/smarthost";
  Seconds max_lifetime{5 * 24 * 3600};
  std::vector<Seconds> retry_schedule{Seconds{60}, Seconds{300}, Seconds{900}, Seconds{1800}, Seconds{3600}};
  bool bounce = true;
  uint32_t max_parallel_deliveries = 20;
};

enum class LogFormat { text, json };

struct LoggingConfig {
  std::string level = "info";  // trace | debug | info | warn | error | critical | off
  LogFormat format = LogFormat::text;
  std::string access_log;  // "" = off; a path, or "-" for stderr: one line per SMTP session
};

// ---- The whole configuration -------------------------------------------------------------------------------

struct Config {
  std::string source_path;  // the file it came from; "(embedded default)" for the development profile
  std::string sha256;       // of the effective configuration, for change tracking
  std::string environment;  // development | staging | production | ""

  std::vector<Upstream> upstreams;  // in order: primary first, then fallbacks / balanced members
  Routing routing = Routing::single;
  FailoverPolicy failover_policy;

  SecurityConfig security;
  AuthenticationConfig authentication;
  PerformanceConfig performance;
  CachingConfig caching;
  BatchProcessingConfig batch_processing;
  MonitoringConfig monitoring;
  MetricsConfig metrics;
  AlertingConfig alerting;
  TestModeConfig test_mode;
  ValidationConfig validation;
  ServerConfig server;
  QueueConfig queue;
  LoggingConfig logging;

  // Every secret value in this configuration (passwords, keys, tokens), for log redaction.
  std::vector<std::string> secrets;
};

std::string_view to_string(ProviderKind);
std::string_view to_string(Routing);

}  // namespace smarthost::conf
