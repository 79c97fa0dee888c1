// gzip (RFC 1952) for request bodies and for the test fakes, on GIO's zlib converters (GIO comes with GMime), so
// no separate zlib development package is needed. Whole buffers in, whole buffers out.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smarthost::upstream::http {

// Empty on failure.
std::string gzip_compress(std::string_view data);
// nullopt when `data` is not a complete gzip stream or inflates past `max_bytes`.
std::optional<std::string> gzip_decompress(std::string_view data, std::size_t max_bytes = 256u << 20);

}  // namespace smarthost::upstream::http
