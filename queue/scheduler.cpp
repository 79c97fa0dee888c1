// The delivery loop: one coroutine on a strand waits for the earliest due time (or a wake-up), starts the due
// deliveries within the parallel and batch limits, and each delivery records its results durably.
#include "queue/scheduler.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <set>

#include "mail/dsn.h"
#include "queue/bounce.h"
#include "queue/queue_id.h"
#include "queue/retry_schedule.h"

namespace smarthost::queue {
namespace asio = boost::asio;
using std::chrono::system_clock;
using TimePoint = system_clock::time_point;
using upstream::DeliveryResult;
using upstream::OutboundMessage;
using upstream::Outcome;

namespace {

constexpr size_t kBounceHeaderCap = 64 * 1024;
// The loop re-reads the clock at least this often, so a wall clock set forward or back is noticed.
constexpr std::chrono::nanoseconds kLongestWait = std::chrono::minutes(5);
constexpr std::chrono::nanoseconds kShortestWait = std::chrono::milliseconds(1);
// Attempts whose transport call has ended but whose result is still being recorded (a state write, a bounce, the
// removal of a delivered file). A transport slot is freed before that, so the next delivery need not wait for
// the disk; but when the disk is slower than the upstream (draining a deep queue: unlinks at 0.06-0.3 ms each
// against 10,000 deliveries a second), these would pile up without end, several KiB of memory each. At this many
// no new attempt starts until one is recorded.
constexpr size_t kMaxRecording = 256;

// What an administrator asked for while the message was being delivered.
enum class After { nothing, hold, remove };

struct Entry {
  // Null while the message is out for delivery, or when it is paged out: only on disk, read back for its attempt.
  std::unique_ptr<StoredMessage> message;
  TimePoint due{};
  bool delivering = false;
  After after = After::nothing;
  bool retry_at_once = false;  // a retry or flush came during the attempt: due again as it ends, if deferred
  bool retried = false;        // a retry (not a flush): back from failed/ too, if the attempt failed it
};

// A message taken for an attempt: whole, or its id alone when it was paged out.
struct Taken {
  QueueId id;
  std::unique_ptr<StoredMessage> message;
};

// A delivery to start: one message, or a batch.
struct Work {
  std::vector<Taken> messages;
  bool batch = false;
};

std::string_view default_status(Outcome outcome) {
  switch (outcome) {
    case Outcome::delivered: return "2.0.0";
    case Outcome::permanent: return "5.0.0";
    case Outcome::temporary:
    case Outcome::upstream_refused: return "4.0.0";
  }
  return "4.0.0";
}

// Upstream replies are remote text: keep log lines one line and their quoting intact.
std::string log_text(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 512)) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  }
  return out;
}

DeliveryResult local_failure(std::string_view what) {
  DeliveryResult result;
  result.outcome = Outcome::temporary;
  result.reply = "451 4.3.0 local error: " + std::string(what);
  return result;
}

OutboundMessage make_outbound(const StoredMessage& message) {
  OutboundMessage outbound;
  outbound.queue_id = message.id;
  outbound.envelope = message.envelope;
  auto& recipients = outbound.envelope.recipients;
  recipients.erase(std::remove_if(recipients.begin(), recipients.end(),
                                  [](const mail::Recipient& r) { return r.state != mail::RecipientState::pending; }),
                   recipients.end());
  outbound.content_path = message.content_path;
  outbound.content_offset = message.content_offset;
  outbound.size = message.size;
  outbound.content_file = message.file;
  return outbound;
}

void log_exception(std::exception_ptr error, std::string_view what) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    spdlog::error("queue: {} ended with an exception: {}", what, e.what());
  } catch (...) {
    spdlog::error("queue: {} ended with an unknown exception", what);
  }
}

}  // namespace

struct Scheduler::Core : std::enable_shared_from_this<Core> {
  Core(asio::any_io_executor executor, FsSpool& spool_, upstream::Transport& transport_, SchedulerSettings settings_,
       const Clock& clock_)
      : strand(asio::make_strand(executor)),
        spool(spool_),
        transport(transport_),
        settings(std::move(settings_)),
        clock(clock_),
        timer(strand),
        retry(settings.queue.retry_schedule, settings.retry_jitter, settings.seed) {}

  asio::strand<asio::any_io_executor> strand;
  FsSpool& spool;
  upstream::Transport& transport;
  const SchedulerSettings settings;
  const Clock& clock;
  asio::steady_timer timer;   // strand only
  bool wake_pending = false;  // strand only

  mutable std::mutex mutex;  // guards everything below; never held across co_await
  std::map<QueueId, Entry> entries;
  std::set<std::pair<TimePoint, QueueId>> due;  // entries not being delivered, by due time
  // Of those, the ones whose message is in memory (settings.max_in_memory at most): the latest due leaves first.
  std::set<std::pair<TimePoint, QueueId>> held;
  size_t busy_slots = 0;                        // transport calls running (a batch takes one)
  size_t delivering = 0;                        // messages in an attempt
  size_t recording = 0;                         // of those, the ones whose results are being recorded
  bool started = false;
  bool stopping = false;
  bool loop_running = false;
  std::optional<TimePoint> batch_window;  // when the oldest due message of the next batch became due
  TimePoint next_batch_allowed{};
  RetrySchedule retry;
  SchedulerStats stats;

  void wake() {
    asio::post(strand, [self = shared_from_this()] {
      self->wake_pending = true;
      self->timer.cancel();
    });
  }

  void spawn(asio::awaitable<void> work, std::string_view what) {
    asio::co_spawn(strand, std::move(work),
                   [self = shared_from_this(), what = std::string(what)](std::exception_ptr e) { log_exception(e, what); });
  }

  // Indexes a message due at `due_at`, its envelope kept in memory while there is room. A message only on disk
  // (paged out) is inserted with its id alone.
  void insert_locked(const QueueId& id, std::optional<StoredMessage> message, TimePoint due_at) {
    auto [it, inserted] = entries.try_emplace(id);
    if (!inserted) return;
    it->second.due = due_at;
    due.emplace(due_at, id);
    if (message) keep_locked(id, it->second, std::move(*message));
  }
  void insert_locked(StoredMessage message, TimePoint due_at) {
    QueueId id = message.id;
    insert_locked(id, std::move(message), due_at);
  }

  // Keeps the message of an entry (its due time set) in memory. When memory holds max_in_memory already, the
  // message due last of them and this one stays on disk alone (paged out), to be read back for its attempt: a
  // deep queue of deferred messages makes way for new mail, due now. Its state is on disk (the attempt that
  // deferred it wrote it), unless that write failed: it then has its older state when read back.
  void keep_locked(const QueueId& id, Entry& entry, StoredMessage&& message) {
    if (held.size() >= settings.max_in_memory) {
      if (held.empty()) return;
      auto last = std::prev(held.end());
      if (last->first <= entry.due) return;
      entries.at(last->second).message.reset();
      held.erase(last);
    }
    entry.message = std::make_unique<StoredMessage>(std::move(message));
    held.emplace(entry.due, id);
  }

  // The message of an entry not being delivered, for an administrator's call: read from the spool when paged
  // out. Holds the lock across a file read, which only these rare calls do.
  std::optional<StoredMessage> message_locked(const QueueId& id, const Entry& entry, std::error_code& error) const {
    if (entry.message) return *entry.message;
    return spool.dir().load(Folder::active, id, error);
  }

  void erase_locked(std::map<QueueId, Entry>::iterator it) {
    if (it->second.message) held.erase({it->second.due, it->first});
    if (!it->second.delivering) due.erase({it->second.due, it->first});
    entries.erase(it);
  }

  void reschedule_locked(const QueueId& id, Entry& entry, TimePoint due_at) {
    due.erase({entry.due, id});
    if (entry.message) {
      held.erase({entry.due, id});
      held.emplace(due_at, id);
    }
    entry.due = due_at;
    due.emplace(due_at, id);
  }

  // `id` by value: callers pass the key of `due`'s first element, which the erase below frees.
  Taken take_locked(QueueId id) {
    Entry& entry = entries.at(id);
    due.erase({entry.due, id});
    entry.delivering = true;
    ++delivering;
    ++stats.attempts;
    if (entry.message) held.erase({entry.due, id});
    return Taken{id, std::move(entry.message)};
  }

  // The message of an attempt, read back from active/ when it was paged out. When it cannot be read (removed
  // behind the scheduler's back, or damaged), it leaves the index with an error logged; a restart's scan skips
  // it the same way.
  std::optional<StoredMessage> page_in(Taken& taken) {
    if (taken.message) return std::move(*taken.message);
    std::error_code error;
    auto message = spool.dir().load(Folder::active, taken.id, error);
    {
      std::lock_guard lock(mutex);
      if (message) {
        ++stats.read_back;
        return message;
      }
      --delivering;
      auto it = entries.find(taken.id);
      if (it != entries.end()) erase_locked(it);
    }
    spdlog::error("queue: qid={} cannot be read from {} for its delivery: {}; left out of the queue", taken.id,
                  spool.dir().folder_path(Folder::active).string(), error.message());
    return std::nullopt;
  }

  void on_committed(const StoredMessage& message) {
    {
      std::lock_guard lock(mutex);
      insert_locked(message, clock.now());
    }
    wake();
  }

  // Starts what may start now; returns how long until something may be startable (nullopt: only a wake-up).
  std::optional<std::chrono::nanoseconds> dispatch_locked(TimePoint now, std::vector<Work>& work) {
    const size_t max_parallel = std::max<size_t>(settings.queue.max_parallel_deliveries, 1);
    if (!settings.batch.enabled) {
      while (busy_slots < max_parallel && recording < kMaxRecording && !due.empty() && due.begin()->first <= now) {
        Work one;
        one.messages.push_back(take_locked(due.begin()->second));
        work.push_back(std::move(one));
        ++busy_slots;
      }
      if (due.empty() || busy_slots >= max_parallel || recording >= kMaxRecording) return std::nullopt;
      return due.begin()->first - now;
    }

    const size_t batch_size = std::max<size_t>(settings.batch.batch_size, 1);
    while (true) {
      size_t ready = 0;
      std::optional<TimePoint> next_later;
      for (const auto& [when, id] : due) {
        if (when > now) {
          next_later = when;
          break;
        }
        if (++ready >= batch_size) break;
      }
      if (ready == 0) {
        batch_window.reset();
        if (!next_later) return std::nullopt;
        return *next_later - now;
      }
      if (!batch_window) batch_window = now;
      TimePoint window_end = *batch_window + settings.batch.batch_timeout;
      if (ready < batch_size && now < window_end) {
        TimePoint until = next_later && *next_later < window_end ? *next_later : window_end;
        return until - now;
      }
      if (busy_slots >= max_parallel || recording >= kMaxRecording) return std::nullopt;
      if (now < next_batch_allowed) return next_batch_allowed - now;

      Work batch{{}, true};
      while (batch.messages.size() < ready) batch.messages.push_back(take_locked(due.begin()->second));
      work.push_back(std::move(batch));
      ++busy_slots;
      if (settings.batch.max_batches_per_second > 0) {
        next_batch_allowed =
            now + std::chrono::duration_cast<system_clock::duration>(std::chrono::seconds(1)) /
                      settings.batch.max_batches_per_second;
      }
      // What is still due has waited through this window already: it goes as soon as the rate allows.
      if (due.empty() || due.begin()->first > now) batch_window.reset();
    }
  }

  asio::awaitable<void> run_loop() {
    while (true) {
      std::vector<Work> work;
      std::optional<std::chrono::nanoseconds> wait;
      {
        std::lock_guard lock(mutex);
        if (stopping) break;
        wait = dispatch_locked(clock.now(), work);
      }
      for (auto& item : work) {
        if (item.batch) {
          spawn(deliver_batch(std::move(item.messages)), "batch delivery");
        } else {
          spawn(deliver_one(std::move(item.messages.front())), "delivery");
        }
      }
      if (wake_pending) {
        wake_pending = false;
        continue;
      }
      auto duration = std::clamp(wait.value_or(kLongestWait), kShortestWait, kLongestWait);
      timer.expires_after(duration);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      wake_pending = false;
    }
    std::lock_guard lock(mutex);
    loop_running = false;
  }

  // A delivery ended before its transport call (nothing to send).
  void free_slot() {
    {
      std::lock_guard lock(mutex);
      --busy_slots;
    }
    wake();
  }

  // The transport call of `messages` ended: they go on to have their results recorded.
  void release_slot(size_t messages) {
    {
      std::lock_guard lock(mutex);
      --busy_slots;
      recording += messages;
      ++stats.transport_calls;
    }
    wake();
  }

  asio::awaitable<void> deliver_one(Taken taken) {
    std::optional<StoredMessage> paged = page_in(taken);
    if (!paged) {
      free_slot();
      co_return;
    }
    StoredMessage message = std::move(*paged);
    OutboundMessage outbound = make_outbound(message);
    DeliveryResult result;
    if (!outbound.envelope.recipients.empty()) {
      try {
        result = co_await transport.deliver(outbound);
      } catch (const std::exception& e) {
        result = local_failure(e.what());
      }
    }
    release_slot(1);
    co_await finish(std::move(message), std::move(outbound), std::move(result));
  }

  asio::awaitable<void> deliver_batch(std::vector<Taken> taken) {
    std::vector<StoredMessage> messages;
    messages.reserve(taken.size());
    for (auto& one : taken)
      if (auto message = page_in(one)) messages.push_back(std::move(*message));
    if (messages.empty()) {
      free_slot();
      co_return;
    }
    std::vector<OutboundMessage> outbound;
    outbound.reserve(messages.size());
    for (const auto& message : messages) outbound.push_back(make_outbound(message));
    // Only messages with recipients left go to the upstream (one loaded after a crash may have none).
    std::vector<OutboundMessage> sent;
    std::vector<size_t> sent_index(messages.size(), SIZE_MAX);
    for (size_t i = 0; i < outbound.size(); ++i) {
      if (outbound[i].envelope.recipients.empty()) continue;
      sent_index[i] = sent.size();
      sent.push_back(outbound[i]);
    }
    std::vector<DeliveryResult> results;
    if (!sent.empty()) {
      try {
        results = co_await transport.deliver_batch(sent);
      } catch (const std::exception& e) {
        results.assign(sent.size(), local_failure(e.what()));
      }
    }
    release_slot(messages.size());
    // Each message records its result on its own, so their state writes share one group commit.
    for (size_t i = 0; i < messages.size(); ++i) {
      DeliveryResult result;
      if (sent_index[i] != SIZE_MAX) {
        result = sent_index[i] < results.size() ? std::move(results[sent_index[i]])
                                                : local_failure("no result for this message in the batch");
      }
      spawn(finish(std::move(messages[i]), std::move(outbound[i]), std::move(result)), "delivery result");
    }
  }

  // `upstream` names the upstream that answered, when the transport (a router) says; else the transport's name.
  void log_outcome(const StoredMessage& message, std::string_view recipient, std::string_view status,
                   std::string_view result, std::string_view reply, TimePoint now,
                   std::string_view upstream = {}) const {
    double delay = std::chrono::duration<double>(now - message.envelope.received_at).count();
    spdlog::info("qid={} rcpt={} upstream={} status={} delay={:.2f}s result={} attempts={} reply=\"{}\"", message.id,
                 recipient, upstream.empty() ? std::string_view(transport.name()) : upstream, status, delay, result,
                 message.attempts, log_text(reply));
  }

  // Applies one attempt's results to the message, bounces what failed, and records the new state durably.
  asio::awaitable<void> finish(StoredMessage message, OutboundMessage outbound, DeliveryResult result) {
    const TimePoint now = clock.now();
    const auto& attempted = outbound.envelope.recipients;
    std::vector<Failure> failures;
    std::string temporary_reply;
    uint64_t delivered_count = 0, deferred_count = 0;
    if (!attempted.empty()) ++message.attempts;
    for (size_t i = 0; i < attempted.size(); ++i) {
      upstream::RecipientResult outcome{attempted[i].address, result.outcome, result.reply};
      if (i < result.recipients.size() && result.recipients[i].address == attempted[i].address) {
        outcome = result.recipients[i];
      } else {
        for (const auto& candidate : result.recipients)
          if (candidate.address == attempted[i].address) outcome = candidate;
      }
      if (outcome.reply.empty()) outcome.reply = result.reply;
      auto recipient = std::find_if(message.envelope.recipients.begin(), message.envelope.recipients.end(),
                                    [&](const mail::Recipient& r) {
                                      return r.address == attempted[i].address &&
                                             r.state == mail::RecipientState::pending;
                                    });
      if (recipient == message.envelope.recipients.end()) continue;
      recipient->last_reply = outcome.reply;
      std::string status = mail::enhanced_status(outcome.reply);
      if (status.empty()) status = default_status(outcome.outcome);
      std::string_view verdict = "deferred";
      if (outcome.outcome == Outcome::delivered) {
        recipient->state = mail::RecipientState::delivered;
        verdict = "delivered";
        ++delivered_count;
      } else if (outcome.outcome == Outcome::permanent) {
        recipient->state = mail::RecipientState::failed;
        failures.push_back(Failure{recipient->address, outcome.reply, false,
                                   outcome.upstream.empty() ? transport.name() : outcome.upstream});
        verdict = "failed";
      } else {
        // temporary, and upstream_refused: another upstream (routing above) or a later attempt may take it.
        if (temporary_reply.empty()) temporary_reply = outcome.reply;
        ++deferred_count;
      }
      log_outcome(message, recipient->address, status, verdict, outcome.reply, now, outcome.upstream);
    }

    if (message.has_pending()) {
      if (now - message.envelope.received_at >= settings.queue.max_lifetime) {
        for (auto& recipient : message.envelope.recipients) {
          if (recipient.state != mail::RecipientState::pending) continue;
          recipient.state = mail::RecipientState::failed;
          failures.push_back(Failure{recipient.address, recipient.last_reply, true, transport.name()});
          std::string status = mail::enhanced_status(recipient.last_reply);
          log_outcome(message, recipient.address, status.empty() || status[0] != '4' ? "4.4.7" : status, "expired",
                      recipient.last_reply, now);
        }
        deferred_count = 0;
      } else {
        std::chrono::milliseconds delay;
        {
          std::lock_guard lock(mutex);
          delay = retry.delay_after(std::max<uint32_t>(message.attempts, 1));
        }
        TimePoint next = now + delay;
        if (result.retry_after && *result.retry_after > next) next = *result.retry_after;
        TimePoint deadline = message.envelope.received_at + settings.queue.max_lifetime;
        if (next > deadline) next = std::max(deadline, now);
        message.next_attempt = next;
        if (!temporary_reply.empty()) message.last_error = temporary_reply;
      }
    }

    bool bounce_lost = false;
    uint64_t bounces = 0;
    if (!failures.empty() && settings.queue.bounce && !message.envelope.mail_from.empty()) {
      if (co_await queue_bounce(message, failures, now)) {
        bounces = 1;
      } else {
        bounce_lost = true;  // keep the message in failed/ so the failure is not lost
      }
    }

    enum class Disposition { stay_active, hold, fail, remove } disposition;
    After after;
    {
      std::lock_guard lock(mutex);
      auto it = entries.find(message.id);
      after = it != entries.end() ? it->second.after : After::nothing;
      stats.delivered += delivered_count;
      stats.deferred += deferred_count;
      stats.failed += failures.size();
      stats.bounces += bounces;
    }
    if (after == After::remove) {
      disposition = Disposition::remove;
    } else if (bounce_lost) {
      disposition = Disposition::fail;
    } else if (message.has_pending()) {
      disposition = after == After::hold ? Disposition::hold : Disposition::stay_active;
    } else if (message.has_failed() && (!settings.queue.bounce || message.envelope.mail_from.empty())) {
      disposition = Disposition::fail;  // bounces are off, or the sender is <> (never a bounce of a bounce)
    } else {
      disposition = Disposition::remove;  // delivered, or its failures were bounced
    }

    std::error_code error;
    SpoolChange change;
    // A message that stays queued (retry, hold, failed) lets go of its open file: the spool's budget of open files
    // is for messages on their way through (mail/content_file.h).
    if (disposition != Disposition::remove) message.file.reset();
    switch (disposition) {
      case Disposition::stay_active:
        change = spool.dir().state_change(message, error);
        message.state_file = true;  // written, or perhaps half: either way its removal must look for it
        break;
      case Disposition::hold: change = spool.dir().move_change(message, Folder::hold, error); break;
      case Disposition::fail: change = spool.dir().move_change(message, Folder::failed, error); break;
      case Disposition::remove:
        // Delivered or bounced: a crash that undoes the removal means one more delivery, never a loss.
        change = spool.dir().removal_change(message, false);
        break;
    }
    if (!error) error = co_await spool.apply(std::move(change));
    const bool recorded = !error;
    if (error) {
      spdlog::error("queue: qid={} could not record its delivery attempt: {}", message.id, error.message());
    } else if (disposition == Disposition::fail) {
      spdlog::warn("queue: qid={} moved to failed/ ({})", message.id,
                   bounce_lost ? "its bounce could not be queued"
                               : (message.envelope.mail_from.empty() ? "undeliverable and from <>, no bounce"
                                                                     : "bounces are disabled"));
    }

    {
      std::lock_guard lock(mutex);
      --delivering;
      --recording;
      auto it = entries.find(message.id);
      if (it != entries.end()) {
        // A hold or delete asked for while the attempt was being recorded (after `after` was read) is done now;
        // the caller was told it would be.
        After late = it->second.after;
        bool remove_late = late == After::remove && disposition != Disposition::remove;
        bool hold_late = late == After::hold && disposition == Disposition::stay_active;
        if (recorded && (remove_late || hold_late)) {
          error = remove_late ? remove_on_disk(spool.dir(), message) : hold_on_disk(spool.dir(), message);
          if (error && error != std::errc::no_such_file_or_directory) {
            spdlog::error("queue: qid={} could not be {} as asked: {}", message.id, remove_late ? "deleted" : "held",
                          error.message());
          } else {
            disposition = remove_late ? Disposition::remove : Disposition::hold;
          }
        } else if (recorded && disposition == Disposition::fail && it->second.retried) {
          // Retried during the attempt that failed it: back to active/, as a retry a moment later would do.
          if ((error = retry_on_disk(spool.dir(), message, clock.now()))) {
            spdlog::error("queue: qid={} could not be retried as asked: {}", message.id, error.message());
          } else {
            disposition = Disposition::stay_active;
          }
        }
        if (disposition == Disposition::stay_active) {
          // Even when the state write failed: the retry time in memory still holds for this run (unless the
          // message is paged out; read back, it then has the state on disk).
          it->second.delivering = false;
          it->second.after = After::nothing;
          if (std::exchange(it->second.retry_at_once, false)) message.next_attempt = clock.now();
          it->second.retried = false;
          it->second.due = message.next_attempt;
          due.emplace(it->second.due, it->first);
          keep_locked(it->first, it->second, std::move(message));
        } else {
          entries.erase(it);
        }
      }
    }
    wake();
  }

  // Spools the bounce for `failures`; false when it could not be made durable.
  asio::awaitable<bool> queue_bounce(const StoredMessage& message, const std::vector<Failure>& failures,
                                     TimePoint now) {
    std::error_code error;
    std::string headers = spool.dir().read_headers(message, kBounceHeaderCap, error);
    if (error) headers.clear();  // bounce anyway, without the original headers
    Bounce bounce = make_bounce(message, headers, failures, settings.hostname, now);
    auto writer = spool.begin(error);
    if (!writer) {
      spdlog::error("queue: qid={} bounce not queued: {}", message.id, error.message());
      co_return false;
    }
    writer->append(bounce.content);
    CommitResult committed = co_await writer->commit(bounce.envelope);
    if (committed.error) {
      spdlog::error("queue: qid={} bounce not queued: {}", message.id, committed.error.message());
      co_return false;
    }
    spdlog::info("queue: qid={} bounce qid={} to=<{}> recipients={}", message.id, committed.id,
                 log_text(message.envelope.mail_from), failures.size());
    co_return true;
  }

  // Finds a message for an admin command: validates the id first, then looks in every folder.
  std::optional<StoredMessage> find_on_disk(const QueueId& id, std::error_code& error) const {
    if (!is_queue_id(id)) {
      error = std::make_error_code(std::errc::invalid_argument);
      return std::nullopt;
    }
    return spool.dir().find(id, error);
  }
};

Scheduler::Scheduler(asio::any_io_executor executor, FsSpool& spool, upstream::Transport& transport,
                     SchedulerSettings settings, const Clock& clock)
    : core_(std::make_shared<Core>(std::move(executor), spool, transport, std::move(settings), clock)) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
  {
    std::lock_guard lock(core_->mutex);
    if (core_->started) return;
    core_->started = true;
    core_->loop_running = true;
  }
  std::weak_ptr<Core> weak = core_;
  core_->spool.set_commit_listener([weak](const StoredMessage& message) {
    if (auto core = weak.lock()) core->on_committed(message);
  });
  // The oldest max_in_memory messages are read now; the rest are indexed by id and read when their turn comes.
  std::error_code error;
  const SpoolDir& dir = core_->spool.dir();
  std::vector<QueueId> ids = dir.ids(Folder::active, error);
  if (error) spdlog::error("queue: cannot read {}: {}", dir.folder_path(Folder::active).string(), error.message());
  size_t loaded = 0;
  for (const auto& id : ids) {
    std::optional<StoredMessage> message;
    if (loaded < core_->settings.max_in_memory) {
      std::error_code load_error;
      message = dir.load(Folder::active, id, load_error);
      if (!message) {
        if (load_error != std::errc::no_such_file_or_directory)
          spdlog::warn("spool: skipping active/{}: {}", id, load_error.message());
        continue;
      }
    }
    ++loaded;
    std::lock_guard lock(core_->mutex);
    core_->insert_locked(id, std::move(message), core_->clock.now());
  }
  if (loaded > 0) {
    size_t paged = loaded - std::min(loaded, core_->settings.max_in_memory);
    if (paged == 0) {
      spdlog::info("queue: {} queued message(s) loaded, all due now", loaded);
    } else {
      spdlog::info("queue: {} queued message(s) loaded, all due now ({} read when their turn comes)", loaded, paged);
    }
  }
  core_->spawn(core_->run_loop(), "delivery loop");
}

void Scheduler::stop() {
  {
    std::lock_guard lock(core_->mutex);
    if (core_->stopping) return;
    core_->stopping = true;
  }
  core_->spool.set_commit_listener(nullptr);
  core_->wake();
}

bool Scheduler::stopped() const {
  std::lock_guard lock(core_->mutex);
  return !core_->loop_running && core_->delivering == 0 && core_->busy_slots == 0;
}

void Scheduler::wake() { core_->wake(); }

EntryCursor Scheduler::list() const { return EntryCursor(core_->spool.dir(), core_->clock.now()); }

QueueTally Scheduler::tally(std::error_code& error) const {
  return tally_messages(core_->spool.dir(), core_->clock.now(), error);
}

std::optional<MessageDetails> Scheduler::show(const QueueId& id, std::error_code& error) const {
  if (!is_queue_id(id)) {
    error = std::make_error_code(std::errc::invalid_argument);
    return std::nullopt;
  }
  return show_message(core_->spool.dir(), id, core_->clock.now(), error);
}

std::error_code Scheduler::retry(const QueueId& id) {
  std::error_code error;
  {
    std::lock_guard lock(core_->mutex);
    TimePoint now = core_->clock.now();
    auto it = core_->entries.find(id);
    if (it != core_->entries.end()) {
      if (it->second.delivering) {
        it->second.retry_at_once = it->second.retried = true;
      } else {
        core_->reschedule_locked(id, it->second, now);
      }
    } else {
      auto message = core_->find_on_disk(id, error);
      if (!message) return error;
      if (message->folder != Folder::active || message->has_failed()) {
        if ((error = retry_on_disk(core_->spool.dir(), *message, now))) return error;
      }
      core_->insert_locked(std::move(*message), now);
    }
  }
  core_->transport.retry_now();  // "now" means now, not after an open circuit's recovery timeout
  core_->wake();
  return {};
}

std::error_code Scheduler::retry_all() {
  {
    std::lock_guard lock(core_->mutex);
    std::error_code error;
    TimePoint now = core_->clock.now();
    for (auto& message : core_->spool.dir().scan(Folder::failed, error)) {
      if (auto retry_error = retry_on_disk(core_->spool.dir(), message, now)) return retry_error;
      core_->insert_locked(std::move(message), now);
    }
    if (error) return error;
  }
  flush();
  return {};
}

std::error_code Scheduler::remove(const QueueId& id) {
  std::lock_guard lock(core_->mutex);
  std::error_code error;
  auto it = core_->entries.find(id);
  if (it != core_->entries.end()) {
    if (it->second.delivering) {
      it->second.after = After::remove;
      return {};
    }
    auto message = core_->message_locked(id, it->second, error);
    if (message) error = remove_on_disk(core_->spool.dir(), *message);
    if (!error || error == std::errc::no_such_file_or_directory) core_->erase_locked(it);
    return error;
  }
  auto message = core_->find_on_disk(id, error);
  if (!message) return error;
  return remove_on_disk(core_->spool.dir(), *message);
}

std::error_code Scheduler::remove_failed() {
  std::lock_guard lock(core_->mutex);
  std::error_code error;
  for (const auto& message : core_->spool.dir().scan(Folder::failed, error)) {
    if (auto remove_error = remove_on_disk(core_->spool.dir(), message)) return remove_error;
  }
  return error;
}

void Scheduler::flush() {
  {
    std::lock_guard lock(core_->mutex);
    TimePoint now = core_->clock.now();
    for (auto& [id, entry] : core_->entries) {
      if (entry.delivering) {
        entry.retry_at_once = true;
      } else {
        core_->reschedule_locked(id, entry, now);
      }
    }
  }
  core_->transport.retry_now();
  core_->wake();
}

std::error_code Scheduler::hold(const QueueId& id) {
  std::lock_guard lock(core_->mutex);
  auto it = core_->entries.find(id);
  if (it != core_->entries.end()) {
    if (it->second.delivering) {
      it->second.after = After::hold;
      return {};
    }
    std::error_code error;
    auto message = core_->message_locked(id, it->second, error);
    if (message) error = hold_on_disk(core_->spool.dir(), *message);
    if (!error || error == std::errc::no_such_file_or_directory) core_->erase_locked(it);
    return error;
  }
  std::error_code error;
  auto message = core_->find_on_disk(id, error);
  if (!message) return error;
  return hold_on_disk(core_->spool.dir(), *message);
}

std::error_code Scheduler::release(const QueueId& id) {
  std::error_code error;
  {
    std::lock_guard lock(core_->mutex);
    if (core_->entries.count(id)) return std::make_error_code(std::errc::invalid_argument);  // not held
    auto message = core_->find_on_disk(id, error);
    if (!message) return error;
    TimePoint now = core_->clock.now();
    if ((error = release_on_disk(core_->spool.dir(), *message, now))) return error;
    core_->insert_locked(std::move(*message), now);
  }
  core_->wake();
  return {};
}

size_t Scheduler::queued() const {
  std::lock_guard lock(core_->mutex);
  return core_->entries.size();
}

size_t Scheduler::in_memory() const {
  std::lock_guard lock(core_->mutex);
  return core_->held.size();
}

size_t Scheduler::delivering() const {
  std::lock_guard lock(core_->mutex);
  return core_->delivering;
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(core_->mutex);
  return core_->stats;
}

}  // namespace smarthost::queue
