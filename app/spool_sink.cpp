// Queue-mode message sink: the 250 goes out only after the spool's commit (fsync) completes. With dedup, the
// writer hashes the body as it streams and the fingerprint is claimed in the cache before the commit.
#include "app/spool_sink.h"

#include <spdlog/spdlog.h>

#include <cerrno>

#include "policy/message_fingerprint.h"

namespace smarthost::app {

std::string spool_failure_reply(std::error_code error) {
  if (error == std::errc::no_space_on_device || error.value() == EDQUOT)
    return "452 4.3.1 Insufficient system storage";
  return "451 4.3.0 Error: queue file write error";
}

std::unique_ptr<queue::SpoolWriter> QueueSink::begin(std::error_code& error) {
  auto writer = spool_.begin(error);
  if (!writer || !dedup_.cache) return writer;
  return std::make_unique<policy::FingerprintingWriter>(std::move(writer));
}

boost::asio::awaitable<smtpd::CommitOutcome> QueueSink::finish(std::unique_ptr<queue::SpoolWriter> writer,
                                                                const mail::Envelope& envelope) {
  smtpd::CommitOutcome outcome;
  std::string claimed;  // the cache key this message holds, released again if the commit fails
  if (auto* hashing = dynamic_cast<policy::FingerprintingWriter*>(writer.get()); hashing && dedup_.cache) {
    std::string fingerprint = hashing->fingerprint(envelope);
    if (!fingerprint.empty()) {
      std::string key = dedup_.key_prefix + "dedup:" + fingerprint;
      auto earlier = co_await dedup_.cache->put_if_absent(key, writer->id(), dedup_.ttl);
      if (earlier) {
        // The same message again (a client retrying after a lost reply): the earlier copy stands.
        spdlog::info("qid={} duplicate of qid={} (message-id={}); acknowledged, not queued again", writer->id(),
                     *earlier, hashing->message_id());
        outcome.ok = true;
        outcome.queue_id = *earlier;
        co_return outcome;  // the uncommitted writer removes its temporary file
      }
      claimed = std::move(key);
    }
  }
  auto result = co_await writer->commit(envelope);
  if (result.error) {
    spdlog::error("qid={} spool commit failed: {}", writer->id(), result.error.message());
    if (!claimed.empty()) co_await dedup_.cache->erase(claimed);
    outcome.reply = spool_failure_reply(result.error);
    co_return outcome;
  }
  outcome.ok = true;
  outcome.queue_id = result.id;
  co_return outcome;
}

}  // namespace smarthost::app
