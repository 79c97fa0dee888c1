// Passthrough delivery: stage the message, start the transport in its own coroutine on the session's strand, and
// wait for its verdict or the deadline, whichever comes first. The reply mapping is passthrough_reply().
#include "app/passthrough_sink.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <optional>

#include "app/spool_sink.h"

namespace smarthost::app {
namespace {

namespace asio = boost::asio;
using upstream::DeliveryResult;
using upstream::Outcome;

constexpr size_t kReplyCap = 400;

// One delivery in flight. Shared by the waiting session and the delivering coroutine, which may outlive the
// wait (after the deadline), so it keeps the staged file (the writer) alive itself.
struct Attempt {
  explicit Attempt(asio::any_io_executor executor) : done(std::move(executor)) {}
  std::unique_ptr<queue::SpoolWriter> writer;
  upstream::OutboundMessage message;
  std::optional<DeliveryResult> result;
  bool abandoned = false;  // the client got 451 at the deadline
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  asio::steady_timer done;  // cancelled when the result is in
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The first line of a remote reply, without control characters, capped.
std::string one_line(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\r' || c == '\n') break;
    out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
    if (out.size() >= kReplyCap) break;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "550 5.1.1 no such user" or "550-5.1.1 ..." (first line of a multi-line reply) as a 5xx reply line.
std::string permanent_reply(std::string_view upstream_text) {
  std::string line = one_line(upstream_text);
  if (line.size() >= 3 && line[0] == '5' && is_digit(line[1]) && is_digit(line[2]) &&
      (line.size() == 3 || line[3] == ' ' || line[3] == '-')) {
    if (line.size() > 3) line[3] = ' ';
    return line;
  }
  return "554 5.0.0 " + (line.empty() ? std::string("Delivery failed") : line);
}

void log_result(const Attempt& a, const std::string& transport, std::string_view reply) {
  const auto& r = *a.result;
  // The router says which of its upstreams answered; a single transport is its own answer.
  const std::string& upstream =
      !r.recipients.empty() && !r.recipients.front().upstream.empty() ? r.recipients.front().upstream : transport;
  spdlog::info("qid={} passthrough upstream={} outcome={} nrcpt={} delay={:.2f}s{}{}", a.message.queue_id, upstream,
               upstream::to_string(r.outcome), a.message.envelope.recipients.size(), seconds_since(a.started),
               reply.empty() ? "" : " reply=\"", reply.empty() ? "" : std::string(reply) + "\"");
}

asio::awaitable<void> run_attempt(std::shared_ptr<Attempt> attempt, upstream::Transport& transport) {
  DeliveryResult result = co_await transport.deliver(attempt->message);
  attempt->result = std::move(result);
  if (attempt->abandoned) {
    // The client was told 451 already; it will send again. Say what happened meanwhile.
    spdlog::warn("qid={} passthrough delivery ended after the client's deadline: {}", attempt->message.queue_id,
                 upstream::to_string(attempt->result->outcome));
  }
  attempt->done.cancel();
}

}  // namespace

std::string passthrough_reply(const DeliveryResult& result) {
  size_t delivered = 0, permanent = 0, temporary = 0;
  std::string first_permanent, first_temporary;
  auto count = [&](Outcome outcome, const std::string& reply) {
    switch (outcome) {
      case Outcome::delivered: ++delivered; break;
      case Outcome::permanent:
        if (permanent++ == 0) first_permanent = reply;
        break;
      case Outcome::temporary:
      case Outcome::upstream_refused:
        if (temporary++ == 0) first_temporary = reply;
        break;
    }
  };
  if (result.recipients.empty()) {
    count(result.outcome, result.reply);
  } else {
    for (const auto& r : result.recipients) count(r.outcome, r.reply.empty() ? result.reply : r.reply);
  }
  if (temporary > 0) {
    std::string why = one_line(first_temporary);
    return "451 4.4.1 Upstream delivery failed temporarily" + (why.empty() ? std::string() : ": " + why);
  }
  if (permanent > 0) {
    std::string reply = permanent_reply(first_permanent);
    if (delivered > 0)
      reply += " (delivered to " + std::to_string(delivered) + " of " + std::to_string(delivered + permanent) +
               " recipients)";
    return reply;
  }
  return "";
}

std::unique_ptr<queue::SpoolWriter> PassthroughSink::begin(std::error_code& error) { return spool_.begin(error); }

asio::awaitable<smtpd::CommitOutcome> PassthroughSink::finish(std::unique_ptr<queue::SpoolWriter> writer,
                                                              const mail::Envelope& envelope) {
  smtpd::CommitOutcome outcome;
  queue::StagedMessage staged = spool_.stage(*writer);
  if (staged.error) {
    spdlog::error("qid={} passthrough: message not staged: {}", writer->id(), staged.error.message());
    outcome.reply = spool_failure_reply(staged.error);
    co_return outcome;
  }
  // The session runs on its strand; the delivery and the timer share it, so `result` needs no lock.
  asio::any_io_executor executor = co_await asio::this_coro::executor;
  auto attempt = std::make_shared<Attempt>(executor);
  attempt->message.queue_id = writer->id();
  attempt->message.envelope = envelope;
  if (attempt->message.envelope.received_at == std::chrono::system_clock::time_point{})
    attempt->message.envelope.received_at = std::chrono::system_clock::now();
  attempt->message.content_path = staged.path;
  attempt->message.content_offset = staged.offset;
  attempt->message.size = staged.size;
  attempt->writer = std::move(writer);
  attempt->done.expires_after(deadline_);

  auto on_end = [attempt](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("qid={} passthrough delivery threw: {}", attempt->message.queue_id, e.what());
    } catch (...) {
      spdlog::error("qid={} passthrough delivery threw", attempt->message.queue_id);
    }
    if (!attempt->result) {
      DeliveryResult failed;
      failed.outcome = Outcome::temporary;
      failed.reply = "local error";
      attempt->result = std::move(failed);
    }
    attempt->done.cancel();
  };
  asio::co_spawn(executor, run_attempt(attempt, transport_), std::move(on_end));
  if (!attempt->result) {
    auto wait = asio::as_tuple(asio::use_awaitable);
    auto [ignored] = co_await attempt->done.async_wait(wait);
    (void)ignored;
  }

  if (!attempt->result) {
    attempt->abandoned = true;
    outcome.reply = "451 4.4.1 Upstream did not answer in time; try again later";
    spdlog::warn("qid={} passthrough via={} no verdict within {}ms; client told 451 4.4.1",
                 attempt->message.queue_id, transport_.name(), deadline_.count());
    co_return outcome;
  }
  std::string reply = passthrough_reply(*attempt->result);
  log_result(*attempt, transport_.name(), reply);
  if (!reply.empty()) {
    outcome.reply = std::move(reply);
    co_return outcome;
  }
  outcome.ok = true;
  outcome.queue_id = attempt->message.queue_id;
  outcome.reply = "250 2.0.0 Ok: delivered as " + outcome.queue_id;
  co_return outcome;
}

}  // namespace smarthost::app
