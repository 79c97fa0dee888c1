// verify_domain's DNS half: the sending domain's SPF record must include the provider, and where the provider's
// DKIM selectors are fixed, one of them must hold a key. TXT lookups go through the system resolver (res_nquery),
// blocking, with short timeouts: they run from `smarthost validate` and the start-up validation only.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "conf/config.h"

namespace smarthost::app {

struct TxtAnswer {
  bool resolved = false;  // an answer came (NXDOMAIN counts: the name has no records)
  std::vector<std::string> records;  // each record's character-strings concatenated
  std::string error;      // the resolver failed (no server, timeout, SERVFAIL)
};

// TXT records of `name` (following a CNAME), two seconds per try and one retry.
TxtAnswer query_txt(const std::string& name);

using TxtLookup = std::function<TxtAnswer(const std::string& name)>;

struct DnsVerdict {
  bool ok = false;
  std::string detail;  // what was found, or what is missing
};

// The SPF and DKIM records `domain` should publish for sending through `provider`.
DnsVerdict check_domain_dns(conf::ProviderKind provider, const std::string& domain,
                            const TxtLookup& lookup = query_txt);

}  // namespace smarthost::app
