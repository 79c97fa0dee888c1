// SPF and DKIM TXT checks for verify_domain (see domain_dns.h).
#include "app/domain_dns.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

namespace smarthost::app {

TxtAnswer query_txt(const std::string& name) {
  TxtAnswer out;
  struct __res_state state {};
  if (res_ninit(&state) != 0) {
    out.error = "no resolver configuration";
    return out;
  }
  state.retrans = 2;
  state.retry = 1;
  unsigned char answer[8192];
  int length = res_nquery(&state, name.c_str(), ns_c_in, ns_t_txt, answer, sizeof answer);
  if (length < 0) {
    if (state.res_h_errno == HOST_NOT_FOUND || state.res_h_errno == NO_DATA) {
      out.resolved = true;
    } else {
      out.error = "DNS lookup of " + name + " failed (" + hstrerror(state.res_h_errno) + ")";
    }
    res_nclose(&state);
    return out;
  }
  out.resolved = true;
  ns_msg message;
  if (ns_initparse(answer, length, &message) == 0) {
    for (int i = 0; i < ns_msg_count(message, ns_s_an); ++i) {
      ns_rr rr;
      if (ns_parserr(&message, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_txt) continue;
      const unsigned char* data = ns_rr_rdata(rr);
      const unsigned char* end = data + ns_rr_rdlen(rr);
      std::string text;
      while (data < end) {  // one or more <length><bytes> strings, concatenated
        unsigned n = *data++;
        if (data + n > end) break;
        text.append(reinterpret_cast<const char*>(data), n);
        data += n;
      }
      out.records.push_back(std::move(text));
    }
  }
  res_nclose(&state);
  return out;
}

namespace {

// The SPF include each provider asks for, and the DKIM selectors it uses (where fixed).
struct ProviderDns {
  std::string spf_include;
  std::vector<std::string> dkim_selectors;
};

ProviderDns provider_dns(conf::ProviderKind kind) {
  switch (kind) {
    case conf::ProviderKind::mailgun: return {"mailgun.org", {"k1", "mx", "smtp", "mailo", "pic"}};
    case conf::ProviderKind::sendgrid: return {"sendgrid.net", {"s1", "s2"}};
    case conf::ProviderKind::postmark: return {"spf.mtasv.net", {}};
    case conf::ProviderKind::ses: return {"amazonses.com", {}};
    default: return {};
  }
}

}  // namespace

DnsVerdict check_domain_dns(conf::ProviderKind provider, const std::string& domain, const TxtLookup& lookup) {
  DnsVerdict out;
  auto spf = lookup(domain);
  if (!spf.error.empty()) {
    out.detail = spf.error;
    return out;
  }
  std::string spf_record;
  for (const auto& r : spf.records)
    if (r.rfind("v=spf1", 0) == 0) spf_record = r;
  ProviderDns want = provider_dns(provider);
  if (spf_record.empty()) {
    out.detail = "no SPF record (TXT \"v=spf1 ...\") at " + domain;
    return out;
  }
  if (!want.spf_include.empty() && spf_record.find("include:" + want.spf_include) == std::string::npos) {
    out.detail = "the SPF record of " + domain + " does not include:" + want.spf_include + " (" + spf_record + ")";
    return out;
  }
  std::string dkim = "DKIM not checked (selector chosen by the provider)";
  if (!want.dkim_selectors.empty()) {
    dkim.clear();
    for (const auto& selector : want.dkim_selectors) {
      auto key = lookup(selector + "._domainkey." + domain);
      for (const auto& r : key.records)
        if (r.find("p=") != std::string::npos) dkim = "DKIM key at " + selector + "._domainkey." + domain;
      if (!dkim.empty()) break;
    }
    if (dkim.empty()) {
      out.detail = "SPF ok; no DKIM key at the provider's selectors under _domainkey." + domain;
      return out;
    }
  }
  out.ok = true;
  out.detail = "SPF ok (" + spf_record + "); " + dkim;
  return out;
}

}  // namespace smarthost::app
