// sendmail's fallback: opens the spool directly (taking its lock, so only when no relay runs), writes the message
// with a Received: header naming the local user, and commits it through the same group commit as the server.
#include "app/offline_spool.h"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <ctime>
#include <filesystem>

#include "queue/fs_spool.h"

namespace smarthost::app {
namespace {

boost::asio::awaitable<queue::CommitResult> commit(queue::SpoolWriter& writer, mail::Envelope envelope) {
  co_return co_await writer.commit(envelope);
}

}  // namespace

OfflineResult spool_offline(const conf::Config& config, const std::string& sender,
                            const std::vector<std::string>& recipients, const std::string& content) {
  OfflineResult result;
  std::error_code ec;
  std::filesystem::create_directories(config.queue.dir, ec);
  auto spool = queue::FsSpool::open(config.queue.dir, {}, ec);
  if (!spool) {
    result.error = "cannot open the queue in " + config.queue.dir + ": " + ec.message();
    return result;
  }
  auto writer = spool->begin(ec);
  if (!writer) {
    result.error = "cannot start a queue file: " + ec.message();
    return result;
  }
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
  writer->append("Received: by " + (config.server.hostname.empty() ? std::string(host) : config.server.hostname) +
                 " (smarthost sendmail, uid " + std::to_string(::getuid()) + ")\r\n\tid " + writer->id() + "; " +
                 date + "\r\n");
  writer->append(content);

  mail::Envelope envelope;
  envelope.mail_from = sender;
  for (const auto& r : recipients) envelope.recipients.push_back({r, mail::RecipientState::pending, {}});
  envelope.client_address = "local";
  envelope.received_at = std::chrono::system_clock::now();
  for (unsigned char c : content) {
    if (c >= 0x80) {
      envelope.body = mail::BodyType::eight_bit_mime;
      break;
    }
  }

  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, commit(*writer, envelope), boost::asio::use_future);
  io.run();
  auto commit = future.get();
  if (commit.error) {
    result.error = "cannot commit the queue file: " + commit.error.message();
    return result;
  }
  result.ok = true;
  result.id = commit.id;
  return result;
}

}  // namespace smarthost::app
