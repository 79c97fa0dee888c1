// Shared parts of the Transport interface: outcome names, the one-by-one batch fallback and the default probe.
#include "upstream/transport.h"

namespace smarthost::upstream {

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::delivered: return "delivered";
    case Outcome::temporary: return "temporary";
    case Outcome::permanent: return "permanent";
    case Outcome::upstream_refused: return "upstream_refused";
  }
  return "?";
}

boost::asio::awaitable<std::vector<DeliveryResult>> Transport::deliver_batch(std::span<const OutboundMessage> batch) {
  std::vector<DeliveryResult> results;
  results.reserve(batch.size());
  for (const auto& message : batch) results.push_back(co_await deliver(message));
  co_return results;
}

boost::asio::awaitable<ProbeResult> Transport::probe(std::chrono::milliseconds) {
  co_return ProbeResult{true, "nothing to probe"};
}

}  // namespace smarthost::upstream
