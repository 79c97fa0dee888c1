// Names of the configuration's enumerations, as written in the configuration file.
#include "conf/config.h"

namespace smarthost::conf {

std::string_view to_string(ProviderKind kind) {
  switch (kind) {
    case ProviderKind::smtp: return "smtp";
    case ProviderKind::mailgun: return "mailgun";
    case ProviderKind::sendgrid: return "sendgrid";
    case ProviderKind::postmark: return "postmark";
    case ProviderKind::ses: return "ses";
    case ProviderKind::file: return "file";
  }
  return "?";
}

std::string_view to_string(Routing routing) {
  switch (routing) {
    case Routing::single: return "single";
    case Routing::failover: return "failover";
    case Routing::round_robin: return "round_robin";
    case Routing::weighted: return "weighted";
    case Routing::least_connections: return "least_connections";
    case Routing::response_time: return "response_time";
  }
  return "?";
}

}  // namespace smarthost::conf
