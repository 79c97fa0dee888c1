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

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <type_traits>

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

  // One bound listener. Its acceptor lives on its own strand; the accept loop holds it too, so closing it (on that
  // strand) ends the loop safely even while a reload drops the Listener.
  struct Listener {
    std::string key;       // the normalized address with its kind, e.g. "smtp 127.0.0.1:25"; "" = from systemd
    std::string endpoint;  // as endpoints() shows it
    asio::strand<asio::io_context::executor_type> strand;
    std::shared_ptr<tcp::acceptor> tcp_acceptor;
    std::shared_ptr<unix_socket::acceptor> unix_acceptor;
    std::string unix_path;  // removed when the listener closes
    bool implicit_tls = false;
    // Accepted sockets inherit TCP_NODELAY from the listener (Linux), so it is set once there. A socket from
    // systemd without NoDelay=yes may hold connections queued before we set it: those get it one by one.
    bool nodelay_per_connection = false;
  };

  mutable std::mutex mutex;  // guards everything below
  std::vector<Listener> listeners;
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
    ctx.policy = o->policy ? o->policy.get() : &policy;
    ctx.options = std::move(o);
    ctx.sink = &sink;
    {
      std::lock_guard lock(mutex);
      ctx.tls = tls;
    }
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

  // Accepts until the acceptor is closed; each socket lands on a strand of its own and starts a session.
  template <class Acceptor>
  asio::awaitable<void> accept_loop(std::shared_ptr<Acceptor> acceptor, bool implicit_tls,
                                    bool nodelay_per_connection) {
    auto self = shared_from_this();
    for (;;) {
      // A named executor, not a temporary inside the co_await (GCC 12 destroys those twice).
      asio::any_io_executor strand = asio::make_strand(io);
      typename Acceptor::endpoint_type remote;  // filled by accept() itself: no getpeername() per connection
      auto [ec, socket] = co_await acceptor->async_accept(strand, remote, nothrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
        spdlog::warn("accept failed: {}", ec.message());
        // Out of descriptors or similar: back off a little instead of spinning.
        asio::steady_timer pause(io, std::chrono::milliseconds(100));
        co_await pause.async_wait(nothrow);
        continue;
      }
      ClientInfo client;
      if constexpr (std::is_same_v<Acceptor, tcp::acceptor>) {
        boost::system::error_code ignored;
        if (nodelay_per_connection) socket.set_option(tcp::no_delay(true), ignored);
        client.address = address_text(remote.address());
        client.port = remote.port();
        client.loopback = is_loopback(remote.address());
        client.tls = implicit_tls;
      } else {
        client.address = "unix";
        client.loopback = true;
      }
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

  static std::string listener_key(const ListenAddress& a, bool implicit_tls) {
    if (a.unix_socket) return "unix " + a.path;
    return std::string(implicit_tls ? "tls " : "smtp ") + a.host + ":" + std::to_string(a.port);
  }

  // Binds a TCP listener; throws std::runtime_error naming the address.
  Listener bind_tcp(const ListenAddress& a, bool implicit_tls) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(a.host, ec);
    if (ec) throw std::runtime_error("listen " + a.text + ": not an IP address");
    tcp::endpoint ep(address, a.port);
    Listener l{listener_key(a, implicit_tls), "", asio::make_strand(io), nullptr, nullptr, "", implicit_tls};
    l.tcp_acceptor = std::make_shared<tcp::acceptor>(l.strand);
    l.tcp_acceptor->open(ep.protocol(), ec);
    if (!ec) l.tcp_acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    // Linux hands TCP_NODELAY on to accepted sockets: one setsockopt() here instead of one per connection.
    if (!ec) l.tcp_acceptor->set_option(tcp::no_delay(true), ec);
    if (!ec && address.is_v6()) l.tcp_acceptor->set_option(asio::ip::v6_only(true), ec);
    if (!ec) l.tcp_acceptor->bind(ep, ec);
    if (!ec) l.tcp_acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("cannot listen on " + a.text + ": " + ec.message());
    auto bound = l.tcp_acceptor->local_endpoint();
    std::string shown = bound.address().is_v6() ? "[" + bound.address().to_string() + "]:" + std::to_string(bound.port())
                                                 : bound.address().to_string() + ":" + std::to_string(bound.port());
    l.endpoint = implicit_tls ? shown + " (tls)" : shown;
    return l;
  }

  // Binds a unix-domain listener (replacing a stale socket file); throws std::runtime_error naming the path.
  Listener bind_unix(const ListenAddress& a) {
    std::error_code fec;
    if (std::filesystem::is_socket(a.path, fec)) std::filesystem::remove(a.path, fec);
    Listener l{listener_key(a, false), a.text, asio::make_strand(io), nullptr, nullptr, a.path, false};
    l.unix_acceptor = std::make_shared<unix_socket::acceptor>(l.strand);
    boost::system::error_code ec;
    unix_socket::endpoint ep(a.path);
    l.unix_acceptor->open(ep.protocol(), ec);
    if (!ec) l.unix_acceptor->bind(ep, ec);
    if (!ec) l.unix_acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("cannot listen on " + a.text + ": " + ec.message());
    return l;
  }

  // Binds every listener of `o`: listen, then listen_tls. Throws std::runtime_error on the first failure.
  std::vector<Listener> bind_all(const ServerOptions& o, bool have_tls) {
    std::vector<Listener> out;
    for (const auto& text : o.listen) {
      auto a = parse_listen_address(text);
      if (!a) throw std::runtime_error("bad listen address '" + text + "'");
      out.push_back(a->unix_socket ? bind_unix(*a) : bind_tcp(*a, false));
    }
    for (const auto& text : o.listen_tls) {
      auto a = parse_listen_address(text);
      if (!a || a->unix_socket) throw std::runtime_error("bad listen_tls address '" + text + "'");
      if (!have_tls) throw std::runtime_error("listen_tls " + text + " needs security.certificate_path");
      out.push_back(bind_tcp(*a, true));
    }
    return out;
  }

  void spawn_accept(const Listener& l) {
    if (l.tcp_acceptor) asio::co_spawn(l.strand, accept_loop(l.tcp_acceptor, l.implicit_tls, l.nodelay_per_connection),
                                      log_escape("accept"));
    if (l.unix_acceptor) asio::co_spawn(l.strand, accept_loop(l.unix_acceptor, false, false), log_escape("accept"));
  }

  // Closes a listener on its strand: its accept loop ends; sessions it accepted go on.
  static void close_listener(const Listener& l) {
    asio::post(l.strand, [tcp_a = l.tcp_acceptor, unix_a = l.unix_acceptor, path = l.unix_path] {
      boost::system::error_code ec;
      if (tcp_a) tcp_a->close(ec);
      if (unix_a) {
        unix_a->close(ec);
        std::error_code fec;
        if (!path.empty()) std::filesystem::remove(path, fec);
      }
    });
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
      Listener l{"", "", asio::make_strand(io), nullptr, nullptr, "", false};
      if (ss.ss_family == AF_UNIX) {
        l.unix_acceptor = std::make_shared<unix_socket::acceptor>(l.strand, unix_socket(), fd);
        l.endpoint = "unix (systemd fd " + std::to_string(fd) + ")";
        listeners.push_back(std::move(l));
        continue;
      }
      auto protocol = ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
      l.tcp_acceptor = std::make_shared<tcp::acceptor>(l.strand, protocol, fd);
      tcp::no_delay nodelay;
      boost::system::error_code ec;
      l.tcp_acceptor->get_option(nodelay, ec);
      if (ec || !nodelay.value()) {
        l.tcp_acceptor->set_option(tcp::no_delay(true), ec);
        l.nodelay_per_connection = true;
      }
      auto bound = l.tcp_acceptor->local_endpoint();
      l.implicit_tls = name == "smtps" || name == "submissions" || name.find("tls") != std::string::npos ||
                       bound.port() == 465;
      l.endpoint = bound.address().to_string() + ":" + std::to_string(bound.port()) +
                   (l.implicit_tls ? " (tls, systemd)" : " (systemd)");
      listeners.push_back(std::move(l));
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
  std::lock_guard lock(impl_->mutex);
  boost::system::error_code ec;
  for (auto& l : impl_->listeners) {
    if (l.tcp_acceptor) l.tcp_acceptor->close(ec);
    if (l.unix_acceptor) l.unix_acceptor->close(ec);
  }
}

void Server::start() {
  auto& impl = *impl_;
  const auto& o = *impl.options;
  std::lock_guard lock(impl.mutex);
  bool adopted = o.take_systemd_sockets && impl.adopt_systemd_sockets();
  if (!adopted) impl.listeners = impl.bind_all(o, impl.tls != nullptr);
  for (const auto& l : impl.listeners) impl.spawn_accept(l);
}

void Server::stop(std::chrono::seconds drain) {
  auto impl = impl_;
  asio::post(impl->io, [impl, drain] {
    {
      std::lock_guard lock(impl->mutex);
      for (const auto& l : impl->listeners) Impl::close_listener(l);
    }
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
        c->cancel();
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

bool Server::reconfigure(ServerOptions options, std::shared_ptr<asio::ssl::context> tls, std::string& error) {
  auto& impl = *impl_;
  std::vector<Impl::Listener> added;
  std::vector<Impl::Listener> removed;
  {
    std::lock_guard lock(impl.mutex);
    if (impl.stopping) {
      error = "the server is shutting down";
      return false;
    }
    bool from_systemd = std::any_of(impl.listeners.begin(), impl.listeners.end(),
                                    [](const Impl::Listener& l) { return l.key.empty(); });
    if (from_systemd) {
      spdlog::info("listeners come from systemd socket activation; listen changes apply after a restart");
    } else {
      // The wanted listeners by key; those already bound stay, the rest are bound now.
      std::vector<std::pair<std::string, std::pair<ListenAddress, bool>>> wanted;
      for (const auto& text : options.listen) {
        auto a = parse_listen_address(text);
        if (!a) {
          error = "bad listen address '" + text + "'";
          return false;
        }
        wanted.push_back({Impl::listener_key(*a, false), {*a, false}});
      }
      for (const auto& text : options.listen_tls) {
        auto a = parse_listen_address(text);
        if (!a || a->unix_socket) {
          error = "bad listen_tls address '" + text + "'";
          return false;
        }
        if (!tls) {
          error = "listen_tls " + text + " needs security.certificate_path";
          return false;
        }
        wanted.push_back({Impl::listener_key(*a, true), {*a, true}});
      }
      auto is_wanted = [&](const std::string& key) {
        return std::any_of(wanted.begin(), wanted.end(), [&](const auto& w) { return w.first == key; });
      };

      // The same address may move between plain and TLS: free it before binding it again.
      auto address_of = [](const std::string& key) { return key.substr(key.find(' ') + 1); };
      std::vector<Impl::Listener> kept;
      for (auto& l : impl.listeners) {
        if (is_wanted(l.key)) {
          kept.push_back(std::move(l));
        } else {
          removed.push_back(std::move(l));
        }
      }
      auto is_bound = [&](const std::string& key) {
        return std::any_of(kept.begin(), kept.end(), [&](const Impl::Listener& l) { return l.key == key; });
      };
      try {
        for (const auto& [key, spec] : wanted) {
          if (is_bound(key) || std::any_of(added.begin(), added.end(), [&](const auto& l) { return l.key == key; }))
            continue;
          for (auto& r : removed) {
            if (address_of(r.key) == address_of(key) && r.tcp_acceptor) {
              boost::system::error_code ec;
              r.tcp_acceptor->close(ec);
            }
          }
          added.push_back(spec.first.unix_socket ? impl.bind_unix(spec.first) : impl.bind_tcp(spec.first, spec.second));
        }
      } catch (const std::exception& e) {
        error = e.what();
        boost::system::error_code ec;
        for (auto& l : added) {
          if (l.tcp_acceptor) l.tcp_acceptor->close(ec);
          if (l.unix_acceptor) l.unix_acceptor->close(ec);
        }
        // Put every old listener back; one closed above for an address move is reported and stays closed.
        for (auto& r : removed) kept.push_back(std::move(r));
        impl.listeners = std::move(kept);
        return false;
      }
      impl.listeners = std::move(kept);
      for (const auto& l : added) impl.listeners.push_back(l);
    }
    impl.options = std::make_shared<const ServerOptions>(std::move(options));
    impl.tls = std::move(tls);
  }
  for (const auto& l : removed) {
    spdlog::info("listener {} closed by the reload; its open sessions finish on their own", l.endpoint);
    Impl::close_listener(l);
  }
  for (const auto& l : added) {
    spdlog::info("listener {} opened by the reload", l.endpoint);
    impl.spawn_accept(l);
  }
  return true;
}

std::vector<std::string> Server::endpoints() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<std::string> out;
  for (const auto& l : impl_->listeners) out.push_back(l.endpoint);
  return out;
}

size_t Server::connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats.connections_current;
}

ServerStats Server::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace smarthost::smtpd
