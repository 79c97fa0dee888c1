// OAuth2 access tokens for XOAUTH2: fetched from token_url with the refresh token, cached until shortly before
// they expire, refreshed on demand when the server refuses one. The fetch goes through upstream/http's HttpClient
// (libcurl multi on the Asio loop), so the event loop never blocks and no thread is started.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "conf/config.h"

namespace smarthost::upstream::smtp {

struct AccessToken {
  std::string token;  // empty on failure
  std::string error;  // why there is no token, e.g. "token endpoint answered 400: invalid_grant"
};

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // A usable access token: the cached one while fresh, else a new one. `force_refresh` ignores the cache (the
  // server refused the cached token). Never throws; concurrent callers share one fetch.
  virtual boost::asio::awaitable<AccessToken> access_token(bool force_refresh) = 0;
};

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

// Fleet mode: a store shared by the relay instances where access tokens are kept, so that one instance fetches a
// token and the others reuse it instead of each refreshing. Implemented over Redis in policy/redis/ (upstream/
// does not depend on policy/). Both calls never throw and complete within the store's timeout.
class SharedTokenStore {
 public:
  virtual ~SharedTokenStore() = default;
  // The value under `key`, or nullopt (none, or the store did not answer).
  virtual boost::asio::awaitable<std::optional<std::string>> load(std::string key) = 0;
  virtual boost::asio::awaitable<void> save(std::string key, std::string value, std::chrono::seconds ttl) = 0;
};

// OAuth2 sources made after this call keep their tokens in `store` too (nullptr: each source on its own, the
// default). Called once at start-up, before the transports are built.
void share_tokens_through(std::shared_ptr<SharedTokenStore> store);

// The [authentication] type = "oauth2" source: POST token_url with grant_type=refresh_token, client_id,
// client_secret, refresh_token (and scope when set), as application/x-www-form-urlencoded.
// Must be used from one strand (the transport's).
std::shared_ptr<TokenSource> make_oauth_token_source(boost::asio::any_io_executor executor,
                                                     const conf::AuthenticationConfig& auth,
                                                     const conf::SecurityConfig& security,
                                                     std::chrono::milliseconds timeout, SteadyClock clock = {});

}  // namespace smarthost::upstream::smtp
