// The configuration's keys, one line each: name, field, default and bounds side by side (the mail_params.h idea).
// The defaults here are the ones a load applies; config.h repeats them for code that builds a Config by hand, and
// a unit test keeps the two equal. Rules that involve two keys or more are in checks.cpp and upstreams.cpp.
#include "conf/params.h"

#include <cctype>

#include "conf/addresses.h"

namespace smarthost::conf {

namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr seconds kOneDay{86400};

std::optional<std::string> check_host(std::string_view text) {
  if (is_host_name(text)) return std::nullopt;
  return "\"" + std::string(text) + "\" is not a host name or IP address";
}

std::optional<std::string> check_cidr_entry(std::string_view text) {
  if (auto why = check_cidr(text)) return "\"" + std::string(text) + "\" is not a CIDR block: " + *why;
  return std::nullopt;
}

std::optional<std::string> check_listen(std::string_view text) {
  if (auto why = check_listen_address(text)) return "\"" + std::string(text) + "\": " + *why;
  return std::nullopt;
}

std::optional<std::string> check_domain_pattern(std::string_view text) {
  std::string_view domain = text.starts_with("*.") ? text.substr(2) : text;
  if (is_host_name(domain)) return std::nullopt;
  return "\"" + std::string(text) + "\" is not a domain (write example.com, or *.example.com for subdomains)";
}

std::optional<std::string> check_http_url(std::string_view text) { return check_url(text, {"https://", "http://"}); }

std::optional<std::string> check_redis_url(std::string_view text) {
  return check_url(text, {"redis://", "rediss://", "unix://"});
}

std::optional<std::string> check_region(std::string_view text) {
  bool ok = std::isalpha(static_cast<unsigned char>(text.front())) && text.find('-') != std::string_view::npos;
  for (char c : text) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-')) {
      ok = false;
    }
  }
  if (ok) return std::nullopt;
  return "\"" + std::string(text) + "\" is not an AWS region like \"us-east-1\"";
}

std::optional<std::string> check_category(std::string_view text) {
  if (text.size() <= 255) return std::nullopt;
  return "a category must be at most 255 characters";
}

// redis://user:secret@host -> redis://user:***@host: the password is a secret, the rest is not.
std::string mask_url_password(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  std::size_t authority = scheme_end + 3;
  std::size_t authority_end = url.find('/', authority);
  auto at = url.substr(0, authority_end).rfind('@');
  if (at == std::string_view::npos || at < authority) return std::string(url);
  std::string_view userinfo = url.substr(authority, at - authority);
  auto colon = userinfo.find(':');
  std::string masked(url.substr(0, authority));
  masked += colon == std::string_view::npos ? std::string("***") : std::string(userinfo.substr(0, colon + 1)) + "***";
  masked += url.substr(at);
  return masked;
}

// ---- Provider config ---------------------------------------------------------------------------------------------

Schema<CommonProviderConfig> common_schema() {
  using C = CommonProviderConfig;
  return {
      text("from_email", &C::from_email, "", checked(check_address)),
      text("from_name", &C::from_name),
      text("reply_to", &C::reply_to, "", checked(check_address)),
      text("endpoint", &C::endpoint),  // checked per provider in upstreams.cpp
      choice("from_mode", &C::from_mode, FromMode::missing,
             {{"missing", FromMode::missing}, {"always", FromMode::always}}),
  };
}

Schema<SmtpConfig> smtp_schema() {
  using S = SmtpConfig;
  return {
      text("host", &S::host, "", checked(check_host)),
      count("port", &S::port, 587, 1, 65535),  // 465 when use_ssl is set and port is not (upstreams.cpp)
      text("username", &S::username),
      text("password", &S::password, "", secret_value()),
      flag("use_tls", &S::use_tls, false),
      flag("use_ssl", &S::use_ssl, false),
      duration("timeout", &S::timeout, seconds{30}, seconds{1}, hours{1}),
      text("local_hostname", &S::local_hostname, "", checked(check_host)),
      count("debug_level", &S::debug_level, 0, 0, 2),
      text("return_path", &S::return_path, "", checked(check_address)),
      flag("chunking", &S::chunking, true),
  };
}

Schema<MailgunConfig> mailgun_schema() {
  using M = MailgunConfig;
  Schema<MailgunTracking> tracking{
      maybe_flag("opens", &MailgunTracking::opens),
      maybe_flag("clicks", &MailgunTracking::clicks),
      maybe_flag("unsubscribes", &MailgunTracking::unsubscribes),
  };
  return {
      text("api_key", &M::api_key, "", secret_value()),
      text("domain", &M::domain, "", checked(check_host)),
      text_choice("region", &M::region, "us", {"us", "eu"}),
      texts("tags", &M::tags, {}, 10),
      json_map("custom_variables", &M::custom_variables, 100),
      table("tracking", &M::tracking, tracking),
  };
}

Schema<SendgridConfig> sendgrid_schema() {
  using S = SendgridConfig;
  using T = SendgridTracking;
  Schema<T> tracking{
      group<T>("click_tracking", {maybe_flag("enable", &T::click_enable), maybe_flag("enable_text", &T::click_enable_text)}),
      group<T>("open_tracking",
               {maybe_flag("enable", &T::open_enable), maybe_text("substitution_tag", &T::open_substitution_tag)}),
      group<T>("subscription_tracking", {maybe_flag("enable", &T::subscription_enable),
                                         maybe_text("text", &T::subscription_text, multiline_text()),
                                         maybe_text("html", &T::subscription_html, multiline_text()),
                                         maybe_text("substitution_tag", &T::subscription_substitution_tag)}),
  };
  return {
      text("api_key", &S::api_key, "", secret_value()),
      text("template_id", &S::template_id),
      texts("categories", &S::categories, {}, 10, checked(check_category)),
      string_map("custom_args", &S::custom_args, 100),
      table("tracking_settings", &S::tracking_settings, tracking),
      flag("compress_requests", &S::compress_requests, false),
  };
}

Schema<PostmarkConfig> postmark_schema() {
  using P = PostmarkConfig;
  return {
      text("server_token", &P::server_token, "", secret_value()),
      maybe_flag("track_opens", &P::track_opens),
      text_choice("track_links", &P::track_links, "", {"None", "HtmlAndText", "HtmlOnly", "TextOnly"}),
      text("message_stream", &P::message_stream, "outbound"),
      text("tag", &P::tag),
      string_map("metadata", &P::metadata, 100),
  };
}

Schema<SesConfig> ses_schema() {
  using S = SesConfig;
  Schema<SesTag> tag{
      text("Name", &SesTag::name),
      text("Value", &SesTag::value),
  };
  return {
      text("aws_access_key_id", &S::aws_access_key_id),
      text("aws_secret_access_key", &S::aws_secret_access_key, "", secret_value()),
      text("aws_session_token", &S::aws_session_token, "", secret_value()),
      text("region", &S::region, "", checked(check_region)),
      text("return_path", &S::return_path, "", checked(check_address)),
      text("configuration_set", &S::configuration_set),
      table_list("tags", &S::tags, tag, 50),
  };
}

Schema<FileConfig> file_schema() {
  return {
      text("dir", &FileConfig::dir),
  };
}

// One provider's keys and the common keys as keys of the Upstream (the provider's struct lives in the variant).
template <class P>
Schema<Upstream> combined(const Schema<P>& own) {
  Schema<Upstream> out;
  for (const auto& k : own) {
    out.push_back(project<Upstream>(k, [](auto& u) -> auto& { return std::get<P>(u.config); }));
  }
  for (const auto& k : common_schema()) {
    out.push_back(project<Upstream>(k, [](auto& u) -> auto& { return u.common; }));
  }
  return out;
}

}  // namespace

std::optional<std::string> check_address(std::string_view text) {
  auto at = text.rfind('@');
  std::string_view local = at == std::string_view::npos ? std::string_view() : text.substr(0, at);
  std::string_view domain = at == std::string_view::npos ? std::string_view() : text.substr(at + 1);
  bool ok = !local.empty() && local.size() <= 64 && is_host_name(domain);
  for (char c : local) {
    if (c == ' ' || c == '<' || c == '>' || c == ',' || c == ';') ok = false;
  }
  if (ok) return std::nullopt;
  return "\"" + std::string(text) + "\" is not an email address like name@example.com";
}

const std::vector<std::pair<std::string_view, ProviderKind>>& provider_names() {
  static const std::vector<std::pair<std::string_view, ProviderKind>> kNames{
      {"smtp", ProviderKind::smtp},         {"mailgun", ProviderKind::mailgun}, {"sendgrid", ProviderKind::sendgrid},
      {"postmark", ProviderKind::postmark}, {"ses", ProviderKind::ses},         {"file", ProviderKind::file},
  };
  return kNames;
}

const std::vector<std::pair<std::string_view, Routing>>& strategy_names() {
  static const std::vector<std::pair<std::string_view, Routing>> kNames{
      {"round_robin", Routing::round_robin},
      {"weighted", Routing::weighted},
      {"least_connections", Routing::least_connections},
      {"response_time", Routing::response_time},
  };
  return kNames;
}

const std::vector<std::string_view>& environment_names() {
  static const std::vector<std::string_view> kNames{"development", "staging", "production"};
  return kNames;
}

const Schema<Upstream>& provider_config_schema(ProviderKind kind) {
  static const Schema<Upstream> kSmtp = combined(smtp_schema());
  static const Schema<Upstream> kMailgun = combined(mailgun_schema());
  static const Schema<Upstream> kSendgrid = combined(sendgrid_schema());
  static const Schema<Upstream> kPostmark = combined(postmark_schema());
  static const Schema<Upstream> kSes = combined(ses_schema());
  static const Schema<Upstream> kFile = combined(file_schema());
  switch (kind) {
    case ProviderKind::smtp: return kSmtp;
    case ProviderKind::mailgun: return kMailgun;
    case ProviderKind::sendgrid: return kSendgrid;
    case ProviderKind::postmark: return kPostmark;
    case ProviderKind::ses: return kSes;
    case ProviderKind::file: return kFile;
  }
  return kFile;
}

const Schema<UpstreamOptions>& options_schema() {
  using O = UpstreamOptions;
  static const Schema<O> kSchema{
      maybe_count<O, uint32_t>("rate_limit", &O::rate_limit, 1, 10'000'000),
      duration("rate_limit_window", &O::rate_limit_window, seconds{3600}, seconds{1}, 30 * kOneDay),
      maybe_count<O, uint32_t>("burst_limit", &O::burst_limit, 1, 100'000),
      maybe_real("max_send_rate", &O::max_send_rate, 0.001, 100'000),
      flag("queue_on_limit", &O::queue_on_limit, true),
      flag("adaptive_rate_limiting", &O::adaptive_rate_limiting, false),
      maybe_count<O, uint32_t>("min_rate_limit", &O::min_rate_limit, 1, 10'000'000),
      maybe_count<O, uint32_t>("max_rate_limit", &O::max_rate_limit, 1, 10'000'000),
      real("rate_adjustment_factor", &O::rate_adjustment_factor, 0.1, 0.001, 1.0),
      duration("timeout", &O::timeout, seconds{30}, seconds{1}, hours{1}),
      count("retry_attempts", &O::retry_attempts, 3, 0, 100),
      duration("retry_delay", &O::retry_delay, seconds{5}, seconds{0}, kOneDay),
      maybe_count<O, uint32_t>("connection_pool_size", &O::connection_pool_size, 1, 1000),
  };
  return kSchema;
}

const Schema<Config>& tables_schema() {
  static const Schema<Config> kSchema = [] {
    Schema<CircuitBreakerPolicy> circuit_breaker{
        count("failure_threshold", &CircuitBreakerPolicy::failure_threshold, 5, 1, 1000),
        duration("recovery_timeout", &CircuitBreakerPolicy::recovery_timeout, seconds{300}, seconds{1}, kOneDay),
    };
    Schema<FailoverPolicy> failover{
        count("max_retries", &FailoverPolicy::max_retries, 3, 0, 100),
        duration("retry_delay", &FailoverPolicy::retry_delay, seconds{5}, seconds{0}, hours{1}),
        table("circuit_breaker", &FailoverPolicy::circuit_breaker, circuit_breaker),
    };
    using Sec = SecurityConfig;
    Schema<Sec> security{
        choice("tls_version", &Sec::tls_version, TlsVersion::tls1_2,
               {{"TLSv1.0", TlsVersion::tls1_0},
                {"TLSv1.1", TlsVersion::tls1_1},
                {"TLSv1.2", TlsVersion::tls1_2},
                {"TLSv1.3", TlsVersion::tls1_3}}),
        flag("verify_certificates", &Sec::verify_certificates, true),
        text("certificate_path", &Sec::certificate_path),
        text("private_key_path", &Sec::private_key_path),
        text("ca_file", &Sec::ca_file),
        texts("allowed_ips", &Sec::allowed_ips, {}, 1000, checked(check_cidr_entry)),
        texts("blocked_ips", &Sec::blocked_ips, {}, 1000, checked(check_cidr_entry)),
    };
    using Auth = AuthenticationConfig;
    Schema<Auth> authentication{
        text_choice("type", &Auth::type, "", {"oauth2"}),
        text("client_id", &Auth::client_id),
        text("client_secret", &Auth::client_secret, "", secret_value()),
        text("refresh_token", &Auth::refresh_token, "", secret_value()),
        text("token_url", &Auth::token_url, "", checked(check_http_url)),
        text("scope", &Auth::scope),
    };
    using Pool = ConnectionPoolConfig;
    Schema<Pool> pool{
        count("max_connections", &Pool::max_connections, 10, 1, 10'000),
        count("max_idle_connections", &Pool::max_idle_connections, 5, 0, 10'000),
        duration("connection_timeout", &Pool::connection_timeout, seconds{30}, seconds{1}, minutes{10}),
        duration("idle_timeout", &Pool::idle_timeout, seconds{300}, seconds{1}, kOneDay),
    };
    Schema<PerformanceConfig> performance{
        table("connection_pool", &PerformanceConfig::connection_pool, pool),
        choice("cpu_scheduling", &PerformanceConfig::cpu_scheduling, CpuScheduling::batch,
               {{"batch", CpuScheduling::batch}, {"normal", CpuScheduling::normal}}),
        size("max_payload_memory", &PerformanceConfig::max_payload_memory, 256ull << 20, 16ull << 20, 64ull << 30),
    };
    using Cache = CachingConfig;
    Schema<Cache> caching{
        flag("enable_response_caching", &Cache::enable_response_caching, false),
        duration("cache_ttl", &Cache::cache_ttl, seconds{3600}, seconds{1}, 30 * kOneDay),
        text("cache_key_prefix", &Cache::cache_key_prefix, "smarthost:"),
        choice("cache_provider", &Cache::cache_provider, CacheProvider::memory,
               {{"memory", CacheProvider::memory}, {"redis", CacheProvider::redis}}),
        text("redis_url", &Cache::redis_url, "", checked(check_redis_url).with_mask(mask_url_password)),
        duration("redis_timeout", &Cache::redis_timeout, milliseconds{500}, milliseconds{10}, seconds{30}),
        real("redis_fallback_fraction", &Cache::redis_fallback_fraction, 0.5, 0.01, 1.0),
    };
    using Batch = BatchProcessingConfig;
    Schema<Batch> batch{
        flag("enabled", &Batch::enabled, false),
        count("batch_size", &Batch::batch_size, 100, 1, 1000),
        duration("batch_timeout", &Batch::batch_timeout, milliseconds{1000}, milliseconds{1}, hours{1}),
        count("max_batches_per_second", &Batch::max_batches_per_second, 10, 1, 1000),
    };
    using Health = HealthCheckConfig;
    Schema<Health> health{
        flag("enabled", &Health::enabled, false),
        duration("interval", &Health::interval, seconds{300}, seconds{1}, kOneDay),
        duration("timeout", &Health::timeout, seconds{10}, seconds{1}, minutes{10}),
        count("failure_threshold", &Health::failure_threshold, 3, 1, 100),
    };
    Schema<MonitoringConfig> monitoring{
        table("health_check", &MonitoringConfig::health_check, health),
    };
    using Met = MetricsConfig;
    Schema<Met> metrics{
        flag("enabled", &Met::enabled, true),
        flag("track_delivery_time", &Met::track_delivery_time, true),
        flag("track_error_rates", &Met::track_error_rates, true),
        flag("track_throughput", &Met::track_throughput, true),
        duration("export_interval", &Met::export_interval, seconds{60}, seconds{1}, kOneDay),
        text("listen", &Met::listen, "127.0.0.1:9325", checked(check_listen)),
    };
    using Chan = NotificationChannel;
    Schema<Chan> channel{
        text_choice("type", &Chan::type, "", {"email", "webhook"}),
        texts("recipients", &Chan::recipients, {}, 100, checked(check_address)),
        text("url", &Chan::url, "", checked(check_http_url).as_secret()),
    };
    using Alert = AlertingConfig;
    Schema<Alert> alerting{
        real("error_rate_threshold", &Alert::error_rate_threshold, 0.05, 0.0, 1.0),
        count("response_time_threshold", &Alert::response_time_threshold, 5000, 1, 3'600'000),  // ms
        count("queue_size_threshold", &Alert::queue_size_threshold, 1000, 1, 100'000'000),
        duration("cooldown", &Alert::cooldown, seconds{900}, seconds{0}, 7 * kOneDay),
        table_list("notification_channels", &Alert::notification_channels, channel, 20),
    };
    using Test = TestModeConfig;
    Schema<Test> test_mode{
        flag("enabled", &Test::enabled, false),
        text("test_email", &Test::test_email, "", checked(check_address)),
        flag("skip_delivery", &Test::skip_delivery, false),
        flag("log_only", &Test::log_only, false),
    };
    using Val = ValidationConfig;
    Schema<Val> validation{
        flag("validate_credentials", &Val::validate_credentials, false),
        flag("test_connection", &Val::test_connection, false),
        flag("send_test_email", &Val::send_test_email, false),
        flag("verify_domain", &Val::verify_domain, false),
    };
    using Srv = ServerConfig;
    Schema<Srv> server{
        texts("listen", &Srv::listen, {"127.0.0.1:25"}, 32, checked(check_listen)),
        texts("listen_tls", &Srv::listen_tls, {}, 32, checked(check_listen)),
        text("hostname", &Srv::hostname, "", checked(check_host)),
        size("max_message_size", &Srv::max_message_size, 25ull << 20, 1ull << 10, 2ull << 30),
        count("max_recipients", &Srv::max_recipients, 100, 1, 100'000),
        count("max_connections", &Srv::max_connections, 1000, 1, 1'000'000),
        count("max_connections_per_ip", &Srv::max_connections_per_ip, 50, 1, 1'000'000),
        count("max_connections_per_user", &Srv::max_connections_per_user, 0, 0, 1'000'000),
        count("max_messages_per_minute_per_ip", &Srv::max_messages_per_minute_per_ip, 0, 0, 1'000'000),
        count("max_recipients_per_minute_per_ip", &Srv::max_recipients_per_minute_per_ip, 0, 0, 10'000'000),
        count("max_messages_per_minute_per_user", &Srv::max_messages_per_minute_per_user, 0, 0, 1'000'000),
        count("max_recipients_per_minute_per_user", &Srv::max_recipients_per_minute_per_user, 0, 0, 10'000'000),
        duration("command_timeout", &Srv::command_timeout, seconds{300}, seconds{1}, hours{1}),
        duration("data_timeout", &Srv::data_timeout, seconds{600}, seconds{1}, hours{2}),
        duration("drain_timeout", &Srv::drain_timeout, seconds{30}, seconds{1}, hours{1}),
        flag("require_tls", &Srv::require_tls, false),
        flag("require_auth", &Srv::require_auth, false),
        text("users_file", &Srv::users_file),
        flag("allow_plaintext_auth", &Srv::allow_plaintext_auth, false),
        texts("allowed_sender_domains", &Srv::allowed_sender_domains, {}, 10'000, checked(check_domain_pattern)),
        texts("allowed_recipient_domains", &Srv::allowed_recipient_domains, {}, 10'000,
              checked(check_domain_pattern)),
        choice("bare_lf", &Srv::bare_lf, BareLf::reject,
               {{"reject", BareLf::reject}, {"normalize", BareLf::normalize}}),
        choice("delivery_mode", &Srv::delivery_mode, DeliveryMode::queue,
               {{"queue", DeliveryMode::queue}, {"passthrough", DeliveryMode::passthrough}}),
    };
    using Q = QueueConfig;
    Schema<Q> queue{
        text("dir", &Q::dir, "/var/spool/smarthost"),
        duration("max_lifetime", &Q::max_lifetime, 5 * kOneDay, minutes{1}, 30 * kOneDay),
        duration_list("retry_schedule", &Q::retry_schedule,
                      {seconds{60}, seconds{300}, seconds{900}, seconds{1800}, seconds{3600}}, seconds{1}, kOneDay,
                      100),
        flag("bounce", &Q::bounce, true),
        count("max_parallel_deliveries", &Q::max_parallel_deliveries, 20, 1, 10'000),
    };
    using Log = LoggingConfig;
    Schema<Log> logging{
        text_choice("level", &Log::level, "info", {"trace", "debug", "info", "warn", "error", "critical", "off"}),
        choice("format", &Log::format, LogFormat::text, {{"text", LogFormat::text}, {"json", LogFormat::json}}),
        text("access_log", &Log::access_log),
    };
    return Schema<Config>{
        table("server", &Config::server, server),
        table("queue", &Config::queue, queue),
        table("failover_policy", &Config::failover_policy, failover),
        table("security", &Config::security, security),
        table("authentication", &Config::authentication, authentication),
        table("performance", &Config::performance, performance),
        table("caching", &Config::caching, caching),
        table("batch_processing", &Config::batch_processing, batch),
        table("monitoring", &Config::monitoring, monitoring),
        table("metrics", &Config::metrics, metrics),
        table("alerting", &Config::alerting, alerting),
        table("test_mode", &Config::test_mode, test_mode),
        table("validation", &Config::validation, validation),
        table("logging", &Config::logging, logging),
    };
  }();
  return kSchema;
}

}  // namespace smarthost::conf
