// The OAuth2 refresh-token source (see the header): a cache on the transport's strand, and a libcurl easy
// request per fetch on a worker thread whose result is posted back to the strand.
#include "upstream/smtp/token_source.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <list>
#include <mutex>
#include <thread>

namespace smarthost::upstream::smtp {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr size_t kMaxResponseBytes = 64 * 1024;
constexpr std::chrono::seconds kDefaultLifetime{3600};
constexpr std::chrono::seconds kMaxRefreshMargin{300};

struct TokenRequest {
  std::string url;
  std::string form;  // the POST body
  bool verify = true;
  std::string ca_file;
  long min_tls = CURL_SSLVERSION_TLSv1_2;
  std::chrono::milliseconds timeout{30000};
};

struct FetchResult {
  std::string token;
  std::chrono::seconds lifetime{0};
  std::string error;
};

size_t collect(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  size_t n = size * count;
  if (body->size() + n > kMaxResponseBytes) return 0;  // makes curl fail: the answer is too big to be a token
  body->append(data, n);
  return n;
}

std::string form_escape(CURL* curl, const std::string& value) {
  char* escaped = curl_easy_escape(curl, value.c_str(), static_cast<int>(value.size()));
  std::string out = escaped ? escaped : "";
  curl_free(escaped);
  return out;
}

FetchResult parse_token_response(long status, const std::string& body) {
  FetchResult r;
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(body, ec);
  const boost::json::object* obj = !ec ? json.if_object() : nullptr;
  if (status != 200 || !obj) {
    r.error = "token endpoint answered " + std::to_string(status);
    if (obj) {
      if (auto* e = obj->if_contains("error"); e && e->is_string()) r.error += ": " + std::string(e->as_string());
      if (auto* d = obj->if_contains("error_description"); d && d->is_string()) {
        r.error += " (" + std::string(d->as_string()) + ")";
      }
    } else if (!ec) {
      r.error += ": not a JSON object";
    }
    return r;
  }
  const auto* token = obj->if_contains("access_token");
  if (!token || !token->is_string() || token->as_string().empty()) {
    r.error = "token endpoint answer has no access_token";
    return r;
  }
  r.token = std::string(token->as_string());
  r.lifetime = kDefaultLifetime;
  if (const auto* e = obj->if_contains("expires_in")) {
    if (e->is_int64()) r.lifetime = std::chrono::seconds(e->as_int64());
    else if (e->is_uint64()) r.lifetime = std::chrono::seconds(static_cast<int64_t>(e->as_uint64()));
    else if (e->is_double()) r.lifetime = std::chrono::seconds(static_cast<int64_t>(e->as_double()));
    else if (e->is_string()) r.lifetime = std::chrono::seconds(std::atoll(e->as_string().c_str()));
  }
  return r;
}

void ensure_curl() {
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

FetchResult fetch_blocking(const TokenRequest& request) {
  ensure_curl();
  CURL* curl = curl_easy_init();
  if (!curl) return {{}, {}, "cannot create a libcurl handle"};
  std::string body;
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.form.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.form.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_SSLVERSION, request.min_tls);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, request.verify ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, request.verify ? 2L : 0L);
  if (!request.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, request.ca_file.c_str());
  struct curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) return {{}, {}, "token endpoint unreachable: " + std::string(error[0] ? error : curl_easy_strerror(rc))};
  return parse_token_response(status, body);
}

class OAuthTokenSource final : public TokenSource, public std::enable_shared_from_this<OAuthTokenSource> {
 public:
  OAuthTokenSource(asio::any_io_executor executor, TokenRequest request, SteadyClock clock)
      : executor_(std::move(executor)), request_(std::move(request)), clock_(std::move(clock)) {}

  ~OAuthTokenSource() override {
    if (worker_.joinable()) worker_.join();
  }

  asio::awaitable<AccessToken> access_token(bool force_refresh) override {
    auto self = shared_from_this();
    if (!force_refresh && !token_.empty() && clock_() < refresh_at_) co_return AccessToken{token_, {}};
    if (fetching_) {
      // Someone is fetching already: wait for that fetch instead of starting another.
      auto timer = std::make_shared<asio::steady_timer>(executor_, request_.timeout + 5s);
      waiters_.push_back(timer);
      co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
      if (!token_.empty() && clock_() < refresh_at_) co_return AccessToken{token_, {}};
      co_return AccessToken{{}, last_error_.empty() ? "token fetch timed out" : last_error_};
    }
    fetching_ = true;
    FetchResult result = co_await async_fetch();
    fetching_ = false;
    if (result.token.empty()) {
      last_error_ = result.error;
      spdlog::warn("oauth2: cannot get an access token from {}: {}", request_.url, result.error);
    } else {
      token_ = result.token;
      last_error_.clear();
      auto margin = std::min<std::chrono::seconds>(kMaxRefreshMargin, result.lifetime / 10);
      refresh_at_ = clock_() + result.lifetime - margin;
      spdlog::debug("oauth2: new access token, valid for {}s", result.lifetime.count());
    }
    for (auto& w : waiters_) w->cancel();
    waiters_.clear();
    co_return AccessToken{result.token, result.error};
  }

 private:
  asio::awaitable<FetchResult> async_fetch() {
    asio::use_awaitable_t<> token;
    co_return co_await asio::async_initiate<asio::use_awaitable_t<>, void(FetchResult)>(
        [this](auto handler) {
          if (worker_.joinable()) worker_.join();  // the previous fetch has posted its result already
          auto work = asio::make_work_guard(executor_);
          worker_ = std::thread([request = request_, handler = std::move(handler), work = std::move(work)]() mutable {
            FetchResult result = fetch_blocking(request);
            auto executor = work.get_executor();
            asio::post(executor, [handler = std::move(handler), result = std::move(result)]() mutable {
              std::move(handler)(std::move(result));
            });
          });
        },
        token);
  }

  asio::any_io_executor executor_;
  TokenRequest request_;
  SteadyClock clock_;
  std::string token_;
  std::chrono::steady_clock::time_point refresh_at_{};
  std::string last_error_;
  bool fetching_ = false;
  std::list<std::shared_ptr<asio::steady_timer>> waiters_;
  std::thread worker_;
};

}  // namespace

std::shared_ptr<TokenSource> make_oauth_token_source(asio::any_io_executor executor,
                                                     const conf::AuthenticationConfig& auth,
                                                     const conf::SecurityConfig& security,
                                                     std::chrono::milliseconds timeout, SteadyClock clock) {
  TokenRequest request;
  request.url = auth.token_url;
  request.verify = security.verify_certificates;
  request.ca_file = security.ca_file;
  request.timeout = timeout;
  switch (security.tls_version) {
    case conf::TlsVersion::tls1_0: request.min_tls = CURL_SSLVERSION_TLSv1_0; break;
    case conf::TlsVersion::tls1_1: request.min_tls = CURL_SSLVERSION_TLSv1_1; break;
    case conf::TlsVersion::tls1_2: request.min_tls = CURL_SSLVERSION_TLSv1_2; break;
    case conf::TlsVersion::tls1_3: request.min_tls = CURL_SSLVERSION_TLSv1_3; break;
  }
  ensure_curl();
  CURL* curl = curl_easy_init();
  auto field = [&](const char* name, const std::string& value) {
    if (!request.form.empty()) request.form.push_back('&');
    request.form.append(name).push_back('=');
    request.form.append(curl ? form_escape(curl, value) : value);
  };
  field("grant_type", "refresh_token");
  field("client_id", auth.client_id);
  field("client_secret", auth.client_secret);
  field("refresh_token", auth.refresh_token);
  if (!auth.scope.empty()) field("scope", auth.scope);
  if (curl) curl_easy_cleanup(curl);
  if (!clock) clock = [] { return std::chrono::steady_clock::now(); };
  return std::make_shared<OAuthTokenSource>(std::move(executor), std::move(request), std::move(clock));
}

}  // namespace smarthost::upstream::smtp
