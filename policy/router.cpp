// Failover and simple balancing across upstreams; per-recipient results are merged across attempts.
#include "policy/router.h"

#include <spdlog/spdlog.h>

namespace smarthost::policy {

using upstream::Outcome;

Router::Router(conf::Routing routing, std::vector<std::unique_ptr<upstream::Transport>> upstreams)
    : routing_(routing), upstreams_(std::move(upstreams)) {}

boost::asio::awaitable<upstream::DeliveryResult> Router::deliver(const upstream::OutboundMessage& message) {
  upstream::DeliveryResult last;
  last.outcome = Outcome::temporary;
  last.reply = "451 4.4.0 no upstream configured";
  if (upstreams_.empty()) co_return last;
  size_t start = 0;
  bool balanced = routing_ != conf::Routing::single && routing_ != conf::Routing::failover;
  if (balanced) start = next_++ % upstreams_.size();
  for (size_t i = 0; i < upstreams_.size(); ++i) {
    auto& t = *upstreams_[(start + i) % upstreams_.size()];
    last = co_await t.deliver(message);
    if (last.outcome == Outcome::delivered || last.outcome == Outcome::permanent) co_return last;
    if (i + 1 < upstreams_.size()) {
      spdlog::info("qid={} upstream={} {} ({}); trying the next upstream", message.queue_id, t.name(),
                   upstream::to_string(last.outcome), last.reply);
    }
  }
  // Every upstream failed or refused: the message stays queued and is retried later.
  if (last.outcome == Outcome::upstream_refused) last.outcome = Outcome::temporary;
  co_return last;
}

}  // namespace smarthost::policy
