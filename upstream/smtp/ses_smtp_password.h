// Derives the Amazon SES SMTP password from an AWS secret access key (SigV4 key derivation, version byte 0x04).
// Pure computation on OpenSSL's HMAC-SHA256; the `smarthost ses-smtp-password` command prints its result.
#pragma once

#include <string>
#include <string_view>

namespace smarthost::upstream::smtp {

// base64(0x04 || HMAC(kSigning, "SendRawEmail")) where kSigning is the SigV4 signing key for date "11111111",
// `region` and service "ses". Empty when the region is empty.
std::string ses_smtp_password(std::string_view secret_access_key, std::string_view region);

}  // namespace smarthost::upstream::smtp
