// Test mode: the copy with X-Original-To is written on a small worker pool (blocking file I/O stays off the event
// loop), handed to the inner transport, and removed afterwards.
#include "policy/test_mode_transport.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <strings.h>

#include <cerrno>
#include <optional>

namespace smarthost::policy {
namespace {

using upstream::DeliveryResult;
using upstream::Outcome;
using upstream::OutboundMessage;

constexpr size_t kSummaryHeaderBytes = 16 * 1024;  // read for the Subject of a log_only summary

boost::asio::thread_pool& file_workers() {
  static boost::asio::thread_pool pool(1);
  return pool;
}

std::string recipients_text(const mail::Envelope& e) {
  std::string out;
  for (const auto& r : e.recipients) out += (out.empty() ? "<" : ",<") + r.address + ">";
  return out;
}

// The unfolded Subject from the start of the message (empty when there is none in the first 16 KB).
std::string subject_of(const OutboundMessage& m) {
  int fd = ::open(m.content_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string head(std::min<uint64_t>(m.size, kSummaryHeaderBytes), '\0');
  ssize_t got = ::pread(fd, head.data(), head.size(), static_cast<off_t>(m.content_offset));
  ::close(fd);
  head.resize(got > 0 ? static_cast<size_t>(got) : 0);
  auto end = head.find("\r\n\r\n");
  if (end != std::string::npos) head.resize(end + 2);
  for (size_t pos = 0; pos < head.size();) {
    size_t eol = head.find("\r\n", pos);
    if (eol == std::string::npos) eol = head.size();
    std::string_view line(head.data() + pos, eol - pos);
    if (line.size() >= 8 && strncasecmp(line.data(), "subject:", 8) == 0) {
      std::string value(line.substr(8));
      // Continuation lines start with white space.
      for (size_t next = eol + 2; next < head.size() && (head[next] == ' ' || head[next] == '\t');) {
        size_t e2 = head.find("\r\n", next);
        if (e2 == std::string::npos) e2 = head.size();
        value += head.substr(next, e2 - next);
        next = e2 + 2;
      }
      size_t first = value.find_first_not_of(" \t");
      value = first == std::string::npos ? "" : value.substr(first);
      if (value.size() > 200) value = value.substr(0, 200) + "...";
      return value;
    }
    pos = eol + 2;
  }
  return {};
}

// Writes header + the message to `path`; an error code on failure (the file is then removed).
std::error_code write_copy(const std::filesystem::path& path, const std::string& header, const OutboundMessage& m) {
  int src = ::open(m.content_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) return {errno, std::generic_category()};
  int dst = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (dst < 0) {
    int err = errno;
    ::close(src);
    return {err, std::generic_category()};
  }
  auto fail = [&](int err) {
    ::close(src);
    ::close(dst);
    ::unlink(path.c_str());
    return std::error_code(err, std::generic_category());
  };
  auto write_all = [&](const char* data, size_t size) {
    for (size_t done = 0; done < size;) {
      ssize_t w = ::write(dst, data + done, size - done);
      if (w < 0) return errno;
      done += static_cast<size_t>(w);
    }
    return 0;
  };
  if (int err = write_all(header.data(), header.size())) return fail(err);
  char buf[65536];
  uint64_t left = m.size;
  off_t pos = static_cast<off_t>(m.content_offset);
  while (left > 0) {
    ssize_t r = ::pread(src, buf, std::min<uint64_t>(left, sizeof buf), pos);
    if (r <= 0) return fail(r < 0 ? errno : EIO);
    if (int err = write_all(buf, static_cast<size_t>(r))) return fail(err);
    pos += r;
    left -= static_cast<uint64_t>(r);
  }
  ::close(src);
  ::close(dst);
  return {};
}

DeliveryResult all_delivered(const OutboundMessage& m, const std::string& reply) {
  DeliveryResult r;
  r.outcome = Outcome::delivered;
  r.reply = reply;
  for (const auto& rcpt : m.envelope.recipients) r.recipients.push_back({rcpt.address, Outcome::delivered, reply});
  return r;
}

// Runs f() on the worker pool. The coroutine lambda is a named local: GCC 12 may destroy a lambda temporary
// inside a co_await expression twice.
template <typename F>
auto on_workers(F f) -> boost::asio::awaitable<decltype(f())> {
  auto work = [f = std::move(f)]() -> boost::asio::awaitable<decltype(f())> { co_return f(); };
  co_return co_await boost::asio::co_spawn(file_workers(), std::move(work), boost::asio::use_awaitable);
}

}  // namespace

TestModeTransport::TestModeTransport(conf::TestModeConfig config, upstream::Transport& inner,
                                     std::filesystem::path scratch_dir)
    : config_(std::move(config)), inner_(inner), scratch_dir_(std::move(scratch_dir)) {}

std::string TestModeTransport::original_to_header(const mail::Envelope& envelope) {
  std::string out = "X-Original-To:";
  size_t line = out.size();
  for (size_t i = 0; i < envelope.recipients.size(); ++i) {
    std::string item = " " + envelope.recipients[i].address + (i + 1 < envelope.recipients.size() ? "," : "");
    if (line + item.size() > 78 && line > 14) {
      out += "\r\n";
      line = 0;
    }
    out += item;
    line += item.size();
  }
  return out + "\r\n";
}

boost::asio::awaitable<DeliveryResult> TestModeTransport::deliver(const OutboundMessage& message) {
  if (config_.skip_delivery || config_.log_only) {
    if (config_.log_only) {
      std::string subject = co_await on_workers([&message] { return subject_of(message); });
      spdlog::info("test mode (log only): qid={} from=<{}> rcpt={} size={} subject=\"{}\"", message.queue_id,
                   message.envelope.mail_from, recipients_text(message.envelope), message.size, subject);
      co_return all_delivered(message, "250 2.0.0 test mode: logged, not sent");
    }
    spdlog::info("test mode (skip delivery): qid={} rcpt={} marked delivered without sending", message.queue_id,
                 recipients_text(message.envelope));
    co_return all_delivered(message, "250 2.0.0 test mode: delivery skipped");
  }
  if (config_.test_email.empty()) co_return co_await inner_.deliver(message);

  static std::atomic<uint64_t> counter{0};
  auto path = scratch_dir_ / (message.queue_id + "-" + std::to_string(counter++) + ".eml");
  const std::string header = original_to_header(message.envelope);
  std::error_code error = co_await on_workers([&] {
    std::error_code ec;
    std::filesystem::create_directories(scratch_dir_, ec);
    return ec ? ec : write_copy(path, header, message);
  });
  DeliveryResult result;
  if (error) {
    result.outcome = Outcome::temporary;
    result.reply = "451 4.3.0 test mode: cannot write the redirected copy: " + error.message();
    for (const auto& r : message.envelope.recipients) result.recipients.push_back({r.address, Outcome::temporary, result.reply});
    co_return result;
  }
  OutboundMessage redirected = message;
  redirected.envelope.recipients = {mail::Recipient{config_.test_email, mail::RecipientState::pending, {}}};
  redirected.content_path = path.string();
  redirected.content_offset = 0;
  redirected.size = header.size() + message.size;
  spdlog::info("test mode: qid={} rcpt={} redirected to <{}>", message.queue_id, recipients_text(message.envelope),
               config_.test_email);
  try {
    result = co_await inner_.deliver(redirected);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    throw;
  }
  std::error_code ignored;
  std::filesystem::remove(path, ignored);

  // The one redirected recipient's answer stands for every original recipient.
  upstream::RecipientResult answer{config_.test_email, result.outcome, result.reply};
  if (!result.recipients.empty()) answer = result.recipients.front();
  if (answer.reply.empty()) answer.reply = result.reply;
  result.recipients.clear();
  for (const auto& r : message.envelope.recipients) result.recipients.push_back({r.address, answer.outcome, answer.reply});
  co_return result;
}

}  // namespace smarthost::policy
