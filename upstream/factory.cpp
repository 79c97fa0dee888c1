// Transport factory: maps each provider kind to its transport class.
#include "upstream/factory.h"

#include <stdexcept>

#include "upstream/file_transport.h"

namespace smarthost::upstream {

std::unique_ptr<Transport> make_transport(const conf::Upstream& upstream, const conf::Config&,
                                          boost::asio::any_io_executor) {
  switch (upstream.provider) {
    case conf::ProviderKind::file:
      return std::make_unique<FileTransport>(upstream.name, std::get<conf::FileConfig>(upstream.config));
    default:
      break;
  }
  throw std::runtime_error("upstream " + upstream.name + ": provider '" + std::string(conf::to_string(upstream.provider)) +
                           "' is not available in this build");
}

}  // namespace smarthost::upstream
