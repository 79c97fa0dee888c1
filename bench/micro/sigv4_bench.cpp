// Micro-benchmark of AWS Signature Version 4 signing (upstream/http/sigv4), as the SES transport does once per
// request: canonical request, SHA-256 of the body, the HMAC key chain and the signature. No network.
#include <benchmark/benchmark.h>

#include <string>

#include "upstream/http/sigv4.h"

namespace {

using namespace smarthost::upstream::http;

void BM_sign_v4(benchmark::State& state) {
  const std::string body(static_cast<size_t>(state.range(0)), 'b');
  SigV4Input input;
  input.method = "POST";
  input.path = "/v2/email/outbound-emails";
  input.headers = {{"Host", "email.us-east-1.amazonaws.com"}, {"Content-Type", "application/json"}};
  input.body = body;
  input.region = "us-east-1";
  input.service = "ses";
  input.amz_date = "20251124T100000Z";
  AwsCredentials credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token"};
  for (auto _ : state) {
    auto signed_request = sign_v4(input, credentials);
    benchmark::DoNotOptimize(signed_request);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_sign_v4)->Arg(4096)->Arg(1 << 20);

void BM_sigv4_signing_key(benchmark::State& state) {
  for (auto _ : state) {
    auto key = sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20251124", "us-east-1", "ses");
    benchmark::DoNotOptimize(key);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_sigv4_signing_key);

}  // namespace
