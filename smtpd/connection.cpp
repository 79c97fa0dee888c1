// The connection coroutine: the only code in smtpd/ that reads and writes sockets.
// Replies to pipelined commands are batched and flushed before every read (RFC 2920); buffered plaintext is
// thrown away at STARTTLS; a watchdog timer enforces command_timeout and data_timeout on every wait.
#include "smtpd/connection.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstring>
#include <optional>

#include "smtpd/data_reader.h"
#include "smtpd/message_sink.h"

namespace smarthost::smtpd {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

constexpr size_t kCommandRead = 4096;       // read size while in command mode
constexpr size_t kDataRead = 64 * 1024;     // largest read while receiving a message body
constexpr size_t kFirstDataRead = 16 * 1024;  // first read of a body: most messages fit, larger ones grow the reads
constexpr size_t kMaxLine = 16 * 1024;      // longest line buffered (AUTH responses may exceed 512)
constexpr size_t kShrinkAbove = 16 * 1024;  // give memory back after a message: idle sessions stay small
constexpr auto kWriteTimeout = std::chrono::seconds(60);
constexpr auto kGraceAfterTimeout = std::chrono::seconds(10);

enum class LoopEnd { closed, start_tls };

// State of one connection, shared by the protocol loop and its watchdog.
struct Conn {
  Conn(ConnectionContext c, asio::any_io_executor ex)
      : ctx(std::move(c)), session(ctx.options->session, *ctx.policy, ctx.client), timer(ex) {}

  ConnectionContext ctx;
  Session session;
  std::string in;  // received, not yet consumed: in[pos..]
  size_t pos = 0;
  std::string out;  // replies not yet written
  asio::steady_timer timer;
  Clock::time_point deadline = Clock::time_point::max();
  bool timed_out = false;
  bool finished = false;
  std::function<void()> cancel_io;
  std::function<void()> close_io;
  // A BDAT transaction spans several chunks.
  std::unique_ptr<queue::SpoolWriter> bdat_writer;
  std::optional<DataReader> bdat_reader;
  bool bdat_spool_failed = false;

  std::string_view pending() const { return std::string_view(in).substr(pos); }
  // The reads of one body start at kFirstDataRead and double with each further read, up to kDataRead.
  size_t body_read = kFirstDataRead;
  size_t next_body_read() {
    const size_t size = body_read;
    body_read = std::min(body_read * 2, kDataRead);
    return size;
  }
  void compact() {
    if (pos == 0) return;
    in.erase(0, pos);
    pos = 0;
  }
  void shrink() {
    compact();
    if (in.capacity() > kShrinkAbove && in.size() < kCommandRead) in.shrink_to_fit();
  }
  std::string tag() const { return "sid=" + std::to_string(ctx.session_id); }
};

// Wakes at the connection's deadline: first cancels the pending I/O (the loop then answers 421 4.4.2), and if the
// connection is still stuck after a grace period, closes it.
asio::awaitable<void> watchdog(std::shared_ptr<Conn> c) {
  while (!c->finished) {
    c->timer.expires_at(c->deadline);
    co_await c->timer.async_wait(nothrow);
    if (c->finished) break;
    if (Clock::now() < c->deadline) continue;  // the deadline moved on; wait again
    if (!c->timed_out) {
      c->timed_out = true;
      c->deadline = Clock::now() + kGraceAfterTimeout;
      if (c->cancel_io) c->cancel_io();
    } else {
      if (c->close_io) c->close_io();
      break;
    }
  }
}

template <class Stream>
asio::awaitable<bool> flush(Stream& s, Conn& c) {
  if (c.out.empty()) co_return true;
  c.deadline = Clock::now() + kWriteTimeout;
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(c.out), nothrow);
  c.out.clear();
  co_return !ec;
}

// Reads more input into c.in. False on EOF, error, timeout or shutdown. A transaction under way (`in_body`, or
// MAIL given and not yet ended) keeps going through the first stage of a shutdown, until the drain time is over.
template <class Stream>
asio::awaitable<bool> read_more(Stream& s, Conn& c, size_t chunk, std::chrono::seconds timeout, bool in_body) {
  in_body = in_body || c.session.in_transaction();
  c.compact();
  c.deadline = Clock::now() + timeout;
  for (;;) {
    // A shutdown whose cancellation ran while no read was pending (during a reply's write) is seen here.
    if (c.ctx.control->shutting_down && (!in_body || c.ctx.control->drain_expired)) co_return false;
    size_t old = c.in.size();
    c.in.resize(old + chunk);
    auto [ec, n] = co_await s.async_read_some(asio::buffer(c.in.data() + old, chunk), nothrow);
    c.in.resize(old + n);
    if (!ec && n > 0) co_return true;
    bool shutdown_cancel = ec == asio::error::operation_aborted && !c.timed_out && c.ctx.control->shutting_down;
    if (in_body && shutdown_cancel && !c.ctx.control->drain_expired) continue;
    co_return false;
  }
}

// Sends the reply for a read that ended without data: a timeout (421 4.4.2), a shutdown (421 4.3.2), or nothing
// for a client that went away.
template <class Stream>
asio::awaitable<void> end_after_failed_read(Stream& s, Conn& c) {
  if (c.timed_out) {
    spdlog::info("{} client={} timeout", c.tag(), c.ctx.client.address);
    c.out += c.session.timeout().reply;
  } else if (c.ctx.control->shutting_down) {
    c.out += c.session.shutting_down().reply;
  } else {
    c.out.clear();
    co_return;
  }
  c.timed_out = false;
  co_await flush(s, c);
}

// Hands a complete message to the sink and returns the session's reply to it.
asio::awaitable<Step> commit_message(Conn& c, std::unique_ptr<queue::SpoolWriter> writer) {
  CommitOutcome outcome;
  if (!writer) {
    outcome.ok = false;
    outcome.reply = "452 4.3.1 Insufficient system storage";
  } else {
    std::string id = writer->id();
    outcome = co_await c.ctx.sink->finish(std::move(writer), c.session.envelope());
    if (outcome.ok && outcome.queue_id.empty()) outcome.queue_id = id;
  }
  const auto& env = c.session.envelope();
  if (outcome.ok) {
    spdlog::info("{} qid={} from=<{}> nrcpt={} client={} accepted", c.tag(), outcome.queue_id, env.mail_from,
                 env.recipients.size(), c.ctx.client.address);
  } else {
    spdlog::warn("{} from=<{}> client={} not accepted: {}", c.tag(), env.mail_from, c.ctx.client.address,
                 outcome.reply);
  }
  if (c.ctx.on_message) c.ctx.on_message(outcome.ok);
  co_return c.session.committed(outcome);
}

// Starts a spool file and writes the Received: header into it; null when the spool refuses.
std::unique_ptr<queue::SpoolWriter> open_spool(Conn& c) {
  std::error_code ec;
  auto writer = c.ctx.sink->begin(ec);
  if (!writer) {
    spdlog::error("{} cannot start a spool file: {}", c.tag(), ec.message());
    return nullptr;
  }
  writer->append(c.session.received_header(writer->id()));
  return writer;
}

// Runs `decode(out)` with the spool writer's own buffer as `out` (queue/spool.h: append_buffer), so message bytes
// go from the read buffer into the spool's without a copy in between; without a writer (the spool refused the
// message) into `discard`, then dropped.
template <class Decode>
void decode_into(queue::SpoolWriter* writer, std::string& discard, Decode&& decode) {
  if (!writer) {
    decode(discard);
    discard.clear();
    return;
  }
  std::string& out = writer->append_buffer();
  const size_t before = out.size();
  decode(out);
  writer->appended(before);
}

// Streams a DATA body through the decoder into the spool. nullopt when the connection failed mid-body.
template <class Stream>
asio::awaitable<std::optional<Step>> receive_data(Stream& s, Conn& c) {
  auto writer = open_spool(c);
  c.body_read = kFirstDataRead;
  DataReader reader(DataReader::Mode::dot, c.session.bare_lf(), c.session.max_message_size());
  std::string discard;
  for (;;) {
    size_t used = 0;
    decode_into(writer.get(), discard, [&](std::string& out) { used = reader.feed(c.pending(), out); });
    c.pos += used;
    if (reader.done()) break;
    if (!co_await read_more(s, c, c.next_body_read(), c.ctx.options->data_timeout, true)) co_return std::nullopt;
  }
  DataOutcome outcome = reader.outcome();
  if (!writer) outcome.write_failed = true;
  Step step = c.session.data_end(outcome);
  if (step.next != Next::commit) {
    if (c.ctx.on_message) c.ctx.on_message(false);
    co_return step;
  }
  // Named, not a conditional temporary: GCC 12 mis-destroys temporaries that live across co_await.
  std::unique_ptr<queue::SpoolWriter> handoff;
  if (!outcome.write_failed) handoff = std::move(writer);
  Step committed = co_await commit_message(c, std::move(handoff));
  co_return committed;
}

// Reads one BDAT chunk of exactly bdat_size() octets. nullopt when the connection failed mid-chunk.
template <class Stream>
asio::awaitable<std::optional<Step>> receive_bdat(Stream& s, Conn& c) {
  if (c.session.bdat_discard()) {
    // A refused chunk: its octets are read and thrown away so the command stream stays in sync.
    for (uint64_t left = c.session.bdat_size(); left > 0;) {
      if (c.pending().empty() && !co_await read_more(s, c, c.next_body_read(), c.ctx.options->data_timeout, true))
        co_return std::nullopt;
      size_t take = static_cast<size_t>(std::min<uint64_t>(left, c.pending().size()));
      c.pos += take;
      left -= take;
    }
    // The transaction can only end in a refusal now: its spool file goes.
    c.bdat_writer.reset();
    c.bdat_reader.reset();
    co_return c.session.bdat_end(DataOutcome{});
  }
  // The first chunk of a message starts a new spool file, even if an earlier
  // transaction ended by RSET left one behind.
  if (c.bdat_reader && c.session.bdat_first()) {
    c.bdat_writer.reset();
    c.bdat_reader.reset();
  }
  if (!c.bdat_reader) {
    c.body_read = kFirstDataRead;
    c.bdat_writer = open_spool(c);
    c.bdat_spool_failed = !c.bdat_writer;
    c.bdat_reader.emplace(DataReader::Mode::chunk, c.session.bare_lf(), c.session.max_message_size());
  }
  uint64_t left = c.session.bdat_size();
  std::string discard;
  while (left > 0) {
    if (c.pending().empty() && !co_await read_more(s, c, c.next_body_read(), c.ctx.options->data_timeout, true)) {
      c.bdat_writer.reset();
      c.bdat_reader.reset();
      co_return std::nullopt;
    }
    auto avail = c.pending();
    size_t take = static_cast<size_t>(std::min<uint64_t>(left, avail.size()));
    decode_into(c.bdat_writer.get(), discard, [&](std::string& out) { c.bdat_reader->feed(avail.substr(0, take), out); });
    c.pos += take;
    left -= take;
  }
  bool last = c.session.bdat_last();
  if (last) decode_into(c.bdat_writer.get(), discard, [&](std::string& out) { c.bdat_reader->finish_chunk(out); });
  DataOutcome outcome = c.bdat_reader->outcome();
  if (c.bdat_spool_failed) outcome.write_failed = true;
  Step step = c.session.bdat_end(outcome);
  if (step.next == Next::commit) {
    c.bdat_reader.reset();
    std::unique_ptr<queue::SpoolWriter> handoff = std::move(c.bdat_writer);
    if (outcome.write_failed) handoff.reset();
    Step committed = co_await commit_message(c, std::move(handoff));
    co_return committed;
  }
  if (last || step.next != Next::read_command) {
    // The transaction ended without a commit (refused): drop the spool file.
    if (c.ctx.on_message) c.ctx.on_message(false);
    c.bdat_writer.reset();
    c.bdat_reader.reset();
  }
  co_return step;
}

// The command loop on one stream (plain or TLS). Returns start_tls when the session asked for STARTTLS.
template <class Stream>
asio::awaitable<LoopEnd> command_loop(Stream& s, Conn& c, bool can_start_tls) {
  bool discarding = false;  // inside an over-long line, skipping to its end
  for (;;) {
    if (c.ctx.control->shutting_down && c.pending().empty() && !c.bdat_reader &&
        (!c.session.in_transaction() || c.ctx.control->drain_expired)) {
      c.out += c.session.shutting_down().reply;
      co_await flush(s, c);
      co_return LoopEnd::closed;
    }
    auto pending = c.pending();
    size_t nl = pending.find('\n');
    if (nl == std::string_view::npos) {
      if (pending.size() > kMaxLine) {
        c.pos = c.in.size();
        discarding = true;
      }
      if (!co_await flush(s, c)) co_return LoopEnd::closed;
      c.shrink();
      if (!co_await read_more(s, c, kCommandRead, c.ctx.options->command_timeout, false)) {
        co_await end_after_failed_read(s, c);
        co_return LoopEnd::closed;
      }
      continue;
    }
    std::string_view line = pending.substr(0, nl);
    c.pos += nl + 1;
    Step step;
    if (discarding) {
      discarding = false;
      step = c.session.on_line_too_long();
    } else {
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      step = c.session.on_line(line);
    }
    for (;;) {
      c.out += step.reply;
      if (step.next == Next::read_data) {
        if (!co_await flush(s, c)) co_return LoopEnd::closed;
        auto next = co_await receive_data(s, c);
        if (!next) {
          co_await end_after_failed_read(s, c);
          co_return LoopEnd::closed;
        }
        step = std::move(*next);
        continue;
      }
      if (step.next == Next::read_bdat) {
        auto next = co_await receive_bdat(s, c);
        if (!next) {
          co_await end_after_failed_read(s, c);
          co_return LoopEnd::closed;
        }
        step = std::move(*next);
        continue;
      }
      break;
    }
    switch (step.next) {
      case Next::close:
        co_await flush(s, c);
        co_return LoopEnd::closed;
      case Next::start_tls:
        if (!co_await flush(s, c)) co_return LoopEnd::closed;
        if (!can_start_tls) co_return LoopEnd::closed;
        // RFC 3207: anything the client pipelined after STARTTLS is discarded (STARTTLS injection).
        c.in.clear();
        c.pos = 0;
        co_return LoopEnd::start_tls;
      default:
        break;
    }
  }
}

template <class Socket>
void arm_io_controls(const std::shared_ptr<Conn>& c, Socket& socket) {
  c->cancel_io = [&socket] {
    boost::system::error_code ec;
    socket.cancel(ec);
  };
  c->close_io = [&socket] {
    boost::system::error_code ec;
    socket.close(ec);
  };
  // The server calls this from another thread: hop onto the connection's strand first.
  c->ctx.control->set_cancel([weak = std::weak_ptr<Conn>(c), ex = socket.get_executor()] {
    asio::post(ex, [weak] {
      if (auto conn = weak.lock(); conn && !conn->finished && conn->cancel_io) conn->cancel_io();
    });
  });
}

void finish(const std::shared_ptr<Conn>& c) {
  c->finished = true;
  c->timer.cancel();
}

// Sends the greeting and runs the command loop; false when the greeting refused the client.
template <class Stream>
asio::awaitable<LoopEnd> greet_and_loop(Stream& s, Conn& c, bool can_start_tls) {
  Step greeting = c.session.greeting();
  c.out += greeting.reply;
  if (greeting.next == Next::close) {
    co_await flush(s, c);
    co_return LoopEnd::closed;
  }
  co_return co_await command_loop(s, c, can_start_tls);
}

// TLS on an accepted socket: after STARTTLS, or first thing on an implicit-TLS listener (then the greeting
// goes out over TLS).
template <class Socket>
asio::awaitable<void> run_tls(Socket& socket, const std::shared_ptr<Conn>& c, bool greet) {
  asio::ssl::stream<Socket&> tls(socket, *c->ctx.tls);
  c->deadline = Clock::now() + c->ctx.options->command_timeout;
  auto [ec] = co_await tls.async_handshake(asio::ssl::stream_base::server, nothrow);
  if (c->ctx.on_tls) c->ctx.on_tls(!ec);
  if (ec) {
    spdlog::info("{} client={} TLS handshake failed: {}", c->tag(), c->ctx.client.address, ec.message());
    co_return;
  }
  SSL* ssl = tls.native_handle();
  c->session.tls_started(SSL_get_version(ssl), SSL_get_cipher_name(ssl));
  if (greet) {
    co_await greet_and_loop(tls, *c, false);
  } else {
    co_await command_loop(tls, *c, false);
  }
  // Say close_notify so the client sees a clean end, but do not wait long for its answer.
  c->deadline = Clock::now() + std::chrono::seconds(2);
  c->timed_out = true;  // a watchdog expiry now closes at once instead of answering 421
  co_await tls.async_shutdown(nothrow);
}

template <class Socket>
asio::awaitable<void> serve(Socket socket, ConnectionContext context, bool implicit_tls) {
  auto ex = co_await asio::this_coro::executor;
  auto c = std::make_shared<Conn>(std::move(context), ex);
  arm_io_controls(c, socket);
  c->deadline = Clock::now() + c->ctx.options->command_timeout;
  asio::co_spawn(ex, watchdog(c), asio::detached);
  spdlog::debug("{} connect from {}", c->tag(), c->ctx.client.address);
  if (implicit_tls) {
    if (c->ctx.tls) co_await run_tls(socket, c, true);
  } else if (co_await greet_and_loop(socket, *c, c->ctx.tls != nullptr) == LoopEnd::start_tls) {
    co_await run_tls(socket, c, false);
  }
  boost::system::error_code ignored;
  socket.close(ignored);  // sends the FIN (no shutdown() first: nothing else holds the socket)
  c->ctx.policy->on_disconnect(c->ctx.client);
  finish(c);
  spdlog::debug("{} disconnect", c->tag());
}

}  // namespace

asio::awaitable<void> serve_connection(asio::ip::tcp::socket socket, ConnectionContext context, bool implicit_tls) {
  // TCP_NODELAY comes from the listener (server.cpp).
  co_await serve(std::move(socket), std::move(context), implicit_tls);
}

asio::awaitable<void> serve_connection(asio::local::stream_protocol::socket socket, ConnectionContext context) {
  co_await serve(std::move(socket), std::move(context), false);
}

}  // namespace smarthost::smtpd
