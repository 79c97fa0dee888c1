// Builds the transport for one configured upstream. The only place that knows the concrete transport classes.
// Throws std::runtime_error at start-up for an upstream that cannot be built (a configuration problem).
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <memory>

#include "conf/config.h"
#include "upstream/transport.h"

namespace smarthost::upstream {

std::unique_ptr<Transport> make_transport(const conf::Upstream& upstream, const conf::Config& config,
                                          boost::asio::any_io_executor executor);

}  // namespace smarthost::upstream
