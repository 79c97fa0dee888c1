// Streaming SHA-256 of the body and Message-ID extraction from the header section, for dedup.
#include "policy/message_fingerprint.h"

#include <openssl/evp.h>
#include <strings.h>

#include <algorithm>
#include <vector>

namespace smarthost::policy {
namespace {

std::string hex(const unsigned char* data, size_t size) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 15]);
  }
  return out;
}

// The Message-ID value from a header section: unfolded, all white space removed; empty when absent.
std::string find_message_id(std::string_view header) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t eol = header.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = header.size();
    std::string_view line = header.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.size() < 11 || strncasecmp(line.data(), "message-id", 10) != 0) continue;
    size_t colon = line.find_first_not_of(" \t", 10);
    if (colon == std::string_view::npos || line[colon] != ':') continue;
    std::string value(line.substr(colon + 1));
    while (pos < header.size() && (header[pos] == ' ' || header[pos] == '\t')) {
      size_t next = header.find("\r\n", pos);
      if (next == std::string_view::npos) next = header.size();
      value += header.substr(pos, next - pos);
      pos = next + 2;
    }
    std::erase_if(value, [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
    if (value.size() > 998) value.resize(998);
    return value;
  }
  return {};
}

}  // namespace

struct FingerprintingWriter::Digest {
  Digest() : ctx(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr); }
  ~Digest() { EVP_MD_CTX_free(ctx); }
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;
  EVP_MD_CTX* ctx;
};

FingerprintingWriter::FingerprintingWriter(std::unique_ptr<queue::SpoolWriter> inner)
    : inner_(std::move(inner)), body_(std::make_unique<Digest>()) {}

FingerprintingWriter::~FingerprintingWriter() = default;

void FingerprintingWriter::feed_header(std::string_view bytes) {
  header_seen_ += bytes.size();
  if (header_.size() < kHeaderCap) header_.append(bytes.substr(0, kHeaderCap - header_.size()));
}

void FingerprintingWriter::end_of_header() {
  in_header_ = false;
  message_id_ = find_message_id(header_);
  header_.clear();
  header_.shrink_to_fit();
  tail_.clear();
}

void FingerprintingWriter::append(std::string_view bytes) {
  inner_->append(bytes);
  observe(bytes);
}

std::string& FingerprintingWriter::append_buffer() {
  inner_buffer_ = &inner_->append_buffer();
  return *inner_buffer_;
}

void FingerprintingWriter::appended(size_t before) {
  // Seen before the inner writer may write its buffer out and clear it.
  if (inner_buffer_) observe(std::string_view(*inner_buffer_).substr(before));
  inner_buffer_ = nullptr;
  inner_->appended(before);
}

void FingerprintingWriter::observe(std::string_view bytes) {
  if (in_header_) {
    size_t body_start = std::string_view::npos;
    if (header_seen_ == 0 && bytes.starts_with("\r\n")) {
      body_start = 2;  // no header section at all
    } else {
      std::string joined = tail_ + std::string(bytes.substr(0, std::min<size_t>(bytes.size(), kHeaderCap + 4)));
      size_t end = joined.find("\r\n\r\n");
      if (end != std::string::npos) {
        body_start = end + 4 - tail_.size();
      } else if (bytes.size() > kHeaderCap + 4) {
        // A header section longer than the cap: look for its end in the rest of this chunk.
        size_t far = bytes.find("\r\n\r\n", kHeaderCap);
        if (far != std::string_view::npos) body_start = far + 4;
      }
      if (body_start == std::string_view::npos) {
        joined = tail_ + std::string(bytes.substr(bytes.size() > 3 ? bytes.size() - 3 : 0));
        tail_ = joined.substr(joined.size() > 3 ? joined.size() - 3 : 0);
      }
    }
    if (body_start == std::string_view::npos) {
      feed_header(bytes);
      return;
    }
    feed_header(bytes.substr(0, body_start));
    end_of_header();
    bytes.remove_prefix(body_start);
  }
  if (!bytes.empty()) EVP_DigestUpdate(body_->ctx, bytes.data(), bytes.size());
}

std::string FingerprintingWriter::body_hash() const {
  // Finalise a copy, so more appends may follow.
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  EVP_MD_CTX_copy_ex(copy, body_->ctx);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(copy, digest, &length);
  EVP_MD_CTX_free(copy);
  return hex(digest, length);
}

std::string FingerprintingWriter::fingerprint(const mail::Envelope& envelope) const {
  return message_fingerprint(message_id_, envelope, body_hash());
}

std::string message_fingerprint(std::string_view message_id, const mail::Envelope& envelope,
                                std::string_view body_hash) {
  if (message_id.empty()) return {};
  std::vector<std::string> rcpts;
  for (const auto& r : envelope.recipients) {
    std::string a = r.address;
    std::transform(a.begin(), a.end(), a.begin(), [](unsigned char c) { return std::tolower(c); });
    rcpts.push_back(std::move(a));
  }
  std::sort(rcpts.begin(), rcpts.end());
  std::string text = "v1";
  text.push_back('\0');
  text.append(message_id);
  text.push_back('\0');
  text.append(envelope.mail_from);
  text.push_back('\0');
  for (const auto& r : rcpts) {
    text.append(r);
    text.push_back('\0');
  }
  text.append(body_hash);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  return hex(digest, length);
}

}  // namespace smarthost::policy
