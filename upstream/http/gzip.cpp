// gzip through GZlibCompressor / GZlibDecompressor, fed in one piece and drained in 64 KB steps.
#include "upstream/http/gzip.h"

#include <gio/gio.h>

#include <memory>

namespace smarthost::upstream::http {

namespace {

struct Unref {
  void operator()(void* object) const { g_object_unref(object); }
};

// Runs a converter over all of `data`; nullopt on an error or past max_bytes.
std::optional<std::string> convert(GConverter* converter, std::string_view data, std::size_t max_bytes) {
  std::string out;
  char buffer[65536];
  std::size_t offset = 0;
  for (;;) {
    gsize read = 0, written = 0;
    GError* error = nullptr;
    GConverterResult result =
        g_converter_convert(converter, data.data() + offset, data.size() - offset, buffer, sizeof buffer,
                            G_CONVERTER_INPUT_AT_END, &read, &written, &error);
    if (result == G_CONVERTER_ERROR) {
      g_error_free(error);
      return std::nullopt;
    }
    offset += read;
    out.append(buffer, written);
    if (out.size() > max_bytes) return std::nullopt;
    if (result == G_CONVERTER_FINISHED) return out;
    if (read == 0 && written == 0) return std::nullopt;  // no progress: truncated input
  }
}

}  // namespace

std::string gzip_compress(std::string_view data) {
  std::unique_ptr<GZlibCompressor, Unref> compressor(g_zlib_compressor_new(G_ZLIB_COMPRESSOR_FORMAT_GZIP, -1));
  return convert(G_CONVERTER(compressor.get()), data, static_cast<std::size_t>(-1)).value_or(std::string());
}

std::optional<std::string> gzip_decompress(std::string_view data, std::size_t max_bytes) {
  std::unique_ptr<GZlibDecompressor, Unref> decompressor(g_zlib_decompressor_new(G_ZLIB_COMPRESSOR_FORMAT_GZIP));
  return convert(G_CONVERTER(decompressor.get()), data, max_bytes);
}

}  // namespace smarthost::upstream::http
