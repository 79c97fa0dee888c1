// The three upstream forms of the guide (single `provider`; `primary_provider` + `fallback_providers`;
// `load_balancing`) read into one ordered list of upstreams plus a routing strategy, and printed back in the
// same form. Also the per-upstream rules (required keys per provider, use_tls with use_ssl, rate bounds).
#pragma once

#include <string_view>
#include <vector>

#include "conf/config.h"
#include "conf/schema.h"

namespace smarthost::conf {

// The top-level keys that belong to the upstream forms.
const std::vector<std::string_view>& upstream_form_keys();

// Reads whichever form `root` uses into config.upstreams and config.routing; reports a missing or mixed form.
void read_upstreams(const Node& root, Config& config, Walk& w);

// The form's top-level entries (`provider`, `name` of the single form); print before any table.
void print_upstream_entries(const Config& config, TomlWriter& out, const PrintOptions& po);
// The form's tables: [config]/[options], or [primary_provider]/[[fallback_providers]], or [load_balancing].
void print_upstream_sections(const Config& config, TomlWriter& out, const PrintOptions& po);

}  // namespace smarthost::conf
