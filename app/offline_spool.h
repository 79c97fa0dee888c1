// Writes a message straight into the spool directory when no relay is running (sendmail's fallback).
// The running relay picks it up at start-up recovery; the write is as durable as an SMTP submission.
#pragma once

#include <string>
#include <vector>

#include "conf/config.h"

namespace smarthost::app {

struct OfflineResult {
  bool ok = false;
  std::string id;
  std::string error;
};

OfflineResult spool_offline(const conf::Config& config, const std::string& sender,
                            const std::vector<std::string>& recipients, const std::string& content);

}  // namespace smarthost::app
