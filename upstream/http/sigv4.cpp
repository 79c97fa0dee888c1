// SigV4: canonical request, string to sign, signing key and signature, as the AWS documentation and its public
// test suite (aws-sig-v4-test-suite) define them. OpenSSL 3 EVP_MAC / EVP_Digest do the cryptography.
#include "upstream/http/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

namespace smarthost::upstream::http {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims and collapses runs of spaces, as the canonical header value requires.
std::string canonical_value(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string url_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string key = aws_uri_encode(url_decode(part.substr(0, eq)), false);
    std::string value = eq == std::string_view::npos ? "" : aws_uri_encode(url_decode(part.substr(eq + 1)), false);
    pairs.emplace_back(std::move(key), std::move(value));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (!out.empty()) out += '&';
    out += key + "=" + value;
  }
  return out;
}

}  // namespace

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return hex(std::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string sigv4_signing_key(std::string_view secret, std::string_view date, std::string_view region,
                              std::string_view service) {
  std::string key = hmac_sha256("AWS4" + std::string(secret), date);
  key = hmac_sha256(key, region);
  key = hmac_sha256(key, service);
  return hmac_sha256(key, "aws4_request");
}

std::string aws_uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
  }
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point when) {
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &tm);
  return buffer;
}

SigV4Result sign_v4(const SigV4Input& input, const AwsCredentials& credentials) {
  SigV4Result result;
  result.headers = input.headers;
  result.headers.emplace_back("X-Amz-Date", input.amz_date);
  if (!credentials.session_token.empty()) result.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);

  // Headers with the same name are joined with commas, in order; names sorted.
  std::map<std::string, std::string> canonical;
  for (const auto& [name, value] : result.headers) {
    auto& slot = canonical[lower(name)];
    if (!slot.empty()) slot += ',';
    slot += canonical_value(value);
  }
  std::string canonical_headers, signed_headers;
  for (const auto& [name, value] : canonical) {
    canonical_headers += name + ":" + value + "\n";
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }
  std::string path = input.path.empty() ? "/" : aws_uri_encode(url_decode(input.path), true);
  result.canonical_request = input.method + "\n" + path + "\n" + canonical_query(input.query) + "\n" +
                             canonical_headers + "\n" + signed_headers + "\n" + sha256_hex(input.body);

  std::string date = input.amz_date.substr(0, 8);
  std::string scope = date + "/" + input.region + "/" + input.service + "/aws4_request";
  result.string_to_sign =
      "AWS4-HMAC-SHA256\n" + input.amz_date + "\n" + scope + "\n" + sha256_hex(result.canonical_request);
  std::string key = sigv4_signing_key(credentials.secret_access_key, date, input.region, input.service);
  result.signature = hex(hmac_sha256(key, result.string_to_sign));
  result.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope +
                         ", SignedHeaders=" + signed_headers + ", Signature=" + result.signature;
  result.headers.emplace_back("Authorization", result.authorization);
  return result;
}

}  // namespace smarthost::upstream::http
