// The admin socket: an accept loop on a unix socket, and per connection one line read (capped, with a deadline),
// one scheduler call and one JSON line written (with a deadline). Each connection runs on its own strand.
#include "queue/admin_server.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <spdlog/spdlog.h>

#include <atomic>

namespace smarthost::queue {
namespace asio = boost::asio;
namespace fs = std::filesystem;
using stream = asio::local::stream_protocol;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

void log_exception(std::exception_ptr error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    spdlog::error("queue admin socket: {}", e.what());
  } catch (...) {
    spdlog::error("queue admin socket: unknown exception");
  }
}

}  // namespace

namespace admin {

std::string describe(std::error_code error, const Request& request) {
  if (error == std::errc::no_such_file_or_directory) return "no such message: " + request.id;
  if (error == std::errc::invalid_argument && request.verb == Verb::release) return request.id + " is not held";
  if (error == std::errc::invalid_argument) return "not a queue id: " + request.id;
  return error.message();
}

Answer answer(Scheduler& scheduler, const Request& request) {
  Answer a;
  std::error_code error;
  switch (request.verb) {
    case Verb::list: a.entries = scheduler.list(error); break;
    case Verb::show:
      a.details = scheduler.show(request.id, error);
      if (!a.details && !error) error = std::make_error_code(std::errc::no_such_file_or_directory);
      break;
    case Verb::retry: error = scheduler.retry(request.id); break;
    case Verb::retry_all: error = scheduler.retry_all(); break;
    case Verb::remove: error = scheduler.remove(request.id); break;
    case Verb::remove_failed: error = scheduler.remove_failed(); break;
    case Verb::flush: scheduler.flush(); break;
    case Verb::hold: error = scheduler.hold(request.id); break;
    case Verb::release: error = scheduler.release(request.id); break;
  }
  if (error) {
    a.status = status_of(error);
    a.error = describe(error, request);
    a.entries.clear();
    a.details.reset();
  }
  return a;
}

}  // namespace admin

namespace detail {

struct AdminSocketState {
  AdminSocketState(asio::any_io_executor ex, Scheduler& s, fs::path p, AdminServerOptions o)
      : executor(std::move(ex)),
        strand(asio::make_strand(executor)),
        scheduler(s),
        path(std::move(p)),
        options(o),
        acceptor(strand) {}

  asio::any_io_executor executor;
  asio::strand<asio::any_io_executor> strand;  // the acceptor's
  Scheduler& scheduler;
  fs::path path;
  AdminServerOptions options;
  stream::acceptor acceptor;
  std::atomic<size_t> open{0};
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
};

}  // namespace detail

namespace {

// Closes the socket when the deadline passes, so the pending read or write ends with an error.
void arm(asio::steady_timer& timer, stream::socket& socket, std::chrono::milliseconds timeout) {
  timer.expires_after(timeout);
  timer.async_wait([&socket](boost::system::error_code ec) {
    if (!ec) socket.close(ec);
  });
}

asio::awaitable<void> serve_one(std::shared_ptr<detail::AdminSocketState> impl, stream::socket socket) {
  asio::steady_timer timer(socket.get_executor());
  std::string line;
  arm(timer, socket, impl->options.io_timeout);
  auto buffer = asio::dynamic_buffer(line, admin::kMaxRequest);
  auto [read_error, n] = co_await asio::async_read_until(socket, buffer, '\n', nothrow);
  timer.cancel();
  admin::Answer answer;
  std::string text;
  if (read_error) {
    if (read_error == asio::error::not_found) {
      answer.status = admin::Status::invalid;
      answer.error = "request too long";
    } else {
      co_return;  // the client went away or was too slow: nobody to answer
    }
  } else {
    std::string problem;
    auto request = admin::parse_request(std::string_view(line).substr(0, n - 1), problem);
    if (!request) {
      answer.status = admin::Status::invalid;
      answer.error = problem;
    } else if (impl->stopped) {
      answer.status = admin::Status::busy;
      answer.error = "the relay is shutting down";
    } else {
      answer = admin::answer(impl->scheduler, *request);
      spdlog::info("queue admin: {} -> {}{}{}", admin::format_request(*request), admin::to_string(answer.status),
                   answer.error.empty() ? "" : ": ", answer.error);
    }
  }
  text = admin::encode_answer(answer);
  text.push_back('\n');
  if (text.size() > admin::kMaxAnswer) {
    admin::Answer too_big;
    too_big.status = admin::Status::failed;
    too_big.error = "the answer is larger than " + std::to_string(admin::kMaxAnswer) + " bytes";
    text = admin::encode_answer(too_big) + "\n";
  }
  arm(timer, socket, impl->options.io_timeout);
  auto out = asio::buffer(text);
  auto [write_error, written] = co_await asio::async_write(socket, out, nothrow);
  timer.cancel();
  if (write_error) spdlog::warn("queue admin: answer not sent: {}", write_error.message());
  boost::system::error_code ignored;
  socket.shutdown(stream::socket::shutdown_both, ignored);
}

asio::awaitable<void> accept_loop(std::shared_ptr<detail::AdminSocketState> impl) {
  for (;;) {
    asio::any_io_executor connection_strand = asio::make_strand(impl->executor);
    auto [ec, socket] = co_await impl->acceptor.async_accept(connection_strand, nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !impl->acceptor.is_open() || impl->stopped) co_return;
      spdlog::warn("queue admin: accept failed: {}", ec.message());
      asio::steady_timer pause(impl->strand, std::chrono::milliseconds(100));
      co_await pause.async_wait(nothrow);
      continue;
    }
    if (impl->open.load() >= impl->options.max_connections) {
      spdlog::warn("queue admin: more than {} clients at once; one refused", impl->options.max_connections);
      continue;  // the socket closes as it goes out of scope
    }
    ++impl->open;
    auto executor = socket.get_executor();
    asio::co_spawn(executor, serve_one(impl, std::move(socket)), [impl](std::exception_ptr e) {
      --impl->open;
      log_exception(e);
    });
  }
}

}  // namespace

AdminServer::AdminServer(asio::any_io_executor executor, Scheduler& scheduler, fs::path socket_path,
                         AdminServerOptions options)
    : impl_(std::make_shared<detail::AdminSocketState>(std::move(executor), scheduler, std::move(socket_path), options)) {}

AdminServer::~AdminServer() { stop(); }

const fs::path& AdminServer::path() const { return impl_->path; }

std::error_code AdminServer::start() {
  auto& impl = *impl_;
  fs::path staging = impl.path;
  staging += ".new";
  if (staging.native().size() >= sizeof(sockaddr_un{}.sun_path))
    return std::make_error_code(std::errc::filename_too_long);
  ::unlink(staging.c_str());
  boost::system::error_code ec;
  impl.acceptor.open(stream(), ec);
  if (!ec) impl.acceptor.bind(stream::endpoint(staging.native()), ec);
  if (ec) return ec;
  // Bound under a staging name, given its mode, then renamed: the socket never sits at its real name with the
  // umask's looser permissions.
  if (::chmod(staging.c_str(), impl.options.mode) != 0 || ::rename(staging.c_str(), impl.path.c_str()) != 0) {
    std::error_code error(errno, std::system_category());
    ::unlink(staging.c_str());
    impl.acceptor.close(ec);
    return error;
  }
  impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    ::unlink(impl.path.c_str());
    impl.acceptor.close(ec);
    return ec;
  }
  impl.started = true;
  asio::co_spawn(impl.strand, accept_loop(impl_), log_exception);
  return {};
}

void AdminServer::stop() {
  if (impl_->stopped.exchange(true) || !impl_->started) return;
  ::unlink(impl_->path.c_str());
  asio::post(impl_->strand, [impl = impl_] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
}

}  // namespace smarthost::queue
