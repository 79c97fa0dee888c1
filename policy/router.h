// Routes each message to an upstream: the primary first, then the fallbacks in order (failover), or across
// balanced members. A Transport itself, so the scheduler sees one delivery interface.
// A permanent refusal of the message stops here; a temporary failure or an upstream's own refusal moves on.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "upstream/transport.h"

namespace smarthost::policy {

class Router final : public upstream::Transport {
 public:
  Router(conf::Routing routing, std::vector<std::unique_ptr<upstream::Transport>> upstreams);
  boost::asio::awaitable<upstream::DeliveryResult> deliver(const upstream::OutboundMessage& message) override;
  const std::string& name() const override { return name_; }
  size_t size() const { return upstreams_.size(); }

 private:
  conf::Routing routing_;
  std::vector<std::unique_ptr<upstream::Transport>> upstreams_;
  std::string name_ = "router";
  size_t next_ = 0;  // round-robin start for balanced routing
};

}  // namespace smarthost::policy
