// Message wording, origin bookkeeping and X_file reading for the schema walk.
// The keys themselves are declared in params.cpp.
#include "conf/walk.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace smarthost::conf {

namespace {

// A value file holds one secret or one setting, never a document.
constexpr std::uintmax_t kMaxValueFileBytes = 64 * 1024;

}  // namespace

std::string Place::display() const { return path.empty() ? "the top level" : "[" + path + "]"; }

std::string Place::describe_key(std::string_view key) const {
  // Appended piece by piece: GCC 12 at -O3 takes the chained operator+ for an out-of-bounds copy (-Warray-bounds).
  std::string out = "'";
  out += key;
  out += "' ";
  out += path.empty() ? std::string("at the top level") : "in " + display();
  return out;
}

std::string Place::key_path(std::string_view key) const {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

Place Place::child(std::string_view key) const {
  return Place{key_path(key), header.empty() ? std::string(key) : header + "." + std::string(key)};
}

Place Place::item(std::string_view key, std::size_t index) const {
  Place p = child(key);
  p.path += '[';
  p.path += std::to_string(index);
  p.path += ']';
  return p;
}

Diagnostic diagnostic_at(const Origin& at, std::string message) {
  return Diagnostic{at.file ? *at.file : std::string(), at.line, at.column, std::move(message)};
}

Walk::Walk(std::filesystem::path base_dir, SecretFiles secret_files)
    : base_dir_(std::move(base_dir)), secret_files_(secret_files) {}

void Walk::error(const Origin& at, std::string message) { errors.push_back(diagnostic_at(at, std::move(message))); }

void Walk::warning(const Origin& at, std::string message) {
  warnings.push_back(diagnostic_at(at, std::move(message)));
}

void Walk::type_error(const Node& value, const Place& place, std::string_view key, std::string_view expected) {
  error(value.origin, place.describe_key(key) + " must be " + std::string(expected) + "; got " +
                          std::string(describe(value.kind)));
}

void Walk::range_error(const Node& value, const Place& place, std::string_view key, std::string_view range,
                       std::string_view shown) {
  error(value.origin, place.describe_key(key) + " must be " + std::string(range) + "; got " + std::string(shown));
}

void Walk::remember(const std::string& path, const Origin& at) { seen_[path] = at; }

bool Walk::seen(std::string_view path) const { return seen_.find(path) != seen_.end(); }

Origin Walk::where(std::string_view path) const {
  std::string p(path);
  while (true) {
    if (auto it = seen_.find(p); it != seen_.end()) return it->second;
    auto dot = p.rfind('.');
    if (dot == std::string::npos) break;
    p.resize(dot);
  }
  if (auto it = seen_.find(std::string()); it != seen_.end()) return it->second;
  return main_origin_;
}

std::optional<std::string> Walk::read_value_file(const std::string& path, const Origin& at,
                                                 std::string_view key_desc) {
  if (secret_files_ == SecretFiles::skip) return std::string(kUnreadSecret);
  std::filesystem::path file(path);
  if (file.is_relative() && !base_dir_.empty()) file = base_dir_ / file;
  // A file that cannot be read: an error, or with SecretFiles::check a warning and a placeholder value.
  auto unreadable = [&](std::string message) -> std::optional<std::string> {
    if (secret_files_ == SecretFiles::check) {
      warning(at, std::move(message) + " (serve and validate need it)");
      return std::string(kUnreadSecret);
    }
    error(at, std::move(message));
    return std::nullopt;
  };
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return unreadable(std::string(key_desc) + ": cannot read " + file.string() + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return unreadable(std::string(key_desc) + ": " + file.string() + " is not a regular file");
  if (static_cast<std::uintmax_t>(st.st_size) > kMaxValueFileBytes) {
    error(at, std::string(key_desc) + ": " + file.string() + " is larger than 64 KB");
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return unreadable(std::string(key_desc) + ": cannot open " + file.string() + ": " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  std::string value = content.str();
  if (value.ends_with("\r\n")) {
    value.resize(value.size() - 2);
  } else if (value.ends_with('\n')) {
    value.pop_back();
  }
  if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    warning(at, std::string(key_desc) + ": " + file.string() +
                    " is readable by group or others; restrict it with chmod 600");
  }
  return value;
}

}  // namespace smarthost::conf
