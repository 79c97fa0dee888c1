// Shared parts of the Transport interface: outcome names and the one-by-one batch fallback.
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

}  // namespace smarthost::upstream
