// Reads and prints the upstream forms, names each upstream (provider + index by default) and applies the rules
// that tie a provider to its required keys. Key names, defaults and bounds come from params.cpp.
#include "conf/upstreams.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "conf/addresses.h"
#include "conf/params.h"
#include "conf/spelling.h"

namespace smarthost::conf {

namespace {

const std::vector<std::string_view> kUpstreamKeys{"provider", "name", "weight", "config", "options"};
const std::vector<std::string_view> kBalancingKeys{"strategy", "providers"};

std::optional<std::string> check_upstream_name(std::string_view name) {
  if (name.size() > kMaxUpstreamNameLength) return "a name must be at most 64 characters";
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return "a name may use letters, digits, '_', '-' and '.' only (it labels logs and metrics)";
    }
  }
  return std::nullopt;
}

ProviderConfig empty_config(ProviderKind kind) {
  switch (kind) {
    case ProviderKind::smtp: return SmtpConfig{};
    case ProviderKind::mailgun: return MailgunConfig{};
    case ProviderKind::sendgrid: return SendgridConfig{};
    case ProviderKind::postmark: return PostmarkConfig{};
    case ProviderKind::ses: return SesConfig{};
    case ProviderKind::file: return FileConfig{};
  }
  return FileConfig{};
}

// Where an upstream's keys sit: `place` holds provider/name/weight, `config` and `options` its sub-tables.
struct UpstreamPlace {
  Place place;
  Place config;
  Place options;
};

UpstreamPlace places_for(const Place& place) { return {place, place.child("config"), place.child("options")}; }

void require_key(bool present, std::string_view key, std::string_view provider, const UpstreamPlace& at, Walk& w) {
  if (present) return;
  const Origin origin = w.seen(at.config.path) ? w.where(at.config.path) : w.where(at.place.key_path("provider"));
  w.error(origin,
          "missing " + at.config.describe_key(key) + ": the " + std::string(provider) + " provider needs it");
}

// Rules that tie keys of one upstream together. Required keys are checked only when `check_required` (a key that
// failed to read keeps its default, and "missing" would only repeat that error); conflicts are always checked.
void check_upstream(const Upstream& u, const UpstreamPlace& at, bool check_required, Walk& w) {
  auto require = [&](bool present, std::string_view key) {
    if (check_required) require_key(present, key, to_string(u.provider), at, w);
  };
  const std::string& endpoint = u.common.endpoint;
  if (!endpoint.empty()) {
    std::optional<std::string> why;
    if (u.provider == ProviderKind::smtp) {
      why = check_host_port(endpoint);
    } else if (u.provider == ProviderKind::file) {
      why = "the file provider has no endpoint; set 'dir'";
    } else {
      why = check_url(endpoint, {"https://", "http://"});
    }
    if (why) w.error(w.where(at.config.key_path("endpoint")), at.config.describe_key("endpoint") + ": " + *why);
  }
  if (const auto* smtp = std::get_if<SmtpConfig>(&u.config)) {
    require(!smtp->host.empty() || !endpoint.empty(), "host");
    if (smtp->use_tls && smtp->use_ssl) {
      w.error(w.where(at.config.key_path("use_ssl")),
              at.config.describe_key("use_tls") + " and 'use_ssl' cannot both be true: use_ssl is implicit TLS " +
                  "(usually port 465), use_tls is STARTTLS (usually port 587)");
    }
    if (check_required && !smtp->password.empty() && smtp->username.empty()) {
      w.error(w.where(at.config.key_path("password")),
              at.config.describe_key("password") + " is set but 'username' is not");
    }
  } else if (const auto* mailgun = std::get_if<MailgunConfig>(&u.config)) {
    require(!mailgun->api_key.empty(), "api_key");
    require(!mailgun->domain.empty(), "domain");
  } else if (const auto* sendgrid = std::get_if<SendgridConfig>(&u.config)) {
    require(!sendgrid->api_key.empty(), "api_key");
  } else if (const auto* postmark = std::get_if<PostmarkConfig>(&u.config)) {
    require(!postmark->server_token.empty(), "server_token");
  } else if (const auto* ses = std::get_if<SesConfig>(&u.config)) {
    require(!ses->region.empty(), "region");
    require(!ses->aws_access_key_id.empty(), "aws_access_key_id");
    require(!ses->aws_secret_access_key.empty(), "aws_secret_access_key");
  } else if (const auto* file = std::get_if<FileConfig>(&u.config)) {
    require(!file->dir.empty(), "dir");
  }
  const UpstreamOptions& o = u.options;
  if (o.min_rate_limit && o.max_rate_limit && *o.min_rate_limit > *o.max_rate_limit) {
    w.error(w.where(at.options.key_path("min_rate_limit")),
            at.options.describe_key("min_rate_limit") + " (" + std::to_string(*o.min_rate_limit) +
                ") must not exceed 'max_rate_limit' (" + std::to_string(*o.max_rate_limit) + ")");
  }
}

// Reads one upstream from `table` (members outside kUpstreamKeys are reported unless `top_level`).
// Returns nothing when the provider is missing or unknown.
std::optional<Upstream> read_upstream(const Node& table, const Place& place, bool balanced, std::size_t index,
                                      bool top_level, Walk& w) {
  const UpstreamPlace at = places_for(place);
  const std::size_t errors_before = w.errors.size();
  std::vector<std::string_view> names;
  for (const auto& [n, k] : provider_names()) names.push_back(n);
  const Member* provider = table.find("provider");
  if (provider == nullptr) {
    w.error(table.origin, "missing " + place.describe_key("provider") + " (" + one_of(names) + ")");
    return std::nullopt;
  }
  w.remember(place.key_path("provider"), provider->key_origin);
  auto kind_index = read_choice(provider->value, w, place, "provider", names);
  Upstream u;
  bool port_given = false;
  if (kind_index) u.provider = provider_names()[*kind_index].second;
  u.config = empty_config(u.provider);
  const Schema<Upstream>& config_schema = provider_config_schema(u.provider);
  reset_table(u, config_schema);
  reset_table(u.options, options_schema());
  u.weight = kWeightDefault;
  for (const Member& m : table.members) {
    if (m.key == "provider") continue;
    // At the top level only the single form's keys are ours; the top-level walk reports the rest.
    if (top_level && m.key != "name" && m.key != "config" && m.key != "options") continue;
    w.remember(place.key_path(m.key), m.key_origin);
    if (m.key == "name") {
      if (auto name = read_text(m.value, w, place, "name", check_upstream_name, false)) u.name = *name;
    } else if (m.key == "weight") {
      if (!balanced) {
        w.error(m.key_origin, place.describe_key("weight") + " applies only to [[load_balancing.providers]]");
      } else if (auto n = read_integer(m.value, w, place, "weight", kWeightMin, kWeightMax)) {
        u.weight = static_cast<uint32_t>(*n);
      }
    } else if (m.key == "config") {
      if (!m.value.is_table()) {
        w.type_error(m.value, place, "config", "a table");
      } else if (kind_index) {  // an unknown provider's keys cannot be checked
        read_table(m.value, u, config_schema, w, at.config);
        port_given = m.value.find("port") != nullptr;
      }
    } else if (m.key == "options") {
      if (!m.value.is_table()) {
        w.type_error(m.value, place, "options", "a table");
      } else {
        read_table(m.value, u.options, options_schema(), w, at.options);
      }
    } else {
      report_unknown_key(m, place, kUpstreamKeys, {}, w);
    }
  }
  if (!kind_index) return std::nullopt;
  if (auto* smtp = std::get_if<SmtpConfig>(&u.config); smtp != nullptr && smtp->use_ssl && !port_given) {
    smtp->port = 465;
  }
  if (u.name.empty()) u.name = std::string(to_string(u.provider)) + std::to_string(index);
  check_upstream(u, at, w.errors.size() == errors_before, w);
  return u;
}

// The upstreams of an array of tables (fallback_providers, load_balancing.providers).
void read_upstream_list(const Node& list, const Place& holder, std::string_view key, bool balanced, Config& config,
                        Walk& w) {
  if (list.kind != Node::Kind::array) return w.type_error(list, holder, key, "a list of tables");
  for (std::size_t i = 0; i < list.items.size(); ++i) {
    const Node& item = list.items[i];
    if (!item.is_table()) {
      w.type_error(item, holder, key, "a list of tables");
      continue;
    }
    Place place = holder.item(key, i);
    w.remember(place.path, item.origin);
    if (auto u = read_upstream(item, place, balanced, config.upstreams.size(), false, w)) {
      config.upstreams.push_back(std::move(*u));
    } else {
      // Keep the index stable for default names of the following upstreams.
      config.upstreams.emplace_back();
    }
  }
}

void read_balanced(const Member& lb, Config& config, Walk& w) {
  const Place place = Place{}.child("load_balancing");
  if (!lb.value.is_table()) return w.type_error(lb.value, Place{}, "load_balancing", "a table");
  w.remember(place.path, lb.value.origin);
  config.routing = kStrategyDefault;
  std::vector<std::string_view> strategies;
  for (const auto& [n, r] : strategy_names()) strategies.push_back(n);
  const Member* providers = nullptr;
  for (const Member& m : lb.value.members) {
    w.remember(place.key_path(m.key), m.key_origin);
    if (m.key == "strategy") {
      if (auto i = read_choice(m.value, w, place, "strategy", strategies)) {
        config.routing = strategy_names()[*i].second;
      }
    } else if (m.key == "providers") {
      providers = &m;
    } else {
      report_unknown_key(m, place, kBalancingKeys, {}, w);
    }
  }
  if (providers == nullptr) {
    w.error(lb.key_origin, "missing 'providers' in [load_balancing]: list at least one [[load_balancing.providers]]");
    return;
  }
  read_upstream_list(providers->value, place, "providers", true, config, w);
  if (providers->value.kind == Node::Kind::array && providers->value.items.empty()) {
    w.error(providers->value.origin, "'providers' in [load_balancing] is empty: list at least one provider");
  }
}

void check_names(const Config& config, Walk& w, const std::vector<Place>& places) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < config.upstreams.size(); ++i) {
    const std::string& name = config.upstreams[i].name;
    if (name.empty()) continue;
    if (!seen.insert(name).second) {
      w.error(w.where(places[i].key_path("name")),
              "upstream name '" + name + "' is used twice; give each upstream its own 'name'");
    }
  }
}

}  // namespace

const std::vector<std::string_view>& upstream_form_keys() {
  static const std::vector<std::string_view> kKeys{"provider",           "name",          "config", "options",
                                                   "primary_provider",   "fallback_providers", "load_balancing"};
  return kKeys;
}

void read_upstreams(const Node& root, Config& config, Walk& w) {
  config.upstreams.clear();
  const Member* provider = root.find("provider");
  const Member* primary = root.find("primary_provider");
  const Member* fallbacks = root.find("fallback_providers");
  const Member* balanced = root.find("load_balancing");

  const int forms = (provider != nullptr) + (primary != nullptr || fallbacks != nullptr) + (balanced != nullptr);
  if (forms > 1) {
    std::vector<const Member*> found{provider, primary != nullptr ? primary : fallbacks, balanced};
    std::erase(found, nullptr);
    w.error(found[1]->key_origin, "'" + found[0]->key + "' and '" + found[1]->key +
                                      "' are two different upstream forms; use one of: 'provider' (single), "
                                      "'primary_provider' with 'fallback_providers' (failover), 'load_balancing'");
    return;
  }
  if (forms == 0) {
    for (std::string_view key : {"config", "options", "name"}) {
      if (const Member* m = root.find(key)) {
        w.error(m->key_origin, "'" + m->key + "' at the top level belongs to a single upstream: add 'provider' "
                                              "(smtp, mailgun, sendgrid, postmark, ses or file)");
      }
    }
    w.error(w.where(""), "no upstream configured: set 'provider' with [config], or [primary_provider], or "
                         "[load_balancing]");
    return;
  }

  std::vector<Place> places;
  if (provider != nullptr) {
    config.routing = Routing::single;
    if (auto u = read_upstream(root, Place{}, false, 0, true, w)) config.upstreams.push_back(std::move(*u));
    places.push_back(Place{});
  } else if (primary != nullptr || fallbacks != nullptr) {
    config.routing = Routing::failover;
    for (std::string_view key : {"config", "options", "name"}) {
      if (const Member* m = root.find(key)) {
        w.error(m->key_origin, "'" + m->key + "' at the top level belongs to the single form; put it inside " +
                                   "[primary_provider] or each [[fallback_providers]]");
      }
    }
    if (primary == nullptr) {
      w.error(fallbacks->key_origin, "'fallback_providers' needs a [primary_provider]");
      return;
    }
    const Place place = Place{}.child("primary_provider");
    if (!primary->value.is_table()) {
      w.type_error(primary->value, Place{}, "primary_provider", "a table");
      return;
    }
    w.remember(place.path, primary->value.origin);
    if (auto u = read_upstream(primary->value, place, false, 0, false, w)) {
      config.upstreams.push_back(std::move(*u));
    } else {
      config.upstreams.emplace_back();
    }
    places.push_back(place);
    if (fallbacks != nullptr) {
      read_upstream_list(fallbacks->value, Place{}, "fallback_providers", false, config, w);
      for (std::size_t i = places.size(); i < config.upstreams.size(); ++i) {
        places.push_back(Place{}.item("fallback_providers", i - 1));
      }
    }
  } else {
    for (std::string_view key : {"config", "options", "name"}) {
      if (const Member* m = root.find(key)) {
        w.error(m->key_origin, "'" + m->key + "' at the top level belongs to the single form; put it inside " +
                                   "each [[load_balancing.providers]]");
      }
    }
    read_balanced(*balanced, config, w);
    for (std::size_t i = 0; i < config.upstreams.size(); ++i) {
      places.push_back(Place{}.child("load_balancing").item("providers", i));
    }
  }
  if (config.upstreams.size() > kMaxUpstreams) {
    w.error(w.where(""), "at most " + std::to_string(kMaxUpstreams) + " upstreams are supported; got " +
                             std::to_string(config.upstreams.size()));
  }
  check_names(config, w, places);
}

namespace {

void print_upstream_body(const Upstream& u, TomlWriter& out, bool balanced) {
  out.entry("provider", TomlWriter::quote(to_string(u.provider)));
  out.entry("name", TomlWriter::quote(u.name));
  if (balanced) out.entry("weight", std::to_string(u.weight));
}

void print_upstream_tables(const Upstream& u, TomlWriter& out, const Place& place, const PrintOptions& po) {
  Place config = place.child("config");
  out.header(config.header);
  print_table(u, provider_config_schema(u.provider), out, config, po);
  Place options = place.child("options");
  out.header(options.header);
  print_table(u.options, options_schema(), out, options, po);
}

}  // namespace

void print_upstream_entries(const Config& config, TomlWriter& out, const PrintOptions&) {
  if (config.routing == Routing::single && !config.upstreams.empty()) {
    print_upstream_body(config.upstreams.front(), out, false);
  }
}

void print_upstream_sections(const Config& config, TomlWriter& out, const PrintOptions& po) {
  if (config.upstreams.empty()) return;
  if (config.routing == Routing::single) {
    print_upstream_tables(config.upstreams.front(), out, Place{}, po);
    return;
  }
  if (config.routing == Routing::failover) {
    Place primary = Place{}.child("primary_provider");
    out.header(primary.header);
    print_upstream_body(config.upstreams.front(), out, false);
    print_upstream_tables(config.upstreams.front(), out, primary, po);
    for (std::size_t i = 1; i < config.upstreams.size(); ++i) {
      Place fallback = Place{}.item("fallback_providers", i - 1);
      out.header(fallback.header, true);
      print_upstream_body(config.upstreams[i], out, false);
      print_upstream_tables(config.upstreams[i], out, fallback, po);
    }
    return;
  }
  Place balanced = Place{}.child("load_balancing");
  out.header(balanced.header);
  for (const auto& [name, routing] : strategy_names()) {
    if (routing == config.routing) out.entry("strategy", TomlWriter::quote(name));
  }
  for (std::size_t i = 0; i < config.upstreams.size(); ++i) {
    Place member = balanced.item("providers", i);
    out.header(member.header, true);
    print_upstream_body(config.upstreams[i], out, true);
    print_upstream_tables(config.upstreams[i], out, member, po);
  }
}

}  // namespace smarthost::conf
