// [test_mode] as a Transport decorator in front of the router: `test_email` sends every message to that one
// address instead of its recipients (named in an X-Original-To header), `skip_delivery` marks messages delivered
// without sending, `log_only` logs a one-line summary instead of sending. It never touches the spool file.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "conf/config.h"
#include "upstream/transport.h"

namespace smarthost::policy {

class TestModeTransport final : public upstream::Transport {
 public:
  // `scratch_dir` holds the rewritten copies (X-Original-To prepended) while they are being sent; each copy is
  // removed when its delivery ends. `inner` must outlive this object.
  TestModeTransport(conf::TestModeConfig config, upstream::Transport& inner, std::filesystem::path scratch_dir);

  // skip_delivery / log_only: every recipient "delivered" at once. test_email: the inner transport gets one
  // recipient (test_email) and a copy of the message with "X-Original-To: <the recipients>" in front; its
  // answer for that recipient becomes the answer for every original recipient.
  boost::asio::awaitable<upstream::DeliveryResult> deliver(const upstream::OutboundMessage& message) override;
  const std::string& name() const override { return inner_.name(); }

  // The header line that carries the original recipients (folded at 78 octets, CRLF-terminated).
  static std::string original_to_header(const mail::Envelope& envelope);

 private:
  conf::TestModeConfig config_;
  upstream::Transport& inner_;
  std::filesystem::path scratch_dir_;
};

}  // namespace smarthost::policy
