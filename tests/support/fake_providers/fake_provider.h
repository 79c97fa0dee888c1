// Fake Mailgun, SendGrid, Postmark and SES API servers for tests. Each checks every request strictly (method,
// path, credentials, the SigV4 signature recomputed, content type, every documented field) and answers the way
// the provider does; tests script failures (429 with rate-limit headers, 5xx, bad credentials, rejections, slow
// answers, dropped connections). Records are kept in memory and, optionally, appended to a JSON-lines file.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/fake_providers/fake_http_server.h"

namespace smarthost::test {

enum class FakeKind { mailgun, sendgrid, postmark, ses };

FakeKind fake_kind_from(std::string_view name);  // "mailgun", ...; throws std::invalid_argument otherwise
std::string_view to_string(FakeKind kind);

struct FakeCredentials {
  std::string api_key = "key-test-123";  // Mailgun API key, SendGrid API key, or Postmark server token
  std::string domain = "mg.example.com";  // Mailgun
  std::string aws_access_key_id = "AKIDEXAMPLE";
  std::string aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  std::string aws_session_token;  // required (and checked) when not empty
  std::string region = "us-east-1";
  bool allow_control_headers = false;  // else X-Mailgun-*, X-SES-*, X-PM-* in a message are a problem
};

struct FakeRecord {
  HttpExchange exchange;
  std::vector<std::string> problems;  // every rule the request broke; empty for a well-formed request
  int status = 0;                     // what the fake answered (0 = dropped)
  // Mailgun: the form fields in order (the message part under "message").
  std::vector<std::pair<std::string, std::string>> form;
  // SES: the decoded Content.Raw.Data. Mailgun: the message part.
  std::string raw_message;
};

class FakeProvider {
 public:
  FakeProvider(FakeKind kind, FakeCredentials credentials = {}, uint16_t port = 0, const FakeTls* tls = nullptr);
  ~FakeProvider();
  FakeProvider(const FakeProvider&) = delete;
  FakeProvider& operator=(const FakeProvider&) = delete;

  FakeKind kind() const;
  uint16_t port() const;
  std::string base_url() const;  // what `endpoint` should be set to
  const FakeCredentials& credentials() const;

  // Scripted answers, used in order for the next requests; after them the provider's success answer.
  void push_answer(FakeAnswer answer);
  // Postmark: an address that fails with this ErrorCode (422 on /email, an element of a /email/batch answer).
  void fail_recipient(std::string address, int error_code, std::string message);

  std::vector<FakeRecord> records() const;
  std::size_t request_count() const;
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // Appends each record as one JSON line to `path` (method, target, headers, body, problems, status).
  void record_to(std::string path);

  // The provider's usual answers for the common failures.
  FakeAnswer throttled(int retry_after_seconds) const;
  FakeAnswer server_error() const;
  FakeAnswer bad_credentials() const;
  FakeAnswer rejected(std::string reason) const;  // a permanent refusal of the message
  static FakeAnswer slow(std::chrono::milliseconds delay);
  // A scripted step that answers as if unscripted (checks, then success), keeping later steps in place.
  static FakeAnswer usual();
  static FakeAnswer dropped();

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::unique_ptr<FakeHttpServer> server_;
};

}  // namespace smarthost::test
