// Helpers for driving an upstream Transport in tests: smtp upstream configs, queued message files (with a prefix
// before content_offset, as the spool has), and running a coroutine to completion on a private io_context.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "conf/config.h"
#include "upstream/transport.h"

namespace smarthost::test {

inline conf::Upstream smtp_upstream(uint16_t port, const std::string& host = "127.0.0.1") {
  conf::Upstream u;
  u.name = "smtp0";
  u.provider = conf::ProviderKind::smtp;
  conf::SmtpConfig smtp;
  smtp.host = host;
  smtp.port = port;
  smtp.timeout = std::chrono::seconds(5);
  smtp.local_hostname = "relay.test";
  u.config = smtp;
  return u;
}

inline conf::SmtpConfig& smtp_of(conf::Upstream& u) { return std::get<conf::SmtpConfig>(u.config); }

// Writes `content` after a junk prefix (the spool's envelope record stands there) and describes it.
inline upstream::OutboundMessage queued_message(const std::filesystem::path& dir, const std::string& id,
                                                const std::string& content, const std::string& from,
                                                const std::vector<std::string>& rcpts,
                                                mail::BodyType body = mail::BodyType::seven_bit) {
  const std::string prefix = "X-Spool-Record: not part of the message\r\n";
  std::filesystem::create_directories(dir);
  auto path = dir / (id + ".msg");
  std::ofstream(path, std::ios::binary) << prefix << content;
  upstream::OutboundMessage m;
  m.queue_id = id;
  m.envelope.mail_from = from;
  for (const auto& r : rcpts) {
    mail::Recipient recipient;
    recipient.address = r;
    m.envelope.recipients.push_back(recipient);
  }
  m.envelope.body = body;
  m.content_path = path.string();
  m.content_offset = prefix.size();
  m.size = content.size();
  return m;
}

// Runs `task` on `io` until it completes (rethrowing what it throws), at most `limit`.
template <typename T>
T run_to_completion(boost::asio::io_context& io, boost::asio::awaitable<T> task,
                    std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  std::optional<T> result;
  std::exception_ptr error;
  bool done = false;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result = std::move(value);
    done = true;
  });
  auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(100));
    if (io.stopped()) io.restart();
  }
  if (!done) throw std::runtime_error("test coroutine did not finish in time");
  io.poll();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

}  // namespace smarthost::test
