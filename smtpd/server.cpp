// Listeners and accept loops: parses listen addresses, adopts systemd sockets, applies max_connections and
// max_connections_per_ip (421 4.7.0), and spawns each connection on its own strand.
#include "smtpd/server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include "smtpd/connection.h"
#include "smtpd/listen_address.h"

namespace smarthost::smtpd {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

bool is_loopback(const asio::ip::address& a) {
  if (a.is_loopback()) return true;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
  return false;
}

std::string address_text(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

// Logs an exception that escaped a coroutine instead of losing it.
auto log_escape(std::string what) {
  return [what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("{}: unexpected exception: {}", what, ex.what());
    }
  };
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_, ServerOptions o, SessionPolicy& p, MessageSink& s,
       std::shared_ptr<asio::ssl::context> t)
      : io(io_), options(std::make_shared<const ServerOptions>(std::move(o))), policy(p), sink(s), tls(std::move(t)) {}

  asio::io_context& io;
  std::shared_ptr<const ServerOptions> options;
  SessionPolicy& policy;
  MessageSink& sink;
  std::shared_ptr<asio::ssl::context> tls;

  std::vector<std::unique_ptr<tcp::acceptor>> tcp_acceptors;
  std::vector<bool> tcp_is_tls;
  std::vector<std::unique_ptr<unix_socket::acceptor>> unix_acceptors;
  std::vector<std::string> endpoints;

  mutable std::mutex mutex;  // guards everything below
  std::map<std::string, uint32_t> per_ip;
  std::set<std::shared_ptr<ConnectionControl>> live;
  ServerStats stats;
  uint64_t next_session_id = 1;
  bool stopping = false;

  std::shared_ptr<const ServerOptions> current_options() const {
    std::lock_guard lock(mutex);
    return options;
  }

  // Registers a new connection; false (and counted as refused) when over a limit.
  bool admit(const std::string& ip, const ServerOptions& o, std::shared_ptr<ConnectionControl> control,
             uint64_t& session_id) {
    std::lock_guard lock(mutex);
    ++stats.connections_total;
    if (stats.connections_current >= o.max_connections || (ip != "unix" && per_ip[ip] >= o.max_connections_per_ip)) {
      ++stats.connections_refused;
      if (per_ip[ip] == 0) per_ip.erase(ip);
      return false;
    }
    ++stats.connections_current;
    ++per_ip[ip];
    live.insert(std::move(control));
    session_id = next_session_id++;
    return true;
  }

  void release(const std::string& ip, const std::shared_ptr<ConnectionControl>& control) {
    std::lock_guard lock(mutex);
    --stats.connections_current;
    if (--per_ip[ip] == 0) per_ip.erase(ip);
    live.erase(control);
  }

  ConnectionContext make_context(ClientInfo client, std::shared_ptr<ConnectionControl> control,
                                 std::shared_ptr<const ServerOptions> o, uint64_t sid) {
    ConnectionContext ctx;
    ctx.options = std::move(o);
    ctx.policy = &policy;
    ctx.sink = &sink;
    ctx.tls = tls;
    ctx.client = std::move(client);
    ctx.client.session_id = sid;
    ctx.session_id = sid;
    ctx.control = std::move(control);
    std::weak_ptr<Impl> weak = weak_from_this();
    ctx.on_message = [weak](bool accepted) {
      if (auto self = weak.lock()) {
        std::lock_guard lock(self->mutex);
        ++(accepted ? self->stats.messages_accepted : self->stats.messages_rejected);
      }
    };
    ctx.on_tls = [weak](bool ok) {
      if (auto self = weak.lock()) {
        std::lock_guard lock(self->mutex);
        ++(ok ? self->stats.tls_handshakes : self->stats.tls_failures);
      }
    };
    return ctx;
  }

  // Says 421 and closes, for a client over a connection limit.
  template <class Socket>
  static asio::awaitable<void> refuse(Socket socket, std::string hostname) {
    asio::steady_timer timer(socket.get_executor());
    timer.expires_after(std::chrono::seconds(5));
    timer.async_wait([&socket](boost::system::error_code ec) {
      if (!ec) socket.close(ec);
    });
    std::string reply = "421 4.7.0 " + hostname + " Error: too many connections\r\n";
    co_await asio::async_write(socket, asio::buffer(reply), nothrow);
    timer.cancel();
    boost::system::error_code ignored;
    socket.shutdown(Socket::shutdown_both, ignored);
  }

  static ClientInfo client_of(tcp::socket& socket, bool implicit_tls, boost::system::error_code& ec) {
    ClientInfo client;
    auto remote = socket.remote_endpoint(ec);
    if (ec) return client;
    client.address = address_text(remote.address());
    client.port = remote.port();
    client.loopback = is_loopback(remote.address());
    client.tls = implicit_tls;
    return client;
  }

  static ClientInfo client_of(unix_socket::socket&, bool, boost::system::error_code&) {
    ClientInfo client;
    client.address = "unix";
    client.loopback = true;
    return client;
  }

  // Accepts connections until the acceptor closes; each one gets its own strand.
  template <class Acceptor>
  asio::awaitable<void> accept_loop(Acceptor& acceptor, bool implicit_tls) {
    auto self = shared_from_this();
    for (;;) {
      // A named executor, not a temporary inside the co_await (GCC 12 destroys those twice).
      asio::any_io_executor strand = asio::make_strand(io);
      auto [ec, socket] = co_await acceptor.async_accept(strand, nothrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        spdlog::warn("accept failed: {}", ec.message());
        // Out of descriptors or similar: back off a little instead of spinning.
        asio::steady_timer pause(io, std::chrono::milliseconds(100));
        co_await pause.async_wait(nothrow);
        continue;
      }
      boost::system::error_code rec;
      ClientInfo client = client_of(socket, implicit_tls, rec);
      if (rec) continue;
      start_connection(std::move(socket), std::move(client), implicit_tls);
    }
  }

  template <class Socket>
  void start_connection(Socket socket, ClientInfo client, bool implicit_tls) {
    auto o = current_options();
    auto control = std::make_shared<ConnectionControl>();
    uint64_t sid = 0;
    auto ex = socket.get_executor();
    if (!admit(client.address, *o, control, sid)) {
      spdlog::warn("client={} refused: too many connections", client.address);
      asio::co_spawn(ex, refuse(std::move(socket), o->session.hostname), log_escape("refuse"));
      return;
    }
    std::string ip = client.address;
    auto ctx = make_context(std::move(client), control, o, sid);
    auto done = [weak = weak_from_this(), ip, control, sid](std::exception_ptr e) {
      log_escape("sid=" + std::to_string(sid))(e);
      if (auto self = weak.lock()) self->release(ip, control);
    };
    if constexpr (std::is_same_v<Socket, tcp::socket>) {
      asio::co_spawn(ex, serve_connection(std::move(socket), std::move(ctx), implicit_tls), std::move(done));
    } else {
      asio::co_spawn(ex, serve_connection(std::move(socket), std::move(ctx)), std::move(done));
    }
  }

  void listen_tcp(const ListenAddress& a, bool implicit_tls) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(a.host, ec);
    if (ec) throw std::runtime_error("listen " + a.text + ": not an IP address");
    tcp::endpoint ep(address, a.port);
    auto acceptor = std::make_unique<tcp::acceptor>(io);
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && address.is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("cannot listen on " + a.text + ": " + ec.message());
    auto bound = acceptor->local_endpoint();
    std::string shown = bound.address().is_v6() ? "[" + bound.address().to_string() + "]:" + std::to_string(bound.port())
                                                 : bound.address().to_string() + ":" + std::to_string(bound.port());
    endpoints.push_back(implicit_tls ? shown + " (tls)" : shown);
    tcp_acceptors.push_back(std::move(acceptor));
    tcp_is_tls.push_back(implicit_tls);
  }

  void listen_unix(const ListenAddress& a) {
    std::error_code fec;
    if (std::filesystem::is_socket(a.path, fec)) std::filesystem::remove(a.path, fec);
    auto acceptor = std::make_unique<unix_socket::acceptor>(io);
    boost::system::error_code ec;
    unix_socket::endpoint ep(a.path);
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("cannot listen on " + a.text + ": " + ec.message());
    endpoints.push_back(a.text);
    unix_acceptors.push_back(std::move(acceptor));
  }

  // systemd socket activation: LISTEN_PID/LISTEN_FDS (and LISTEN_FDNAMES), descriptors from 3 on.
  bool adopt_systemd_sockets() {
    const char* pid = std::getenv("LISTEN_PID");
    const char* fds = std::getenv("LISTEN_FDS");
    if (!pid || !fds || std::atol(pid) != ::getpid()) return false;
    int n = std::atoi(fds);
    std::vector<std::string> names;
    if (const char* nm = std::getenv("LISTEN_FDNAMES")) {
      std::string all = nm;
      size_t start = 0;
      while (start <= all.size()) {
        size_t colon = all.find(':', start);
        names.push_back(all.substr(start, colon - start));
        if (colon == std::string::npos) break;
        start = colon + 1;
      }
    }
    for (int i = 0; i < n; ++i) {
      int fd = 3 + i;
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;
      std::string name = i < static_cast<int>(names.size()) ? names[i] : "";
      if (ss.ss_family == AF_UNIX) {
        auto acceptor = std::make_unique<unix_socket::acceptor>(io, unix_socket(), fd);
        endpoints.push_back("unix (systemd fd " + std::to_string(fd) + ")");
        unix_acceptors.push_back(std::move(acceptor));
        continue;
      }
      auto protocol = ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
      auto acceptor = std::make_unique<tcp::acceptor>(io, protocol, fd);
      auto bound = acceptor->local_endpoint();
      bool implicit = name == "smtps" || name == "submissions" || name.find("tls") != std::string::npos ||
                      bound.port() == 465;
      endpoints.push_back(bound.address().to_string() + ":" + std::to_string(bound.port()) +
                          (implicit ? " (tls, systemd)" : " (systemd)"));
      tcp_acceptors.push_back(std::move(acceptor));
      tcp_is_tls.push_back(implicit);
    }
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    return n > 0;
  }
};

Server::Server(asio::io_context& io, ServerOptions options, SessionPolicy& policy, MessageSink& sink,
               std::shared_ptr<asio::ssl::context> tls)
    : impl_(std::make_shared<Impl>(io, std::move(options), policy, sink, std::move(tls))) {}

Server::~Server() {
  boost::system::error_code ec;
  for (auto& a : impl_->tcp_acceptors) a->close(ec);
  for (auto& a : impl_->unix_acceptors) a->close(ec);
}

void Server::start() {
  auto& impl = *impl_;
  const auto& o = *impl.options;
  bool adopted = o.take_systemd_sockets && impl.adopt_systemd_sockets();
  if (!adopted) {
    for (const auto& text : o.listen) {
      auto a = parse_listen_address(text);
      if (!a) throw std::runtime_error("bad listen address '" + text + "'");
      if (a->unix_socket) {
        impl.listen_unix(*a);
      } else {
        impl.listen_tcp(*a, false);
      }
    }
    for (const auto& text : o.listen_tls) {
      auto a = parse_listen_address(text);
      if (!a || a->unix_socket) throw std::runtime_error("bad listen_tls address '" + text + "'");
      if (!impl.tls) throw std::runtime_error("listen_tls " + text + " needs security.certificate_path");
      impl.listen_tcp(*a, true);
    }
  }
  for (size_t i = 0; i < impl.tcp_acceptors.size(); ++i) {
    asio::co_spawn(impl.io, impl.accept_loop(*impl.tcp_acceptors[i], impl.tcp_is_tls[i]), log_escape("accept"));
  }
  for (auto& a : impl.unix_acceptors) asio::co_spawn(impl.io, impl.accept_loop(*a, false), log_escape("accept"));
}

void Server::stop(std::chrono::seconds drain) {
  auto impl = impl_;
  asio::post(impl->io, [impl, drain] {
    boost::system::error_code ec;
    for (auto& a : impl->tcp_acceptors) a->close(ec);
    for (auto& a : impl->unix_acceptors) a->close(ec);
    auto tell_all = [impl](bool expired) {
      std::vector<std::shared_ptr<ConnectionControl>> live;
      {
        std::lock_guard lock(impl->mutex);
        impl->stopping = true;
        live.assign(impl->live.begin(), impl->live.end());
      }
      for (auto& c : live) {
        c->shutting_down = true;
        if (expired) c->drain_expired = true;
        if (c->cancel_io) c->cancel_io();
      }
    };
    // Stage one now: idle sessions get 421 4.3.2, bodies in flight keep streaming. Stage two after `drain`.
    tell_all(false);
    auto timer = std::make_shared<asio::steady_timer>(impl->io, drain);
    timer->async_wait([timer, tell_all](boost::system::error_code) { tell_all(true); });
  });
}

void Server::update(ServerOptions options) {
  std::lock_guard lock(impl_->mutex);
  impl_->options = std::make_shared<const ServerOptions>(std::move(options));
}

std::vector<std::string> Server::endpoints() const { return impl_->endpoints; }

size_t Server::connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats.connections_current;
}

ServerStats Server::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace smarthost::smtpd
