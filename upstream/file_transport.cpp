// File delivery: copies the spooled message out and writes a JSON sidecar with the envelope. The blocking file
// work runs on a small worker pool so the event loop never waits for fsync.
#include "upstream/file_transport.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

namespace smarthost::upstream {
namespace {

boost::asio::thread_pool& file_workers() {
  static boost::asio::thread_pool pool(2);
  return pool;
}

// Writes `data` (or, when `src_fd` >= 0, `size` bytes from src_fd at `offset`) to path atomically.
std::error_code write_atomically(const std::filesystem::path& path, std::string_view data, int src_fd = -1,
                                 uint64_t offset = 0, uint64_t size = 0) {
  auto tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return {errno, std::generic_category()};
  auto fail = [&](int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return std::error_code(err, std::generic_category());
  };
  if (src_fd >= 0) {
    char buf[65536];
    uint64_t left = size;
    off_t pos = static_cast<off_t>(offset);
    while (left > 0) {
      ssize_t r = ::pread(src_fd, buf, std::min<uint64_t>(left, sizeof buf), pos);
      if (r <= 0) return fail(r < 0 ? errno : EIO);
      for (ssize_t done = 0; done < r;) {
        ssize_t w = ::write(fd, buf + done, static_cast<size_t>(r - done));
        if (w < 0) return fail(errno);
        done += w;
      }
      pos += r;
      left -= static_cast<uint64_t>(r);
    }
  } else {
    for (size_t done = 0; done < data.size();) {
      ssize_t w = ::write(fd, data.data() + done, data.size() - done);
      if (w < 0) return fail(errno);
      done += static_cast<size_t>(w);
    }
  }
  if (::fsync(fd) != 0) return fail(errno);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return {err, std::generic_category()};
  }
  return {};
}

std::string envelope_json(const OutboundMessage& m) {
  boost::json::object o;
  o["id"] = m.queue_id;
  o["mail_from"] = m.envelope.mail_from;
  boost::json::array rcpts;
  for (const auto& r : m.envelope.recipients) rcpts.emplace_back(r.address);
  o["recipients"] = std::move(rcpts);
  o["size"] = m.size;
  o["client_address"] = m.envelope.client_address;
  o["client_helo"] = m.envelope.client_helo;
  o["auth_user"] = m.envelope.auth_user;
  o["body"] = m.envelope.body == mail::BodyType::eight_bit_mime ? "8BITMIME" : "7BIT";
  o["smtputf8"] = m.envelope.smtputf8;
  o["received_at"] =
      std::chrono::duration_cast<std::chrono::seconds>(m.envelope.received_at.time_since_epoch()).count();
  return boost::json::serialize(o) + "\n";
}

}  // namespace

FileTransport::FileTransport(std::string name, conf::FileConfig config)
    : name_(std::move(name)), config_(std::move(config)) {}

DeliveryResult FileTransport::write_files(const OutboundMessage& m) const {
  DeliveryResult result;
  auto fail = [&](const std::string& what, std::error_code ec) {
    result.outcome = Outcome::temporary;
    result.reply = "451 4.3.0 file delivery: " + what + ": " + ec.message();
    for (const auto& r : m.envelope.recipients) result.recipients.push_back({r.address, Outcome::temporary, result.reply});
    return result;
  };
  std::filesystem::path dir = config_.dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail("cannot create " + dir.string(), ec);
  int src = ::open(m.content_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) return fail("cannot open " + m.content_path, {errno, std::generic_category()});
  ec = write_atomically(dir / (m.queue_id + ".eml"), {}, src, m.content_offset, m.size);
  ::close(src);
  if (ec) return fail("cannot write " + m.queue_id + ".eml", ec);
  ec = write_atomically(dir / (m.queue_id + ".json"), envelope_json(m));
  if (ec) return fail("cannot write " + m.queue_id + ".json", ec);
  // Make the two new names durable.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  result.outcome = Outcome::delivered;
  result.reply = "250 2.0.0 written to " + (dir / (m.queue_id + ".eml")).string();
  result.remote_id = m.queue_id;
  for (const auto& r : m.envelope.recipients) result.recipients.push_back({r.address, Outcome::delivered, result.reply});
  return result;
}

boost::asio::awaitable<DeliveryResult> FileTransport::write_on_worker(OutboundMessage message) const {
  co_return write_files(message);
}

boost::asio::awaitable<DeliveryResult> FileTransport::deliver(const OutboundMessage& message) {
  // A coroutine function, not a lambda: GCC 12 destroys lambda captures of co_spawn'ed coroutines twice.
  DeliveryResult result =
      co_await boost::asio::co_spawn(file_workers(), write_on_worker(message), boost::asio::use_awaitable);
  co_return result;
}

}  // namespace smarthost::upstream
