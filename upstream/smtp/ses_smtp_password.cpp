// SES SMTP password derivation (see the header). HMAC-SHA256 and base64 come from OpenSSL.
#include "upstream/smtp/ses_smtp_password.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <string>

namespace smarthost::upstream::smtp {
namespace {

using Digest = std::array<unsigned char, 32>;

Digest hmac_sha256(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &len);
  return out;
}

std::string_view as_view(const Digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

}  // namespace

std::string ses_smtp_password(std::string_view secret_access_key, std::string_view region) {
  if (region.empty()) return {};
  constexpr std::string_view kDate = "11111111";
  constexpr std::string_view kService = "ses";
  constexpr std::string_view kTerminal = "aws4_request";
  constexpr std::string_view kMessage = "SendRawEmail";
  constexpr unsigned char kVersion = 0x04;

  std::string first_key = "AWS4";
  first_key.append(secret_access_key);
  Digest k_date = hmac_sha256(first_key, kDate);
  Digest k_region = hmac_sha256(as_view(k_date), region);
  Digest k_service = hmac_sha256(as_view(k_region), kService);
  Digest k_signing = hmac_sha256(as_view(k_service), kTerminal);
  Digest signature = hmac_sha256(as_view(k_signing), kMessage);

  std::array<unsigned char, 33> raw{};
  raw[0] = kVersion;
  std::copy(signature.begin(), signature.end(), raw.begin() + 1);
  std::array<unsigned char, 4 * ((33 + 2) / 3) + 1> encoded{};
  int n = EVP_EncodeBlock(encoded.data(), raw.data(), static_cast<int>(raw.size()));
  return std::string(reinterpret_cast<const char*>(encoded.data()), static_cast<size_t>(n));
}

}  // namespace smarthost::upstream::smtp
