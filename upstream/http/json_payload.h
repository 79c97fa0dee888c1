// What the JSON providers (SendGrid, Postmark) are sent for one message: request bodies, each with the envelope
// recipients it covers, or the reason the message cannot be converted. Pure values, built from a MimeView.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "upstream/transport.h"

namespace smarthost::upstream::http {

struct JsonPayload {
  std::string body;                     // one JSON document (SendGrid request, or one Postmark message object)
  std::vector<std::size_t> recipients;  // envelope indices it delivers to
};

struct PayloadBuild {
  std::vector<JsonPayload> payloads;
  std::string error;  // set when the message cannot be converted: a permanent failure
};

}  // namespace smarthost::upstream::http
