// The `file` provider: writes each message as <id>.eml plus its envelope as <id>.json into a directory,
// atomically (temporary name, fsync, rename). The development default; no network.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <string>

#include "conf/config.h"
#include "upstream/transport.h"

namespace smarthost::upstream {

class FileTransport final : public Transport {
 public:
  FileTransport(std::string name, conf::FileConfig config);
  boost::asio::awaitable<DeliveryResult> deliver(const OutboundMessage& message) override;
  const std::string& name() const override { return name_; }

 private:
  DeliveryResult write_files(const OutboundMessage& message) const;
  boost::asio::awaitable<DeliveryResult> write_on_worker(OutboundMessage message) const;
  std::string name_;
  conf::FileConfig config_;
};

}  // namespace smarthost::upstream
