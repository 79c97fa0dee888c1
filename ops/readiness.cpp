// Readiness (see readiness.h).
#include "ops/readiness.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstring>

namespace smarthost::ops {

namespace {
constexpr uint64_t kLeastFreeBytes = 1 << 20;  // below this a message of any size would not fit
}

ReadinessCheck check_spool(const std::filesystem::path& dir) {
  ReadinessCheck check{"spool", false, ""};
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    check.detail = "spool " + dir.string() + " is not writable: " + std::strerror(errno);
    return check;
  }
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) {
    check.detail = "spool " + dir.string() + ": " + std::strerror(errno);
    return check;
  }
  if (fs.f_flag & ST_RDONLY) {
    check.detail = "spool " + dir.string() + " is on a read-only file system";
    return check;
  }
  uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes < kLeastFreeBytes) {
    check.detail = "spool " + dir.string() + " is full (" + std::to_string(free_bytes) + " bytes free)";
    return check;
  }
  check.ok = true;
  check.detail = "spool writable, " + std::to_string(free_bytes / (1 << 20)) + " MB free";
  return check;
}

Readiness assess_readiness(const RelaySnapshot& s, ReadinessCheck spool) {
  Readiness r;
  r.checks.push_back(std::move(spool));

  ReadinessCheck listeners{"listeners", false, ""};
  if (s.draining) {
    listeners.detail = "shutting down: no new connections";
  } else if (s.listeners.empty()) {
    listeners.detail = "no SMTP listener is up";
  } else {
    listeners.ok = true;
    for (const auto& l : s.listeners) listeners.detail += (listeners.detail.empty() ? "listening on " : ", ") + l;
  }
  r.checks.push_back(std::move(listeners));

  ReadinessCheck upstreams{"upstreams", false, ""};
  size_t usable = 0;
  std::string unusable;
  for (const auto& u : s.upstreams) {
    std::string state = s.state_of(u);
    if (state == "down" || state == "open") {
      unusable += (unusable.empty() ? "" : ", ") + u.name + " " + state;
    } else {
      ++usable;
    }
  }
  upstreams.ok = usable > 0;
  if (s.upstreams.empty()) {
    upstreams.detail = "no upstream configured";
  } else {
    upstreams.detail = std::to_string(usable) + " of " + std::to_string(s.upstreams.size()) + " upstreams usable";
    if (!unusable.empty()) upstreams.detail += " (" + unusable + ")";
  }
  r.checks.push_back(std::move(upstreams));

  r.ready = true;
  for (const auto& c : r.checks) {
    if (c.ok) continue;
    r.ready = false;
    r.reason += (r.reason.empty() ? "" : "; ") + c.detail;
  }
  if (r.ready) r.reason = "ready";
  return r;
}

std::string readiness_json(const Readiness& r) {
  boost::json::object checks;
  for (const auto& c : r.checks) checks[c.name] = boost::json::object{{"ok", c.ok}, {"detail", c.detail}};
  boost::json::object o{{"ready", r.ready}, {"reason", r.reason}, {"checks", std::move(checks)}};
  return boost::json::serialize(o) + "\n";
}

}  // namespace smarthost::ops
