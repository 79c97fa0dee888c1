// Large base64 strings of a JSON request (attachment contents) written straight into the serialized body in place
// of short placeholders: an attachment is then held once as decoded bytes and once as request text, never also as
// a JSON value and a temporary base64 string. Placeholders carry a random marker, so message text cannot forge one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace smarthost::upstream::http {

class JsonBlobs {
 public:
  JsonBlobs();

  // The string to put in the JSON where base64(data) belongs. `data` must stay valid until the last render().
  std::string placeholder(std::string_view data);

  // `serialized` with every placeholder (each may occur any number of times) replaced by its data's base64.
  std::string render(std::string_view serialized) const;

 private:
  std::string marker_;  // "smarthost-blob-<24 hex digits>-", followed by the blob's index
  std::vector<std::string_view> blobs_;
};

}  // namespace smarthost::upstream::http
