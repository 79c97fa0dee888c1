// Queue-mode message sink: the 250 goes out only after the spool's commit (fsync) completes.
#include "app/spool_sink.h"

#include <spdlog/spdlog.h>

#include <cerrno>

namespace smarthost::app {

std::string spool_failure_reply(std::error_code error) {
  if (error == std::errc::no_space_on_device || error.value() == EDQUOT)
    return "452 4.3.1 Insufficient system storage";
  return "451 4.3.0 Error: queue file write error";
}

std::unique_ptr<queue::SpoolWriter> QueueSink::begin(std::error_code& error) { return spool_.begin(error); }

boost::asio::awaitable<smtpd::CommitOutcome> QueueSink::finish(std::unique_ptr<queue::SpoolWriter> writer,
                                                                const mail::Envelope& envelope) {
  smtpd::CommitOutcome outcome;
  auto result = co_await writer->commit(envelope);
  if (result.error) {
    spdlog::error("qid={} spool commit failed: {}", writer->id(), result.error.message());
    outcome.reply = spool_failure_reply(result.error);
    co_return outcome;
  }
  outcome.ok = true;
  outcome.queue_id = result.id;
  co_return outcome;
}

}  // namespace smarthost::app
