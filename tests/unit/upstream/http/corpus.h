// Loads a message of the MIME corpus (tests/unit/upstream/http/corpus/) with CRLF line ends, as the spool keeps it.
#pragma once

#include <string>

#include "tests/support/temp_dir.h"

namespace smarthost::test {

inline std::string corpus_message(const std::string& name) {
  std::string raw = read_file(source_dir() / "tests/unit/upstream/http/corpus" / name);
  std::string out;
  out.reserve(raw.size() + raw.size() / 20);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) out += '\r';
    out += raw[i];
  }
  return out;
}

}  // namespace smarthost::test
