// Shared set-up of the transport tests: an io_context with one HttpClient, spooled test messages in a temp dir,
// and conf::Upstream values pointing at a FakeProvider.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "tests/support/fake_providers/fake_provider.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/upstream/http/run_awaitable.h"
#include "upstream/http/http_client.h"
#include "upstream/transport.h"

namespace smarthost::test {

class TransportHarness {
 public:
  boost::asio::io_context io;
  std::shared_ptr<upstream::http::HttpClient> client = std::make_shared<upstream::http::HttpClient>(io.get_executor());
  TempDir dir;

  // A spooled message: some bytes of spool record in front (so content_offset matters), then the message.
  upstream::OutboundMessage spool(const std::string& content, const std::vector<std::string>& recipients,
                                  const std::string& mail_from = "sender@example.com") {
    static int counter = 0;
    std::string prefix = "SPOOL-RECORD-HEADER\n";
    std::string name = "msg" + std::to_string(++counter);
    auto path = dir.write(name, prefix + content);
    upstream::OutboundMessage message;
    message.queue_id = name;
    message.envelope.mail_from = mail_from;
    for (const auto& r : recipients) message.envelope.recipients.push_back({r, mail::RecipientState::pending, {}});
    message.content_path = path.string();
    message.content_offset = prefix.size();
    message.size = content.size();
    return message;
  }

  upstream::DeliveryResult deliver(upstream::Transport& transport, const upstream::OutboundMessage& message) {
    return run_awaitable(io, transport.deliver(message));
  }

  std::vector<upstream::DeliveryResult> deliver_batch(upstream::Transport& transport,
                                                      const std::vector<upstream::OutboundMessage>& batch) {
    return run_awaitable(io, transport.deliver_batch(batch));
  }
};

inline conf::Upstream upstream_for(const FakeProvider& fake, const std::string& name = "") {
  conf::Upstream u;
  u.name = name.empty() ? std::string(to_string(fake.kind())) + "0" : name;
  u.common.endpoint = fake.base_url();
  u.options.timeout = std::chrono::seconds(5);
  const auto& c = fake.credentials();
  switch (fake.kind()) {
    case FakeKind::mailgun: {
      u.provider = conf::ProviderKind::mailgun;
      conf::MailgunConfig m;
      m.api_key = c.api_key;
      m.domain = c.domain;
      u.config = m;
      break;
    }
    case FakeKind::sendgrid: {
      u.provider = conf::ProviderKind::sendgrid;
      conf::SendgridConfig s;
      s.api_key = c.api_key;
      u.config = s;
      break;
    }
    case FakeKind::postmark: {
      u.provider = conf::ProviderKind::postmark;
      conf::PostmarkConfig p;
      p.server_token = c.api_key;
      u.config = p;
      break;
    }
    case FakeKind::ses: {
      u.provider = conf::ProviderKind::ses;
      conf::SesConfig s;
      s.aws_access_key_id = c.aws_access_key_id;
      s.aws_secret_access_key = c.aws_secret_access_key;
      s.aws_session_token = c.aws_session_token;
      s.region = c.region;
      u.config = s;
      break;
    }
  }
  return u;
}

// Problems the fake found in any request, joined (empty when every request was well-formed).
inline std::string problems_of(const FakeProvider& fake) {
  std::string out;
  for (const auto& record : fake.records())
    for (const auto& p : record.problems) out += p + "\n";
  return out;
}

inline std::vector<std::string> form_values(const FakeRecord& record, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : record.form)
    if (n == name) out.push_back(v);
  return out;
}

}  // namespace smarthost::test
