// The connection coroutine for one upstream SMTP session (see the header): sockets, TLS, deadlines, body
// streaming from the spool file in large writes. Message headers are rewritten here when a sender identity is set.
#include "upstream/smtp/smtp_connection.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "mail/content_reader.h"
#include "upstream/smtp/dot_stuffer.h"
#include "upstream/smtp/tls_context.h"

namespace smarthost::upstream::smtp {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr size_t kMaxReplyLine = 8192;            // RFC 5321 allows 512; be lenient, but bounded
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kFileChunk = 64 * 1024;
constexpr size_t kWriteChunk = 256 * 1024;        // body bytes per write: never one syscall per line
constexpr size_t kMaxHeaderSection = 1024 * 1024;  // headers read for rewriting; a bigger section is left alone
constexpr auto kQuitTimeout = std::chrono::seconds(5);

std::atomic<uint64_t> next_connection_id{1};

// Reads the message's file from `offset` into `out`, at most `limit` bytes. False on a read error.
bool read_at(const mail::ContentReader& file, uint64_t offset, size_t limit, std::string& out) {
  out.resize(limit);
  const ssize_t got = file.read(offset, out.data(), limit);
  if (got < 0) return false;
  out.resize(static_cast<size_t>(got));
  return true;
}

bool is_loopback_name(const std::string& host) {
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  return host == "localhost" || (!ec && address.is_loopback());
}

ClientSettings protocol_settings(const ConnectionSettings& s) {
  ClientSettings c;
  c.local_hostname = s.local_hostname;
  c.require_tls = s.require_tls;
  c.tls_active = s.implicit_tls;
  c.allow_plaintext_auth = s.allow_plaintext_auth || is_loopback_name(s.host);
  c.username = s.username;
  c.password = s.password;
  c.oauth2 = s.oauth2;
  c.trace = s.debug_level > 0;
  c.chunking = s.chunking;
  return c;
}

}  // namespace

struct SmtpConnection::Io {
  explicit Io(asio::any_io_executor ex, std::shared_ptr<ssl::context> context)
      : resolver(ex), socket(ex), deadline(ex), tls_context(std::move(context)) {}

  tcp::resolver resolver;
  tcp::socket socket;
  asio::steady_timer deadline;
  std::shared_ptr<ssl::context> tls_context;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls;
  uint64_t deadline_generation = 0;
  bool timed_out = false;
  std::string in;  // bytes read, not yet consumed
  std::array<char, kReadChunk> read_buffer{};
  std::chrono::milliseconds armed_for{0};

  // Starts the watchdog for the next operation: past `d`, the socket's operations are cancelled.
  static void arm(const std::shared_ptr<Io>& io, std::chrono::milliseconds d) {
    io->armed_for = d;
    io->deadline.expires_after(d);
    io->deadline.async_wait([weak = std::weak_ptr<Io>(io), gen = ++io->deadline_generation](const error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || gen != self->deadline_generation) return;
      self->timed_out = true;
      self->resolver.cancel();
      error_code ignored;
      self->socket.cancel(ignored);
    });
  }
  void disarm() {
    ++deadline_generation;
    deadline.cancel();
  }
  std::string describe(const error_code& ec) const {
    if (timed_out) {
      return "timed out after " + std::to_string(armed_for.count() / 1000) + "s waiting for the upstream";
    }
    if (ec == asio::error::eof || ec == ssl::error::stream_truncated) return "connection lost: closed by the upstream";
    return "connection lost: " + ec.message();
  }

  // Writes `data`, then `more`, in one gathered write where the socket takes it.
  asio::awaitable<error_code> write_all(const std::shared_ptr<Io>& self, std::string_view data,
                                        std::chrono::milliseconds timeout, std::string_view more = {}) {
    arm(self, timeout);
    std::array<asio::const_buffer, 2> buffer{asio::buffer(data.data(), data.size()),
                                             asio::buffer(more.data(), more.size())};
    error_code ec;
    if (tls) {
      std::tie(ec, std::ignore) = co_await asio::async_write(*tls, buffer, asio::as_tuple(asio::use_awaitable));
    } else {
      std::tie(ec, std::ignore) = co_await asio::async_write(socket, buffer, asio::as_tuple(asio::use_awaitable));
    }
    disarm();
    co_return ec;
  }

  // One line without its line end, or an error. A line longer than kMaxReplyLine is an error.
  asio::awaitable<std::pair<std::string, std::string>> read_line(const std::shared_ptr<Io>& self,
                                                                 std::chrono::milliseconds timeout) {
    while (true) {
      size_t eol = in.find('\n');
      if (eol != std::string::npos) {
        std::string line = in.substr(0, eol);
        in.erase(0, eol + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        co_return std::pair{std::move(line), std::string{}};
      }
      if (in.size() > kMaxReplyLine) co_return std::pair{std::string{}, std::string("reply line too long")};
      arm(self, timeout);
      auto buffer = asio::buffer(read_buffer);
      error_code ec;
      size_t n = 0;
      if (tls) {
        std::tie(ec, n) = co_await tls->async_read_some(buffer, asio::as_tuple(asio::use_awaitable));
      } else {
        std::tie(ec, n) = co_await socket.async_read_some(buffer, asio::as_tuple(asio::use_awaitable));
      }
      disarm();
      if (ec) co_return std::pair{std::string{}, describe(ec)};
      in.append(read_buffer.data(), n);
    }
  }

  asio::awaitable<std::string> handshake(const std::shared_ptr<Io>& self, const std::string& host, bool verify,
                                         std::chrono::milliseconds timeout) {
    tls = std::make_unique<ssl::stream<tcp::socket&>>(socket, *tls_context);
    if (!prepare_tls_connection(tls->native_handle(), host, verify)) co_return "cannot set up TLS for " + host;
    arm(self, timeout);
    auto [ec] = co_await tls->async_handshake(ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
    disarm();
    if (!ec) co_return std::string{};
    if (timed_out) co_return describe(ec);
    co_return tls_failure_reason(tls->native_handle(), ec.message());
  }
};

SmtpConnection::SmtpConnection(asio::any_io_executor executor, std::shared_ptr<ssl::context> tls,
                               std::shared_ptr<const ConnectionSettings> settings,
                               std::shared_ptr<TokenSource> tokens)
    : io_(std::make_shared<Io>(std::move(executor), std::move(tls))),
      settings_(std::move(settings)),
      tokens_(std::move(tokens)),
      protocol_(protocol_settings(*settings_)),
      id_(next_connection_id++) {}

SmtpConnection::~SmtpConnection() { close(); }

void SmtpConnection::close() {
  if (closed_) return;
  closed_ = true;
  io_->disarm();
  error_code ignored;
  io_->socket.shutdown(tcp::socket::shutdown_both, ignored);
  io_->socket.close(ignored);
}

bool SmtpConnection::usable() const { return !closed_ && io_->socket.is_open() && protocol_.is_ready(); }

bool SmtpConnection::clean() const { return usable() && protocol_.transaction_clear(); }

void SmtpConnection::flush_trace() {
  if (settings_->debug_level <= 0) return;
  for (const auto& line : protocol_.take_trace()) {
    spdlog::info("smtp upstream={} conn={} {}", settings_->upstream_name, id_, line);
  }
}

asio::awaitable<Next> SmtpConnection::drive(Step step) {
  const auto timeout = settings_->timeout;
  while (true) {
    flush_trace();
    if (step.next == Next::send_chunk) {  // the commands go out with the chunk (stream_body)
      chunk_commands_ = std::move(step.output);
      co_return step.next;
    }
    if (!step.output.empty()) {
      if (closed_) {
        protocol_.io_failed("connection already closed");
        co_return Next::close;
      }
      error_code ec = co_await io_->write_all(io_, step.output, timeout);
      if (ec) {
        protocol_.io_failed(io_->describe(ec));
        close();
        co_return Next::close;
      }
    }
    switch (step.next) {
      case Next::read_reply: {
        ReplyReader reader;
        std::optional<Reply> reply;
        std::string malformed;
        while (!reply && malformed.empty()) {
          auto [line, error] = co_await io_->read_line(io_, timeout);
          if (!error.empty()) {
            protocol_.io_failed(error);
            flush_trace();
            close();
            co_return Next::close;
          }
          switch (reader.feed(line)) {
            case ReplyReader::Status::complete: reply = reader.take(); break;
            case ReplyReader::Status::malformed: malformed = line.empty() ? std::string("(empty line)") : line; break;
            case ReplyReader::Status::incomplete: break;
          }
        }
        step = reply ? protocol_.on_reply(*reply) : protocol_.on_malformed_reply(malformed);
        break;
      }
      case Next::start_tls: {
        if (!io_->in.empty()) {
          // Client side of the STARTTLS injection defence: nothing read before the handshake may be used after.
          spdlog::warn("smtp upstream={} conn={} discarded {} bytes sent before the TLS handshake",
                       settings_->upstream_name, id_, io_->in.size());
          io_->in.clear();
        }
        std::string error = co_await io_->handshake(io_, settings_->host, settings_->verify_certificates,
                                                    settings_->connect_timeout);
        if (!error.empty()) {
          protocol_.io_failed(error, "4.7.5");
          flush_trace();
          close();
          co_return Next::close;
        }
        if (settings_->debug_level >= 2) {
          spdlog::info("smtp upstream={} conn={} TLS {} {}", settings_->upstream_name, id_,
                       SSL_get_version(io_->tls->native_handle()),
                       SSL_get_cipher_name(io_->tls->native_handle()));
        }
        step = protocol_.tls_started();
        break;
      }
      case Next::refresh_token: {
        std::string token;
        if (tokens_) token = (co_await tokens_->access_token(true)).token;
        step = protocol_.token_refreshed(std::move(token));
        break;
      }
      case Next::send_body:
      case Next::send_chunk:
      case Next::ready:
        flush_trace();
        co_return step.next;
      case Next::close:
        flush_trace();
        close();
        co_return Next::close;
    }
  }
}

asio::awaitable<std::optional<SessionFailure>> SmtpConnection::open() {
  const ConnectionSettings& s = *settings_;
  auto connect_failure = [&](SmtpStage stage, const std::string& what) {
    return SessionFailure{stage, make_reply(451, "4.4.1", "smarthost: cannot connect to " + s.host + ":" +
                                                                std::to_string(s.port) + ": " + what),
                          classify_smtp_io_failure(stage)};
  };
  std::string token;
  if (s.oauth2) {
    if (!tokens_) co_return SessionFailure{SmtpStage::auth, make_reply(454, "4.7.0", "smarthost: no OAuth2 token source"),
                                           {Outcome::temporary, true, false}};
    AccessToken t = co_await tokens_->access_token(false);
    if (t.token.empty()) {
      co_return SessionFailure{SmtpStage::auth, make_reply(454, "4.7.0", "smarthost: OAuth2 token: " + t.error),
                               {Outcome::temporary, true, false}};
    }
    token = std::move(t.token);
  }

  Io::arm(io_, s.connect_timeout);
  auto [rec, endpoints] = co_await io_->resolver.async_resolve(s.host, std::to_string(s.port),
                                                                asio::as_tuple(asio::use_awaitable));
  io_->disarm();
  if (rec) {
    closed_ = true;
    co_return connect_failure(SmtpStage::connect, io_->timed_out ? io_->describe(rec) : rec.message());
  }
  Io::arm(io_, s.connect_timeout);
  auto [cec, endpoint] = co_await asio::async_connect(io_->socket, endpoints, asio::as_tuple(asio::use_awaitable));
  io_->disarm();
  if (cec) {
    closed_ = true;
    co_return connect_failure(SmtpStage::connect, io_->timed_out ? io_->describe(cec) : cec.message());
  }
  error_code ignored;
  io_->socket.set_option(tcp::no_delay(true), ignored);
  if (s.implicit_tls) {
    std::string error = co_await io_->handshake(io_, s.host, s.verify_certificates, s.connect_timeout);
    if (!error.empty()) {
      close();
      co_return SessionFailure{SmtpStage::connect, make_reply(451, "4.7.5", "smarthost: " + error),
                               classify_smtp_io_failure(SmtpStage::connect)};
    }
  }
  Next next = co_await drive(protocol_.start(std::move(token)));
  if (next == Next::ready) co_return std::nullopt;
  close();
  if (protocol_.failure()) co_return *protocol_.failure();
  co_return connect_failure(protocol_.stage(), "session ended unexpectedly");
}

asio::awaitable<std::string> SmtpConnection::stream_body(const OutboundMessage& message, const std::string& header,
                                                         uint64_t body_offset, bool chunk) {
  mail::ContentReader file(message.content_file, message.content_path);
  if (!file.is_open()) co_return "cannot open the queued message: " + std::string(std::strerror(errno));
  DotStuffer stuffer(chunk ? DotStuffer::Framing::bdat : DotStuffer::Framing::data);
  // Reads exactly the recorded message (no read to find the end of the file), through buffers sized by it: a
  // 4 KiB message allocates a few KiB, not the few hundred that make the allocator trim and refault per delivery.
  const uint64_t end = message.content_offset + message.size;
  const uint64_t body_bytes = end - std::min(body_offset, end);
  std::string out;
  out.reserve(static_cast<size_t>(
      std::min<uint64_t>(kWriteChunk + kFileChunk * 2, header.size() + body_bytes + body_bytes / 32 + 64)));
  stuffer.feed(header, out);
  // Not a std::string: resizing one zero-fills the whole chunk before every read (a 64 KiB memset per read).
  const size_t chunk_size = static_cast<size_t>(std::clamp<uint64_t>(body_bytes, 1, kFileChunk));
  auto buffer = std::make_unique_for_overwrite<char[]>(chunk_size);
  for (uint64_t offset = body_offset; offset < end;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(chunk_size, end - offset));
    const ssize_t n = file.read(offset, buffer.get(), want);
    if (n < 0) co_return "cannot read the queued message: " + std::string(std::strerror(errno));
    if (static_cast<size_t>(n) < want) co_return "the queued message is shorter than its record says";
    offset += want;
    stuffer.feed(std::string_view(buffer.get(), want), out);
    if (!chunk && out.size() >= kWriteChunk) {
      error_code ec = co_await io_->write_all(io_, out, settings_->timeout);
      if (ec) co_return io_->describe(ec);
      out.clear();
    }
  }
  stuffer.finish(out);
  error_code ec;
  if (chunk) {
    // MAIL, RCPT, "BDAT <n> LAST" and the message: one write, one round trip.
    std::string commands = std::move(chunk_commands_);
    commands += protocol_.chunk_command(out.size());
    ec = co_await io_->write_all(io_, commands, settings_->timeout, out);
  } else {
    ec = co_await io_->write_all(io_, out, settings_->timeout);
  }
  if (ec) co_return io_->describe(ec);
  co_return std::string{};
}

namespace {

// "452 4.5.3 Too many recipients" (RFC 5321 3.3): the rest must go in another transaction.
bool too_many_recipients(const RecipientResult& r) {
  return r.outcome == Outcome::temporary && r.reply.starts_with("452") &&
         (r.reply.find("4.5.3") != std::string::npos || r.reply.find("ecipients") != std::string::npos);
}

}  // namespace

asio::awaitable<DeliveryResult> SmtpConnection::send(const OutboundMessage& message) {
  DeliveryResult result = co_await send_transaction(message);
  lost_before_data_ = !usable() && protocol_.failure().has_value() && !protocol_.data_started();
  // Recipients over the server's per-transaction limit go in further transactions on the same session, as long
  // as each one makes progress (a bounded number of rounds).
  for (int round = 0; round < 100 && usable(); ++round) {
    std::vector<size_t> rest;
    for (size_t i = 0; i < result.recipients.size(); ++i) {
      if (too_many_recipients(result.recipients[i])) rest.push_back(i);
    }
    if (rest.empty() || rest.size() == result.recipients.size()) break;
    if (!co_await probe()) break;
    OutboundMessage again = message;
    again.envelope.recipients.clear();
    for (size_t i : rest) again.envelope.recipients.push_back(message.envelope.recipients[i]);
    DeliveryResult more = co_await send_transaction(again);
    if (more.recipients.size() != rest.size()) break;
    size_t progress = 0;
    for (size_t k = 0; k < rest.size(); ++k) {
      progress += !too_many_recipients(more.recipients[k]);
      result.recipients[rest[k]] = std::move(more.recipients[k]);
    }
    result.upstream_unhealthy |= more.upstream_unhealthy;
    result.throttled |= more.throttled;
    if (result.remote_id.empty()) result.remote_id = more.remote_id;
    if (progress == 0) break;
  }
  auto any = [&](Outcome o) {
    return std::any_of(result.recipients.begin(), result.recipients.end(),
                       [o](const RecipientResult& r) { return r.outcome == o; });
  };
  if (!result.recipients.empty()) {
    result.outcome = any(Outcome::temporary)          ? Outcome::temporary
                     : any(Outcome::upstream_refused) ? Outcome::upstream_refused
                     : any(Outcome::permanent)        ? Outcome::permanent
                                                      : Outcome::delivered;
  }
  co_return result;
}

asio::awaitable<DeliveryResult> SmtpConnection::send_transaction(const OutboundMessage& message) {
  const ConnectionSettings& s = *settings_;
  auto local_failure = [&](const std::string& what) {
    DeliveryResult r;
    r.outcome = Outcome::temporary;
    r.reply = "451 4.3.0 smarthost: " + what;
    for (const auto& rcpt : message.envelope.recipients) r.recipients.push_back({rcpt.address, Outcome::temporary, r.reply});
    return r;
  };

  // The header section, rewritten for the configured sender identity; the rest is streamed from the file.
  std::string header;
  uint64_t body_offset = message.content_offset;
  uint64_t size = message.size;
  if (s.identity.active()) {
    mail::ContentReader file(message.content_file, message.content_path);
    std::string head;
    if (!file.is_open() || !read_at(file, message.content_offset, kMaxHeaderSection + 1, head)) {
      co_return local_failure("cannot read the queued message " + message.queue_id + ": " + std::strerror(errno));
    }
    size_t length = header_section_length(head);
    if (length == std::string::npos && head.size() <= kMaxHeaderSection) length = head.size();  // all header
    if (length != std::string::npos) {
      header = rewrite_headers(std::string_view(head).substr(0, length), s.identity);
      body_offset += length;
      size = size - std::min<uint64_t>(size, length) + header.size();
    } else {
      spdlog::warn("smtp upstream={} qid={} header section over {} bytes: sender identity not applied",
                   s.upstream_name, message.queue_id, kMaxHeaderSection);
    }
  }

  MessageParams params;
  // return_path replaces the sender, but never the null sender of a bounce (RFC 5321 4.5.5: a bounce must not be
  // answered by another bounce, so it keeps <> on every hop).
  params.mail_from = s.return_path.empty() || message.envelope.mail_from.empty() ? message.envelope.mail_from
                                                                                 : s.return_path;
  for (const auto& rcpt : message.envelope.recipients) params.recipients.push_back(rcpt.address);
  params.body = message.envelope.body;
  params.smtputf8 = message.envelope.smtputf8;
  params.size = size;

  if (!usable()) co_return local_failure("upstream session not ready");
  Next next = co_await drive(protocol_.begin_message(params));
  if (next == Next::send_body || next == Next::send_chunk) {
    const bool chunk = next == Next::send_chunk;
    std::string error = co_await stream_body(message, header, body_offset, chunk);
    if (!error.empty()) {
      // Never send the final dot after a partial body: dropping the connection makes the server discard it.
      // (A BDAT chunk is written whole or not at all: nothing is sent before the message has been read.)
      protocol_.io_failed(error);
      flush_trace();
      close();
    } else if (chunk) {  // (not one co_await of a ?: of two temporaries: GCC 12 destroys the wrong one)
      next = co_await drive(protocol_.chunk_sent());
    } else {
      next = co_await drive(protocol_.body_sent());
    }
  }
  ++messages_;
  DeliveryResult result = protocol_.has_result() ? protocol_.take_result() : local_failure("no result from session");
  for (const auto& r : result.recipients) {
    spdlog::debug("smtp upstream={} conn={} qid={} rcpt={} outcome={} reply=\"{}\"", s.upstream_name, id_,
                  message.queue_id, r.address, to_string(r.outcome), r.reply);
  }
  co_return result;
}

asio::awaitable<bool> SmtpConnection::probe() {
  if (!usable()) co_return false;
  Next next = co_await drive(protocol_.probe());
  co_return next == Next::ready;
}

asio::awaitable<void> SmtpConnection::quit() {
  if (closed_) co_return;
  if (protocol_.is_ready()) {
    Step step = protocol_.quit();
    error_code ec = co_await io_->write_all(io_, step.output, kQuitTimeout);
    if (!ec) co_await io_->read_line(io_, kQuitTimeout);
    flush_trace();
  }
  close();
}

}  // namespace smarthost::upstream::smtp
