// Placeholder splicing of base64 blobs into serialized JSON (see json_blobs.h).
#include "upstream/http/json_blobs.h"

#include <openssl/rand.h>

#include "upstream/http/outbound_content.h"
#include "upstream/http/sigv4.h"

namespace smarthost::upstream::http {

JsonBlobs::JsonBlobs() {
  unsigned char bytes[12];
  RAND_bytes(bytes, sizeof bytes);
  marker_ = "smarthost-blob-" + hex(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes)) + "-";
}

std::string JsonBlobs::placeholder(std::string_view data) {
  blobs_.push_back(data);
  return marker_ + std::to_string(blobs_.size() - 1);
}

std::string JsonBlobs::render(std::string_view serialized) const {
  if (blobs_.empty()) return std::string(serialized);
  // Sized first, so that the body is allocated once.
  std::size_t size = 0, pos = 0;
  auto next = [&](std::size_t from, std::size_t& index, std::size_t& end) {
    std::size_t at = serialized.find(marker_, from);
    if (at == std::string_view::npos) return at;
    end = at + marker_.size();
    index = 0;
    while (end < serialized.size() && serialized[end] >= '0' && serialized[end] <= '9')
      index = index * 10 + static_cast<std::size_t>(serialized[end++] - '0');
    return at;
  };
  std::size_t index = 0, end = 0;
  for (std::size_t at; (at = next(pos, index, end)) != std::string_view::npos; pos = end)
    size += (at - pos) + (index < blobs_.size() ? 4 * ((blobs_[index].size() + 2) / 3) : end - at);
  size += serialized.size() - pos;

  std::string out;
  out.reserve(size);
  pos = 0;
  for (std::size_t at; (at = next(pos, index, end)) != std::string_view::npos; pos = end) {
    out.append(serialized.substr(pos, at - pos));
    if (index < blobs_.size())
      base64_append(out, blobs_[index]);
    else
      out.append(serialized.substr(at, end - at));  // not one of ours: left as it was
  }
  out.append(serialized.substr(pos));
  return out;
}

}  // namespace smarthost::upstream::http
