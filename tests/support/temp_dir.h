// A temporary directory per test, removed with everything in it when the object goes away.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace smarthost::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes `content` to path()/name (creating parent directories) and returns the full path.
  std::filesystem::path write(std::string_view name, std::string_view content) const;
  // Writes `content` to `path` (replacing it).
  static void write_to(const std::filesystem::path& path, std::string_view content);

 private:
  std::filesystem::path path_;
};

// Reads a whole file; empty when it does not exist.
std::string read_file(const std::filesystem::path& path);

// The source tree root (SMARTHOST_SOURCE_DIR, set by ctest) and the smarthost binary (SMARTHOST_BIN).
std::filesystem::path source_dir();
std::filesystem::path smarthost_bin();

}  // namespace smarthost::test
