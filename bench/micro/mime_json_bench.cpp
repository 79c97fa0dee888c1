// Micro-benchmarks of the MIME-to-JSON conversion the JSON providers need (upstream/http): parsing a message
// into a MimeView with GMime, then building SendGrid and Postmark request bodies. Also the raw-message edit
// Mailgun and SES get. No network; the HTTP client is measured end to end by bench/run.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "upstream/http/mime_view.h"
#include "upstream/http/outbound_content.h"
#include "upstream/http/postmark_transport.h"
#include "upstream/http/sendgrid_transport.h"

namespace {

using namespace smarthost;
using namespace smarthost::upstream::http;

std::string plain_message(size_t body_size) {
  std::string m =
      "From: Sender Name <sender@example.org>\r\nTo: Someone <to@example.net>\r\nCc: cc@example.net\r\n"
      "Subject: =?UTF-8?B?w4Rwcmlj?= bench\r\nDate: Mon, 24 Nov 2025 10:00:00 +0000\r\n"
      "Message-ID: <bench.1@example.org>\r\nX-Campaign: spring\r\nMIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  while (m.size() < body_size) m += "The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
  return m;
}

// multipart/mixed with text, HTML and one base64 attachment of `attachment` bytes.
std::string multipart_message(size_t attachment) {
  std::string m =
      "From: Sender Name <sender@example.org>\r\nTo: Someone <to@example.net>\r\nSubject: report\r\n"
      "Date: Mon, 24 Nov 2025 10:00:00 +0000\r\nMessage-ID: <bench.2@example.org>\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
      "--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
      "--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello,\r\nthe report is attached.\r\n"
      "--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello,</p><p>the report is attached.</p>\r\n"
      "--inner--\r\n"
      "--outer\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; "
      "filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  std::string data(attachment, '\x5a');
  std::string encoded = base64_encode(data);
  for (size_t i = 0; i < encoded.size(); i += 76) m += encoded.substr(i, 76) + "\r\n";
  m += "--outer--\r\n";
  return m;
}

void BM_parse_mime(benchmark::State& state, std::string message) {
  for (auto _ : state) {
    auto parsed = parse_mime(message);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message.size()));
}
BENCHMARK_CAPTURE(BM_parse_mime, plain_4k, plain_message(4096));
BENCHMARK_CAPTURE(BM_parse_mime, multipart_1m, multipart_message(1 << 20));

// Parse plus one request body, as a SendGrid delivery does for each message.
void BM_sendgrid_json(benchmark::State& state, std::string message) {
  SendgridPayloadSettings settings;
  std::vector<std::string> envelope{"to@example.net", "cc@example.net", "hidden@example.com"};
  for (auto _ : state) {
    auto parsed = parse_mime(message);
    auto built = build_sendgrid_payloads(*parsed.view, envelope, settings);
    benchmark::DoNotOptimize(built);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message.size()));
}
BENCHMARK_CAPTURE(BM_sendgrid_json, plain_4k, plain_message(4096));
BENCHMARK_CAPTURE(BM_sendgrid_json, multipart_1m, multipart_message(1 << 20));

void BM_postmark_json(benchmark::State& state, std::string message) {
  PostmarkPayloadSettings settings;
  settings.config.server_token = "bench";
  std::vector<std::string> envelope{"to@example.net", "cc@example.net", "hidden@example.com"};
  for (auto _ : state) {
    auto parsed = parse_mime(message);
    auto built = build_postmark_messages(*parsed.view, envelope, settings);
    benchmark::DoNotOptimize(built);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message.size()));
}
BENCHMARK_CAPTURE(BM_postmark_json, plain_4k, plain_message(4096));

// The raw-MIME providers (Mailgun, SES) only edit the header section.
void BM_prepare_raw_message(benchmark::State& state) {
  const std::string message = plain_message(4096);
  upstream::SenderIdentity identity;
  identity.from_email = "relay@example.org";
  for (auto _ : state) {
    auto raw = prepare_raw_message(message, identity, false);
    benchmark::DoNotOptimize(raw);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message.size()));
}
BENCHMARK(BM_prepare_raw_message);

}  // namespace
