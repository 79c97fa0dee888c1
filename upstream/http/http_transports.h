// The one entry point the transport factory needs for the HTTP providers: builds the Mailgun, SendGrid, Postmark
// or SES transport for a configured upstream, with an HTTP client set up from [security] and the upstream's
// options. Throws std::invalid_argument at start-up for a configuration that cannot work.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <memory>

#include "conf/config.h"
#include "upstream/http/http_transport.h"
#include "upstream/transport.h"

namespace smarthost::upstream::http {

// True for mailgun, sendgrid, postmark and ses.
bool is_http_provider(conf::ProviderKind kind);

// `client` may be shared between upstreams (one connection cache); null builds one for this upstream.
std::unique_ptr<Transport> make_http_transport(const conf::Upstream& upstream, const conf::Config& config,
                                               boost::asio::any_io_executor executor,
                                               std::shared_ptr<HttpClient> client = nullptr,
                                               HttpTransportOptions options = {});

}  // namespace smarthost::upstream::http
