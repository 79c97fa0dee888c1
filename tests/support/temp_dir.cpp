// Temporary directories and small file helpers for tests.
#include "tests/support/temp_dir.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace smarthost::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "smarthost-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(std::string_view name, std::string_view content) const {
  auto p = path_ / name;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  return p;
}

void TempDir::write_to(const std::filesystem::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::filesystem::path source_dir() {
  const char* dir = std::getenv("SMARTHOST_SOURCE_DIR");
  return dir ? dir : SMARTHOST_SOURCE_DIR_DEFAULT;
}

std::filesystem::path smarthost_bin() {
  const char* bin = std::getenv("SMARTHOST_BIN");
  return bin ? bin : SMARTHOST_BIN_DEFAULT;
}

}  // namespace smarthost::test
