// The delivery scheduler: an in-memory index of the active spool by next-attempt time that hands due messages
// to the upstream Transport (one by one or in batches), records per-recipient results, retries temporary
// failures on queue.retry_schedule, bounces permanent failures and expired messages, and serves queue
// administration while running. It keeps at most max_in_memory envelopes in memory; the rest of a deep queue is
// indexed by id and due time alone and read back from the spool when its turn comes. It never speaks a protocol:
// that is the Transport's job.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "conf/config.h"
#include "queue/clock.h"
#include "queue/fs_spool.h"
#include "queue/queue_admin.h"
#include "upstream/transport.h"

namespace smarthost::queue {

struct SchedulerSettings {
  conf::QueueConfig queue;
  conf::BatchProcessingConfig batch;
  std::string hostname = "localhost";  // Reporting-MTA and MAILER-DAEMON@ domain of bounces
  double retry_jitter = 0.1;           // each retry delay is spread over +-10%
  uint64_t seed = 0;                   // for the jitter; 0 seeds from the system
  // Active messages whose envelope and state stay in memory (about 0.9 KiB each). Beyond this a queued message
  // costs about 0.2 KiB (its id and due time) and its record is read from the spool for each attempt, as
  // Postfix's qmgr_message_active_limit keeps the rest of its queue on disk.
  size_t max_in_memory = 10000;
};

// Counters since start, for metrics and tests.
struct SchedulerStats {
  uint64_t attempts = 0;            // messages handed to the transport
  uint64_t transport_calls = 0;     // deliver() and deliver_batch() calls
  uint64_t delivered = 0;           // recipients
  uint64_t deferred = 0;            // recipients
  uint64_t failed = 0;              // recipients (permanent or expired)
  uint64_t bounces = 0;             // bounce messages queued
  uint64_t read_back = 0;           // attempts whose message was read from the spool (beyond max_in_memory)
};

class Scheduler {
 public:
  // The spool, the transport and the clock must outlive every run of the executor's context.
  Scheduler(boost::asio::any_io_executor executor, FsSpool& spool, upstream::Transport& transport,
            SchedulerSettings settings, const Clock& clock);
  ~Scheduler();  // stop(); deliveries still running keep the internals alive until they finish

  // Loads every active message as due now, listens for new commits and starts the delivery loop.
  void start();
  // Starts no more deliveries; those running finish and record their results. stopped() turns true after.
  void stop();
  bool stopped() const;
  // Makes the loop look at the index again now: after a test clock moved, say. Commits and admin calls wake
  // it by themselves. Thread-safe.
  void wake();

  // Queue administration, callable from any thread. A message being delivered is held or removed as soon as
  // its attempt ends (the call returns at once and reports success). Retried or flushed during an attempt, it is
  // due again at once if the attempt defers; retried, it also comes back from failed/ if the attempt fails it.
  // retry and flush also close the upstreams' open circuits (Transport::retry_now): the administrator says the
  // upstream is worth trying now.
  EntryCursor list() const;  // every message, read a batch at a time: a queue of any depth
  QueueTally tally(std::error_code& error) const;  // counts from disk, in constant memory (metrics)
  std::optional<MessageDetails> show(const QueueId& id, std::error_code& error) const;
  std::error_code retry(const QueueId& id);  // due now; a failed or held message goes back to active
  std::error_code retry_all();                // every failed message back to active, then flush()
  std::error_code remove(const QueueId& id);
  std::error_code remove_failed();
  void flush();  // every active message due now
  std::error_code hold(const QueueId& id);
  std::error_code release(const QueueId& id);

  size_t queued() const;     // active messages in the index (delivering ones included)
  size_t in_memory() const;  // of those, the ones whose envelope is held in memory (not counting deliveries)
  size_t delivering() const;  // messages in an attempt right now
  SchedulerStats stats() const;

 private:
  struct Core;
  std::shared_ptr<Core> core_;
};

}  // namespace smarthost::queue
