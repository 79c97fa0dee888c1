// The admin socket: an accept loop on a unix socket, and per connection one line read (capped, with a deadline),
// one scheduler call and one JSON line written (with a deadline). A list is streamed a batch at a time, each
// write with its own deadline, so a deep queue costs neither side its memory. Each connection runs on its own
// strand.
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
    case Verb::list: a.entries = scheduler.list().rest(error); break;
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

constexpr size_t kListBatch = 128;  // entries read from disk between two writes

// Writes `text` within the deadline; false when the client is gone or too slow.
asio::awaitable<bool> send(stream::socket& socket, asio::steady_timer& timer, const std::string& text,
                           std::chrono::milliseconds timeout) {
  arm(timer, socket, timeout);
  auto [error, written] = co_await asio::async_write(socket, asio::buffer(text), nothrow);
  timer.cancel();
  if (error == asio::error::broken_pipe || error == asio::error::connection_reset) {
    // `mailq | head`: the reader had enough.
    spdlog::info("queue admin: the client left before the whole answer was sent");
  } else if (error) {
    spdlog::warn("queue admin: answer not sent: {}", error.message());
  }
  co_return !error;
}

std::string answer_line(const admin::Answer& answer) {
  std::string text = admin::encode_answer(answer);
  if (text.size() + 1 > admin::kMaxAnswer) {
    admin::Answer too_big;
    too_big.status = admin::Status::failed;
    too_big.error = "the answer is larger than " + std::to_string(admin::kMaxAnswer) + " bytes";
    text = admin::encode_answer(too_big);
  }
  text.push_back('\n');
  return text;
}

// The list: entry lines a batch at a time, then the closing answer with their count. The closing answer
// reports a failed scan, or a relay stopping in the middle.
asio::awaitable<void> stream_list(detail::AdminSocketState& impl, stream::socket& socket, asio::steady_timer& timer) {
  EntryCursor cursor = impl.scheduler.list();
  std::vector<QueueEntry> batch;
  std::string text;
  admin::Answer closing;
  uint64_t sent = 0;
  for (bool more = true; more;) {
    batch.clear();
    text.clear();
    std::error_code error;
    more = cursor.next(batch, kListBatch, error);
    if (error) {
      closing.status = admin::status_of(error);
      closing.error = error.message();
      break;
    }
    for (const auto& entry : batch) {
      std::string line = admin::encode_entry_line(entry);
      if (line.size() + 1 > admin::kMaxAnswer) {  // beyond any client's cap; `show` still has it
        spdlog::warn("queue admin: {} left out of the list: its entry is larger than {} bytes", entry.id,
                     admin::kMaxAnswer);
        continue;
      }
      text += line;
      text += '\n';
      ++sent;
    }
    if (!text.empty() && !co_await send(socket, timer, text, impl.options.list_write_timeout)) co_return;
    if (more && impl.stopped) {
      closing.status = admin::Status::busy;
      closing.error = "the relay is shutting down";
      break;
    }
  }
  if (closing.status == admin::Status::ok) closing.count = sent;
  spdlog::info("queue admin: list -> {}: {} {}{}{}", admin::to_string(closing.status), sent,
               sent == 1 ? "message" : "messages", closing.error.empty() ? "" : ", ", closing.error);
  co_await send(socket, timer, answer_line(closing), impl.options.io_timeout);
}

asio::awaitable<void> serve_one(std::shared_ptr<detail::AdminSocketState> impl, stream::socket socket) {
  asio::steady_timer timer(socket.get_executor());
  std::string line;
  arm(timer, socket, impl->options.io_timeout);
  auto buffer = asio::dynamic_buffer(line, admin::kMaxRequest);
  auto [read_error, n] = co_await asio::async_read_until(socket, buffer, '\n', nothrow);
  timer.cancel();
  admin::Answer answer;
  bool answered = false;  // a streamed list sends its own closing line
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
    } else if (request->verb == admin::Verb::list) {
      co_await stream_list(*impl, socket, timer);
      answered = true;
    } else {
      answer = admin::answer(impl->scheduler, *request);
      spdlog::info("queue admin: {} -> {}{}{}", admin::format_request(*request), admin::to_string(answer.status),
                   answer.error.empty() ? "" : ": ", answer.error);
    }
  }
  if (!answered) co_await send(socket, timer, answer_line(answer), impl->options.io_timeout);
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
