// /readyz: is this relay ready for mail? Ready when the spool can be written, the SMTP listeners are up (and not
// draining), and at least one upstream is usable (in rotation, circuit not open). Liveness (/healthz) is simpler:
// answering at all proves the event loop runs.
#pragma once

#include <filesystem>
#include <string>

#include "ops/relay_snapshot.h"

namespace smarthost::ops {

// Can the spool directory take a new message now? (writable, on a writable file system, with free space)
ReadinessCheck check_spool(const std::filesystem::path& dir);

// Combines the spool check with the snapshot's listeners and upstreams.
Readiness assess_readiness(const RelaySnapshot& snapshot, ReadinessCheck spool);

// {"ready":true,"reason":"ready","checks":{"spool":{"ok":true,"detail":"..."},...}}
std::string readiness_json(const Readiness& readiness);

}  // namespace smarthost::ops
