// The OAuth2 refresh-token source (see the header): a cache on the transport's strand, and one POST per fetch
// through upstream/http's HttpClient (libcurl multi on the Asio loop).
#include "upstream/smtp/token_source.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <spdlog/spdlog.h>

#include <openssl/evp.h>

#include <cctype>
#include <list>
#include <mutex>

#include "upstream/http/http_client.h"

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
  std::chrono::milliseconds timeout{30000};
};

// Fleet mode's token store (share_tokens_through), picked up by each source when it is made.
std::mutex shared_store_mutex;
std::shared_ptr<SharedTokenStore> shared_store;

// The shared store's key for one OAuth client: a hash, so neither the client nor the refresh token shows.
std::string shared_key(const conf::AuthenticationConfig& auth) {
  const std::string identity = auth.token_url + "\n" + auth.client_id + "\n" + auth.refresh_token + "\n" + auth.scope;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(identity.data(), identity.size(), md, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key = "oauth:";
  for (unsigned i = 0; i < 16 && i < length; ++i) {
    key.push_back(kHex[md[i] >> 4]);
    key.push_back(kHex[md[i] & 15]);
  }
  return key;
}

int64_t wall_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct FetchResult {
  std::string token;
  std::chrono::seconds lifetime{0};
  std::string error;
};

// application/x-www-form-urlencoded: unreserved characters as they are, everything else %XX.
std::string form_escape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
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

class OAuthTokenSource final : public TokenSource, public std::enable_shared_from_this<OAuthTokenSource> {
 public:
  OAuthTokenSource(asio::any_io_executor executor, TokenRequest request, http::HttpClientSettings http_settings,
                   SteadyClock clock, std::shared_ptr<SharedTokenStore> shared, std::string shared_key)
      : executor_(executor),
        request_(std::move(request)),
        clock_(std::move(clock)),
        shared_(std::move(shared)),
        shared_key_(std::move(shared_key)),
        http_(std::make_unique<http::HttpClient>(std::move(executor), std::move(http_settings))) {}

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
    bool taken = false;
    if (shared_) {
      auto take = take_shared(force_refresh);
      taken = co_await std::move(take);
    }
    if (taken) {
      fetching_ = false;
      for (auto& w : waiters_) w->cancel();
      waiters_.clear();
      co_return AccessToken{token_, {}};
    }
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
      if (shared_ && result.lifetime > margin) {
        // "<expiry in Unix seconds> <token>", kept until shortly before it expires.
        std::string value = std::to_string(wall_seconds() + result.lifetime.count()) + " " + result.token;
        auto save = shared_->save(shared_key_, std::move(value), result.lifetime - margin);
        co_await std::move(save);
      }
    }
    for (auto& w : waiters_) w->cancel();
    waiters_.clear();
    co_return AccessToken{result.token, result.error};
  }

 private:
  // Fleet mode: takes a token another instance fetched, when it is still fresh (and, after a refusal, not the
  // refused one). True when it did.
  asio::awaitable<bool> take_shared(bool force_refresh) {
    auto load = shared_->load(shared_key_);
    std::optional<std::string> value = co_await std::move(load);
    if (!value) co_return false;
    const auto space = value->find(' ');
    if (space == std::string::npos || space + 1 >= value->size()) co_return false;
    const int64_t expires = std::atoll(value->substr(0, space).c_str());
    std::string token = value->substr(space + 1);
    const auto left = std::chrono::seconds(expires - wall_seconds());
    const auto margin = std::min<std::chrono::seconds>(kMaxRefreshMargin, left / 10);
    if (left <= margin || (force_refresh && token == token_)) co_return false;
    token_ = std::move(token);
    refresh_at_ = clock_() + left - margin;
    last_error_.clear();
    spdlog::debug("oauth2: access token shared by another relay instance, valid for {}s", left.count());
    co_return true;
  }

  asio::awaitable<FetchResult> async_fetch() {
    http::HttpRequest request;
    request.method = "POST";
    request.url = request_.url;
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
    request.body = request_.form;
    request.timeout = request_.timeout;
    request.max_response_bytes = kMaxResponseBytes;
    http::HttpResponse response = co_await http_->request(std::move(request));
    if (response.status == 0) {
      co_return FetchResult{{}, {}, "token endpoint unreachable: " + (response.error.empty() ? "no answer" : response.error)};
    }
    co_return parse_token_response(response.status, response.body);
  }

  asio::any_io_executor executor_;
  TokenRequest request_;
  SteadyClock clock_;
  std::string token_;
  std::chrono::steady_clock::time_point refresh_at_{};
  std::shared_ptr<SharedTokenStore> shared_;
  std::string shared_key_;
  std::string last_error_;
  bool fetching_ = false;
  std::list<std::shared_ptr<asio::steady_timer>> waiters_;
  std::unique_ptr<http::HttpClient> http_;
};

}  // namespace

std::shared_ptr<TokenSource> make_oauth_token_source(asio::any_io_executor executor,
                                                     const conf::AuthenticationConfig& auth,
                                                     const conf::SecurityConfig& security,
                                                     std::chrono::milliseconds timeout, SteadyClock clock) {
  TokenRequest request;
  request.url = auth.token_url;
  request.timeout = timeout;
  http::HttpClientSettings http_settings;
  http_settings.tls = http::HttpTlsSettings::from(security);
  auto field = [&](const char* name, const std::string& value) {
    if (!request.form.empty()) request.form.push_back('&');
    request.form.append(name).push_back('=');
    request.form.append(form_escape(value));
  };
  field("grant_type", "refresh_token");
  field("client_id", auth.client_id);
  field("client_secret", auth.client_secret);
  field("refresh_token", auth.refresh_token);
  if (!auth.scope.empty()) field("scope", auth.scope);
  if (!clock) clock = [] { return std::chrono::steady_clock::now(); };
  std::shared_ptr<SharedTokenStore> shared;
  {
    std::lock_guard lock(shared_store_mutex);
    shared = shared_store;
  }
  return std::make_shared<OAuthTokenSource>(std::move(executor), std::move(request), std::move(http_settings),
                                            std::move(clock), std::move(shared), shared_key(auth));
}

void share_tokens_through(std::shared_ptr<SharedTokenStore> store) {
  std::lock_guard lock(shared_store_mutex);
  shared_store = std::move(store);
}

}  // namespace smarthost::upstream::smtp
