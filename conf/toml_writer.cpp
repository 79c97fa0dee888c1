// TOML output primitives: headers, entries, string and key quoting, floats that read back exactly.
// No knowledge of the configuration's keys.
#include "conf/toml_writer.h"

#include <charconv>
#include <cstdio>

namespace smarthost::conf {

void TomlWriter::header(std::string_view path, bool array_item) {
  if (!out_.empty()) out_ += '\n';
  out_ += array_item ? "[[" : "[";
  // Each dotted part may need quoting of its own.
  std::size_t start = 0;
  bool first = true;
  while (start <= path.size()) {
    auto dot = path.find('.', start);
    std::string_view part = path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!first) out_ += '.';
    out_ += key(part);
    first = false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  out_ += array_item ? "]]\n" : "]\n";
}

void TomlWriter::entry(std::string_view name, std::string_view value) {
  out_ += key(name);
  out_ += " = ";
  out_ += value;
  out_ += '\n';
}

void TomlWriter::comment(std::string_view text) {
  out_ += "# ";
  out_ += text;
  out_ += '\n';
}

std::string TomlWriter::quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (u < 0x20 || u == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string TomlWriter::key(std::string_view name) {
  bool bare = !name.empty();
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      bare = false;
      break;
    }
  }
  return bare ? std::string(name) : quote(name);
}

std::string TomlWriter::number(double value) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
  std::string out(buf, ec == std::errc() ? ptr : buf);
  if (out.find_first_of(".eEn") == std::string::npos) out += ".0";
  return out;
}

}  // namespace smarthost::conf
