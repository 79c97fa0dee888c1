// libcurl's multi-socket interface on the Asio event loop: curl tells us which sockets to watch and when its timer
// fires; Asio waits on those sockets (stream_descriptor::async_wait) and on one steady_timer, all on one strand.
// Each request is an easy handle on the shared multi handle, so connections are kept alive and reused (and
// multiplexed over HTTP/2 when the server offers it). Nothing here blocks the loop or starts a thread.
#include "upstream/http/http_client.h"

#include <curl/curl.h>

#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <ctime>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "upstream/http/gzip.h"

namespace smarthost::upstream::http {

namespace asio = boost::asio;
using Strand = asio::strand<asio::any_io_executor>;

// The awaiting coroutine's completion handler, type-erased and move-only. Completing posts the response through
// the strand to the handler's own executor, never inline.
class Handler {
 public:
  Handler() = default;
  template <typename H, typename = std::enable_if_t<!std::is_same_v<std::decay_t<H>, Handler>>>
  explicit Handler(H&& handler) : impl_(std::make_unique<Impl<std::decay_t<H>>>(std::forward<H>(handler))) {}
  explicit operator bool() const { return impl_ != nullptr; }
  void complete(const Strand& strand, HttpResponse response) {
    if (auto impl = std::move(impl_)) impl->complete(strand, std::move(response));
  }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void complete(const Strand& strand, HttpResponse response) = 0;
  };
  template <typename H>
  struct Impl : Base {
    explicit Impl(H h) : handler(std::move(h)) {}
    void complete(const Strand& strand, HttpResponse response) override {
      asio::post(strand, asio::append(std::move(handler), std::move(response)));
    }
    H handler;
  };
  std::unique_ptr<Base> impl_;
};

namespace {

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '\n'))
    text.remove_suffix(1);
  return text;
}

std::optional<long long> parse_integer(std::string_view text) {
  text = trim(text);
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || text.empty()) return std::nullopt;
  // A fractional part ("1.5") is accepted and dropped; anything else after the digits is not a number.
  if (end != text.data() + text.size() && *end != '.') return std::nullopt;
  return value;
}

void global_curl_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("curl_global_init failed");
  });
}

long curl_ssl_version(conf::TlsVersion version) {
  switch (version) {
    case conf::TlsVersion::tls1_0: return CURL_SSLVERSION_TLSv1_0;
    case conf::TlsVersion::tls1_1: return CURL_SSLVERSION_TLSv1_1;
    case conf::TlsVersion::tls1_2: return CURL_SSLVERSION_TLSv1_2;
    case conf::TlsVersion::tls1_3: return CURL_SSLVERSION_TLSv1_3;
  }
  return CURL_SSLVERSION_TLSv1_2;
}

}  // namespace

std::string_view HttpResponse::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return value;
  return {};
}

HttpTlsSettings HttpTlsSettings::from(const conf::SecurityConfig& security) {
  HttpTlsSettings settings;
  settings.verify_certificates = security.verify_certificates;
  settings.ca_file = security.ca_file;
  settings.min_version = security.tls_version;
  return settings;
}

bool is_header_safe(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

RateLimitInfo parse_rate_limit(const HeaderList& headers, std::chrono::system_clock::time_point now) {
  RateLimitInfo info;
  auto from_reset = [&](long long value) {
    // Epoch seconds when it looks like a date (SendGrid, GitHub style); otherwise seconds from now.
    if (value > 1'000'000'000LL) return std::chrono::system_clock::time_point(std::chrono::seconds(value));
    return now + std::chrono::seconds(std::max(0LL, value));
  };
  for (const auto& [name, value] : headers) {
    if (name == "x-ratelimit-limit") {
      info.limit = parse_integer(value);
    } else if (name == "x-ratelimit-remaining") {
      info.remaining = parse_integer(value);
    } else if (name == "x-ratelimit-reset") {
      if (auto reset = parse_integer(value)) info.reset = from_reset(*reset);
    } else if (name == "retry-after" && !info.retry_after) {
      if (auto seconds = parse_integer(value)) {
        info.retry_after = now + std::chrono::seconds(std::max(0LL, *seconds));
      } else {
        std::tm tm{};
        std::string text(trim(value));
        if (const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S", &tm); end != nullptr)
          info.retry_after = std::chrono::system_clock::from_time_t(timegm(&tm));
      }
    }
  }
  if (!info.retry_after && info.reset && info.remaining && *info.remaining <= 0) info.retry_after = info.reset;
  return info;
}

// One request in flight: its easy handle and what has arrived so far.
struct Transfer {
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  HttpRequest request;
  std::string upload;  // the body as sent (possibly gzipped); must outlive the transfer
  HttpResponse response;
  std::size_t header_bytes = 0;
  char error_buffer[CURL_ERROR_SIZE] = {};
  Handler handler;

  ~Transfer() {
    if (header_list) curl_slist_free_all(header_list);
    if (easy) curl_easy_cleanup(easy);
  }
};

// One socket curl asked us to watch. The descriptor does not own the fd: curl closes it, after telling us.
struct SocketWatch {
  explicit SocketWatch(asio::posix::stream_descriptor d) : descriptor(std::move(d)) {}
  ~SocketWatch() {
    boost::system::error_code ignored;
    if (descriptor.is_open()) descriptor.release();
    (void)ignored;
  }
  asio::posix::stream_descriptor descriptor;
  int wanted = 0;  // CURL_POLL_IN / OUT / INOUT
  bool reading = false;
  bool writing = false;
  bool removed = false;
};

struct HttpClient::Impl : std::enable_shared_from_this<Impl> {
  using Clock = asio::steady_timer::clock_type;

  Impl(asio::any_io_executor executor, HttpClientSettings s)
      : strand(asio::make_strand(executor)), timer(strand), settings(std::move(s)) {
    global_curl_init();
    multi = curl_multi_init();
    if (!multi) throw std::runtime_error("curl_multi_init failed");
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    if (settings.max_connections_per_host > 0)
      curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, settings.max_connections_per_host);
    if (settings.max_idle_connections > 0)
      curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, settings.max_idle_connections);
  }

  ~Impl() { shut_down(); }

  void shut_down() {
    if (!multi) return;
    for (auto& [easy, transfer] : transfers) {
      curl_multi_remove_handle(multi, easy);
      transfer->response.status = 0;
      transfer->response.error = "client shut down";
      complete(std::move(transfer->handler), std::move(transfer->response));
    }
    transfers.clear();
    curl_multi_cleanup(multi);  // closes cached connections (each announced through on_socket first)
    multi = nullptr;
    sockets.clear();
    timer.cancel();
  }

  void complete(Handler handler, HttpResponse response) {
    active.store(transfers.size(), std::memory_order_relaxed);
    handler.complete(strand, std::move(response));
  }

  void fail_now(Handler handler, std::string error) {
    HttpResponse response;
    response.error = std::move(error);
    complete(std::move(handler), std::move(response));
  }

  // Runs on the strand.
  void start(HttpRequest request, Handler handler) {
    if (!multi) return fail_now(std::move(handler), "client shut down");
    if (!is_header_safe(request.url) || !is_header_safe(request.method))
      return fail_now(std::move(handler), "refused: CR, LF or NUL in the request line");
    for (const auto& [name, value] : request.headers)
      if (!is_header_safe(name) || !is_header_safe(value) || name.find(':') != std::string::npos || name.empty())
        return fail_now(std::move(handler), "refused: CR, LF or NUL in header '" + lower(name.substr(0, 40)) + "'");

    auto transfer = std::make_unique<Transfer>();
    transfer->request = std::move(request);
    transfer->handler = std::move(handler);
    auto& req = transfer->request;
    if (req.gzip_body && !req.body.empty()) {
      transfer->upload = gzip_compress(req.body);
      if (transfer->upload.empty()) return fail_now(std::move(transfer->handler), "gzip compression failed");
      req.headers.emplace_back("Content-Encoding", "gzip");
    } else {
      transfer->upload = std::move(req.body);
    }
    req.body = std::string();  // freed now: with gzip only the compressed copy stays for the transfer

    CURL* easy = curl_easy_init();
    if (!easy) return fail_now(std::move(transfer->handler), "curl_easy_init failed");
    transfer->easy = easy;
    for (const auto& [name, value] : req.headers) {
      std::string line = name + ": " + value;
      if (value.empty()) line = name + ";";  // curl's way of sending an empty header
      transfer->header_list = curl_slist_append(transfer->header_list, line.c_str());
    }
    // curl would otherwise ask for 100-continue on large bodies and wait for it.
    transfer->header_list = curl_slist_append(transfer->header_list, "Expect:");

    curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer.get());
    curl_easy_setopt(easy, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->error_buffer);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer->header_list);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Impl::on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer.get());
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Impl::on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer.get());
    auto timeout_ms = static_cast<long>(std::max<std::chrono::milliseconds::rep>(1, req.timeout.count()));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    // Over TLS, ALPN tells at once whether a connection multiplexes (HTTP/2): wait for that rather than open a
    // second connection. Plain HTTP would only know after the first answer, so it does not wait.
    if (req.url.starts_with("https://")) curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_USERAGENT, settings.user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_SSLVERSION, curl_ssl_version(settings.tls.min_version));
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, settings.tls.verify_certificates ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, settings.tls.verify_certificates ? 2L : 0L);
    if (!settings.tls.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, settings.tls.ca_file.c_str());
    if (!req.basic_user.empty() || !req.basic_password.empty()) {
      curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(easy, CURLOPT_USERNAME, req.basic_user.c_str());
      curl_easy_setopt(easy, CURLOPT_PASSWORD, req.basic_password.c_str());
    }
    if (req.method == "GET") {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
      if (req.method != "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      bool sends_body = req.method != "HEAD" && (req.method != "DELETE" || !transfer->upload.empty());
      if (sends_body) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(transfer->upload.size()));
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, transfer->upload.data());
      }
      if (req.method == "HEAD") curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    }

    Transfer* raw = transfer.get();
    transfers.emplace(easy, std::move(transfer));
    active.store(transfers.size(), std::memory_order_relaxed);
    if (CURLMcode rc = curl_multi_add_handle(multi, easy); rc != CURLM_OK) {
      auto node = transfers.extract(easy);
      fail_now(std::move(raw->handler), std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc));
      return;
    }
  }

  static size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    size_t bytes = size * count;
    auto& body = transfer->response.body;
    if (body.size() + bytes > transfer->request.max_response_bytes) {
      body.append(data, transfer->request.max_response_bytes - body.size());
      transfer->response.truncated = true;
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    body.append(data, bytes);
    return bytes;
  }

  static size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    size_t bytes = size * count;
    transfer->header_bytes += bytes;
    if (transfer->header_bytes > kMaxHeaderBytes) {
      transfer->response.truncated = true;
      return 0;
    }
    std::string_view line(data, bytes);
    if (line.starts_with("HTTP/")) {
      // A new response begins (after a 100 Continue or an interim answer): only the final one's headers count.
      transfer->response.headers.clear();
      return bytes;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return bytes;
    auto name = trim(line.substr(0, colon));
    auto value = trim(line.substr(colon + 1));
    if (!name.empty()) transfer->response.headers.emplace_back(lower(name), std::string(value));
    return bytes;
  }

  static int on_socket(CURL*, curl_socket_t fd, int what, void* user, void*) {
    static_cast<Impl*>(user)->watch(fd, what);
    return 0;
  }

  static int on_timer(CURLM*, long timeout_ms, void* user) {
    static_cast<Impl*>(user)->arm_timer(timeout_ms);
    return 0;
  }

  void watch(curl_socket_t fd, int what) {
    auto found = sockets.find(fd);
    if (what == CURL_POLL_REMOVE) {
      if (found == sockets.end()) return;
      found->second->removed = true;
      found->second->wanted = 0;
      boost::system::error_code ignored;
      found->second->descriptor.cancel(ignored);
      found->second->descriptor.release();
      sockets.erase(found);
      return;
    }
    std::shared_ptr<SocketWatch> socket;
    if (found == sockets.end()) {
      asio::posix::stream_descriptor descriptor(strand);
      boost::system::error_code ec;
      descriptor.assign(fd, ec);
      if (ec) return;  // curl will time the transfer out
      socket = std::make_shared<SocketWatch>(std::move(descriptor));
      sockets.emplace(fd, socket);
    } else {
      socket = found->second;
    }
    socket->wanted = what;
    if (what & CURL_POLL_IN) arm(socket, fd, true);
    if (what & CURL_POLL_OUT) arm(socket, fd, false);
  }

  void arm(const std::shared_ptr<SocketWatch>& socket, curl_socket_t fd, bool read) {
    bool& pending = read ? socket->reading : socket->writing;
    if (pending) return;
    pending = true;
    auto wait = read ? asio::posix::descriptor_base::wait_read : asio::posix::descriptor_base::wait_write;
    socket->descriptor.async_wait(
        wait, asio::bind_executor(strand, [weak = weak_from_this(), socket, fd, read](boost::system::error_code ec) {
          (read ? socket->reading : socket->writing) = false;
          auto self = weak.lock();
          if (!self || socket->removed || ec == asio::error::operation_aborted) return;
          int flag = read ? CURL_POLL_IN : CURL_POLL_OUT;
          if (!(socket->wanted & flag)) return;
          int event = ec ? CURL_CSELECT_ERR : (read ? CURL_CSELECT_IN : CURL_CSELECT_OUT);
          self->socket_action(fd, event);
          if (!socket->removed && (socket->wanted & flag)) self->arm(socket, fd, read);
        }));
  }

  // curl's timer. It moves on every transfer's step, and each move of the event loop's earliest timer is a
  // timerfd_settime (8.5% of the relay's CPU through a fast provider, perf). So: "now" is a post, not a timer;
  // a later deadline keeps the armed timer, which re-arms itself when it fires early; "no timeout" leaves it
  // armed too, to fire once for nothing.
  void arm_timer(long timeout_ms) {
    if (timeout_ms < 0) {
      wanted = Clock::time_point::max();
      return;
    }
    if (timeout_ms == 0) {
      wanted = Clock::time_point::max();
      if (std::exchange(timeout_posted, true)) return;
      // Never from inside curl's callback: posted.
      asio::post(strand, [weak = weak_from_this()] {
        auto self = weak.lock();
        if (!self) return;
        self->timeout_posted = false;
        self->socket_action(CURL_SOCKET_TIMEOUT, 0);
      });
      return;
    }
    wanted = Clock::now() + std::chrono::milliseconds(timeout_ms);
    if (armed <= wanted) return;
    start_timer(wanted);
  }

  void start_timer(Clock::time_point when) {
    armed = when;
    timer.expires_at(when);  // a wait still pending ends with operation_aborted
    timer.async_wait(asio::bind_executor(strand, [weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      self->armed = Clock::time_point::max();
      if (self->wanted == Clock::time_point::max()) return;
      if (Clock::now() < self->wanted) return self->start_timer(self->wanted);
      self->wanted = Clock::time_point::max();
      self->socket_action(CURL_SOCKET_TIMEOUT, 0);
    }));
  }

  void socket_action(curl_socket_t fd, int event) {
    if (!multi) return;
    int running = 0;
    curl_multi_socket_action(multi, fd, event, &running);
    collect_finished();
  }

  void collect_finished() {
    int pending = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &pending)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      CURLcode result = message->data.result;
      auto node = transfers.extract(easy);
      curl_multi_remove_handle(multi, easy);
      if (node.empty()) continue;
      auto& transfer = node.mapped();
      finish(*transfer, result);
      complete(std::move(transfer->handler), std::move(transfer->response));
    }
  }

  static void finish(Transfer& transfer, CURLcode result) {
    auto& response = transfer.response;
    long status = 0;
    curl_easy_getinfo(transfer.easy, CURLINFO_RESPONSE_CODE, &status);
    long version = 0;
    curl_easy_getinfo(transfer.easy, CURLINFO_HTTP_VERSION, &version);
    switch (version) {
      case CURL_HTTP_VERSION_1_0: response.http_version = "1.0"; break;
      case CURL_HTTP_VERSION_1_1: response.http_version = "1.1"; break;
      case CURL_HTTP_VERSION_2_0: response.http_version = "2"; break;
      case CURL_HTTP_VERSION_3: response.http_version = "3"; break;
      default: break;
    }
    if (result == CURLE_OK || (result == CURLE_WRITE_ERROR && response.truncated && status > 0)) {
      response.status = static_cast<int>(status);
      if (response.truncated) response.error = "response larger than " +
                                               std::to_string(transfer.request.max_response_bytes) + " bytes";
    } else {
      response.status = 0;
      response.timed_out = result == CURLE_OPERATION_TIMEDOUT;
      response.error = transfer.error_buffer[0] ? transfer.error_buffer : curl_easy_strerror(result);
      if (response.timed_out && response.error.find("imed out") == std::string::npos)
        response.error = "timed out: " + response.error;
    }
    response.rate_limit = parse_rate_limit(response.headers, std::chrono::system_clock::now());
  }

  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;
  Clock::time_point wanted = Clock::time_point::max();  // curl's next timeout; max: none
  Clock::time_point armed = Clock::time_point::max();   // when `timer` fires; max: not waiting
  bool timeout_posted = false;                          // a socket_action(CURL_SOCKET_TIMEOUT) is posted
  HttpClientSettings settings;
  CURLM* multi = nullptr;
  std::unordered_map<curl_socket_t, std::shared_ptr<SocketWatch>> sockets;
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> transfers;
  std::atomic<std::size_t> active{0};
};

HttpClient::HttpClient(asio::any_io_executor executor, HttpClientSettings settings)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(settings))) {}

HttpClient::~HttpClient() { impl_->shut_down(); }

std::size_t HttpClient::active_transfers() const { return impl_->active.load(std::memory_order_relaxed); }

// Not a coroutine itself: it returns the awaitable that asio builds, so no temporaries live in a co_await here
// (GCC 12 destroys some of those twice).
asio::awaitable<HttpResponse> HttpClient::request(HttpRequest request) {
  auto initiate = [impl = impl_](auto handler, HttpRequest req) {
    asio::dispatch(impl->strand, [impl, h = Handler(std::move(handler)), req = std::move(req)]() mutable {
      impl->start(std::move(req), std::move(h));
    });
  };
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(HttpResponse)>(initiate, asio::use_awaitable,
                                                                                  std::move(request));
}

}  // namespace smarthost::upstream::http
