// AWS Signature Version 4 for request headers (used by the SES transport), on OpenSSL's HMAC and SHA-256.
// Pure functions: the time is passed in, nothing is sent. It signs every header given to it; it does not do
// presigned URLs, chunked uploads or S3's special path rules.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "upstream/http/http_client.h"

namespace smarthost::upstream::http {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // added as X-Amz-Security-Token (and signed) when not empty
};

struct SigV4Input {
  std::string method;        // "POST"
  std::string path;          // "/v2/email/outbound-emails" (normalised to one level of URI encoding)
  std::string query;         // "a=b&c=d" as sent (without '?'); re-encoded and sorted for signing
  HeaderList headers;        // must include Host; X-Amz-Date and the token header are added by sign_v4
  std::string_view body;
  std::string region;        // "us-east-1"
  std::string service;       // "ses"
  std::string amz_date;      // "20150830T123600Z"
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;      // hex
  std::string authorization;  // the Authorization header value
  HeaderList headers;         // the input headers plus X-Amz-Date, X-Amz-Security-Token and Authorization
};

SigV4Result sign_v4(const SigV4Input& input, const AwsCredentials& credentials);

// "YYYYMMDDTHHMMSSZ" in UTC.
std::string amz_date(std::chrono::system_clock::time_point when);

// Building blocks, exposed for the SES SMTP password derivation and for tests.
std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string hex(std::string_view bytes);
// The SigV4 signing key: HMAC chain over date (YYYYMMDD), region, service and "aws4_request".
std::string sigv4_signing_key(std::string_view secret, std::string_view date, std::string_view region,
                              std::string_view service);
// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, everything else %XX (upper case);
// '/' kept when `keep_slash`.
std::string aws_uri_encode(std::string_view text, bool keep_slash);

}  // namespace smarthost::upstream::http
