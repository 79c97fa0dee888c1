// The schema machinery: a Key binds one configuration key's name, default and bounds to a field of a model struct,
// and knows how to read it from the generic tree (with errors that name the key and the allowed range) and how to
// print it back as TOML. A Schema<T> is the list of keys of one table. The keys themselves are in params.cpp.
// Included only by conf/*.cpp (it pulls in <functional> and the tree); never by other components.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "conf/node_text.h"
#include "conf/toml_writer.h"
#include "conf/tree.h"
#include "conf/units.h"
#include "conf/walk.h"

namespace smarthost::conf {

struct PrintOptions {
  bool mask_secrets = true;  // secrets print as "***"
};

template <class T>
struct Key {
  std::string_view name;
  bool takes_file = false;  // `name_file = "/path"` may give the value instead
  bool secret = false;
  std::function<void(T&)> reset;                                    // applies the declared default
  std::function<void(const Node&, T&, Walk&, const Place&)> read;   // `place` is the table holding the key
  // Prints `name = value` (or a comment when unset); null for keys printed as tables.
  std::function<void(const T&, TomlWriter&, const Place&, const PrintOptions&)> print_entry;
  // Prints [header] / [[header]] sections after the table's entries; null for plain values.
  std::function<void(const T&, TomlWriter&, const Place&, const PrintOptions&)> print_section;
};

template <class T>
using Schema = std::vector<Key<T>>;

// Why a string value is invalid, or nothing when it is fine. Only called for non-empty strings.
using Check = std::function<std::optional<std::string>(std::string_view)>;

using Millis = std::chrono::milliseconds;

// ---- Non-template readers (schema.cpp): each reports its own error and returns nothing on failure. ----------

std::optional<bool> read_bool(const Node& v, Walk& w, const Place& p, std::string_view name);
std::optional<int64_t> read_integer(const Node& v, Walk& w, const Place& p, std::string_view name, int64_t lo,
                                    int64_t hi);
std::optional<double> read_real(const Node& v, Walk& w, const Place& p, std::string_view name, double lo, double hi);
// A duration: an integer is seconds, a string has units. `whole_seconds` rejects "500ms" for second fields.
std::optional<Millis> read_duration(const Node& v, Walk& w, const Place& p, std::string_view name, Millis lo,
                                    Millis hi, bool whole_seconds);
std::optional<uint64_t> read_size(const Node& v, Walk& w, const Place& p, std::string_view name, uint64_t lo,
                                  uint64_t hi);
// A string without control characters (unless `multiline`), passed through `check` when non-empty.
std::optional<std::string> read_text(const Node& v, Walk& w, const Place& p, std::string_view name,
                                     const Check& check, bool multiline);
// One of `names`; reports a did-you-mean when the value is close to one.
std::optional<std::size_t> read_choice(const Node& v, Walk& w, const Place& p, std::string_view name,
                                       const std::vector<std::string_view>& names);
// "one of \"a\", \"b\" or \"c\"".
std::string one_of(const std::vector<std::string_view>& names);

// Reports `unknown key 'k' in [t]; did you mean 'x'?` at the key.
// `file_capable` are the keys that may also be given as `X_file`.
void report_unknown_key(const Member& m, const Place& place, const std::vector<std::string_view>& known,
                        const std::vector<std::string_view>& file_capable, Walk& w);

// The value of `m` (a `X_file` key) as a string node at the same origin, or nothing after an error.
std::optional<Node> read_file_member(const Member& m, const Place& place, Walk& w);

// ---- Reading and printing whole tables ---------------------------------------------------------------------------

template <class T>
const Key<T>* find_key(const Schema<T>& schema, std::string_view name) {
  for (const Key<T>& k : schema) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

template <class T>
std::vector<std::string_view> key_names(const Schema<T>& schema, const std::vector<std::string_view>& extra = {}) {
  std::vector<std::string_view> names(extra);
  for (const Key<T>& k : schema) names.push_back(k.name);
  return names;
}

template <class T>
void reset_table(T& obj, const Schema<T>& schema) {
  for (const Key<T>& k : schema) k.reset(obj);
}

// Applies every default, then reads each member of `table` into `obj`. Members named in `handled` are left to the
// caller; any other unknown member is an error with a did-you-mean.
template <class T>
void read_table(const Node& table, T& obj, const Schema<T>& schema, Walk& w, const Place& place,
                const std::vector<std::string_view>& handled = {}) {
  reset_table(obj, schema);
  for (const Member& m : table.members) {
    if (std::find(handled.begin(), handled.end(), m.key) != handled.end()) continue;
    w.remember(place.key_path(m.key), m.key_origin);
    if (const Key<T>* key = find_key(schema, m.key)) {
      key->read(m.value, obj, w, place);
      continue;
    }
    if (m.key.size() > 5 && m.key.ends_with("_file")) {
      std::string_view base = std::string_view(m.key).substr(0, m.key.size() - 5);
      const Key<T>* key = find_key(schema, base);
      if (key != nullptr && key->takes_file) {
        if (table.find(base) != nullptr) {
          w.error(m.key_origin, "give either " + place.describe_key(base) + " or '" + m.key + "', not both");
          continue;
        }
        if (std::optional<Node> value = read_file_member(m, place, w)) key->read(*value, obj, w, place);
        continue;
      }
    }
    std::vector<std::string_view> file_capable;
    for (const Key<T>& k : schema) {
      if (k.takes_file) file_capable.push_back(k.name);
    }
    report_unknown_key(m, place, key_names(schema, handled), file_capable, w);
  }
}

// Prints the entries of `obj`, then its sub-tables.
template <class T>
void print_table(const T& obj, const Schema<T>& schema, TomlWriter& out, const Place& place, const PrintOptions& po) {
  for (const Key<T>& k : schema) {
    if (k.print_entry) k.print_entry(obj, out, place, po);
  }
  for (const Key<T>& k : schema) {
    if (k.print_section) k.print_section(obj, out, place, po);
  }
}

// ---- Key factories: name, field, default and bounds side by side -------------------------------------------------

template <class T>
Key<T> flag(std::string_view name, bool T::*field, bool def) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { o.*field = def; };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (auto b = read_bool(v, w, p, name)) o.*field = *b;
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    out.entry(name, o.*field ? "true" : "false");
  };
  return k;
}

template <class T>
Key<T> maybe_flag(std::string_view name, std::optional<bool> T::*field) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { o.*field = std::nullopt; };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (auto b = read_bool(v, w, p, name)) o.*field = *b;
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    if (o.*field) {
      out.entry(name, *(o.*field) ? "true" : "false");
    } else {
      out.comment(std::string(name) + " = (not set)");
    }
  };
  return k;
}

template <class T, class I>
Key<T> count(std::string_view name, I T::*field, std::type_identity_t<I> def, std::type_identity_t<I> lo,
             std::type_identity_t<I> hi) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { o.*field = def; };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (auto n = read_integer(v, w, p, name, static_cast<int64_t>(lo), static_cast<int64_t>(hi))) {
      o.*field = static_cast<I>(*n);
    }
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    out.entry(name, std::to_string(o.*field));
  };
  return k;
}

template <class T, class I>
Key<T> maybe_count(std::string_view name, std::optional<I> T::*field, std::type_identity_t<I> lo,
                   std::type_identity_t<I> hi) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { o.*field = std::nullopt; };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (auto n = read_integer(v, w, p, name, static_cast<int64_t>(lo), static_cast<int64_t>(hi))) {
      o.*field = static_cast<I>(*n);
    }
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    if (o.*field) {
      out.entry(name, std::to_string(*(o.*field)));
    } else {
      out.comment(std::string(name) + " = (not set)");
    }
  };
  return k;
}

template <class T>
Key<T> real(std::string_view name, double T::*field, double def, double lo, double hi) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { o.*field = def; };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (auto d = read_real(v, w, p, name, lo, hi)) o.*field = *d;
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    out.entry(name, TomlWriter::number(o.*field));
  };
  return k;
}

template <class T>
Key<T> maybe_real(std::string_view name, std::optional<double> T::*field, double lo, double hi) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { o.*field = std::nullopt; };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (auto d = read_real(v, w, p, name, lo, hi)) o.*field = *d;
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    if (o.*field) {
      out.entry(name, TomlWriter::number(*(o.*field)));
    } else {
      out.comment(std::string(name) + " = (not set)");
    }
  };
  return k;
}

// D is std::chrono::seconds or milliseconds; seconds fields refuse fractions of a second.
template <class T, class D>
Key<T> duration(std::string_view name, D T::*field, std::type_identity_t<D> def, std::type_identity_t<D> lo,
               std::type_identity_t<D> hi) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { o.*field = def; };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    constexpr bool whole = std::is_same_v<D, std::chrono::seconds>;
    if (auto ms = read_duration(v, w, p, name, std::chrono::duration_cast<Millis>(lo),
                                std::chrono::duration_cast<Millis>(hi), whole)) {
      o.*field = std::chrono::duration_cast<D>(*ms);
    }
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    out.entry(name, TomlWriter::quote(format_duration(std::chrono::duration_cast<Millis>(o.*field))));
  };
  return k;
}

template <class T>
Key<T> size(std::string_view name, uint64_t T::*field, uint64_t def, uint64_t lo, uint64_t hi) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { o.*field = def; };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (auto n = read_size(v, w, p, name, lo, hi)) o.*field = *n;
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    out.entry(name, TomlWriter::quote(format_size(o.*field)));
  };
  return k;
}

struct TextRules {
  Check check;             // validates non-empty values
  bool secret = false;     // printed as "***"
  bool multiline = false;  // allows CR and LF (never NUL)
  // Hides only part of a value when printing (the password in a URL); used when not `secret`.
  std::function<std::string(std::string_view)> mask;

  TextRules as_secret() const {
    TextRules r = *this;
    r.secret = true;
    return r;
  }
  TextRules with_mask(std::function<std::string(std::string_view)> m) const {
    TextRules r = *this;
    r.mask = std::move(m);
    return r;
  }
};

inline TextRules checked(Check check) {
  TextRules r;
  r.check = std::move(check);
  return r;
}
inline TextRules secret_value() { return TextRules().as_secret(); }
inline TextRules multiline_text() {
  TextRules r;
  r.multiline = true;
  return r;
}

template <class T>
Key<T> text(std::string_view name, std::string T::*field, std::string def = {}, TextRules rules = {}) {
  Key<T> k;
  k.name = name;
  k.takes_file = true;
  k.secret = rules.secret;
  k.reset = [=](T& o) { o.*field = def; };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (auto s = read_text(v, w, p, name, rules.check, rules.multiline)) o.*field = std::move(*s);
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions& po) {
    const std::string& value = o.*field;
    if (po.mask_secrets && !value.empty() && rules.secret) {
      out.entry(name, TomlWriter::quote("***"));
    } else if (po.mask_secrets && rules.mask) {
      out.entry(name, TomlWriter::quote(rules.mask(value)));
    } else {
      out.entry(name, TomlWriter::quote(value));
    }
  };
  return k;
}

template <class T>
Key<T> maybe_text(std::string_view name, std::optional<std::string> T::*field, TextRules rules = {}) {
  Key<T> k;
  k.name = name;
  k.takes_file = true;
  k.reset = [=](T& o) { o.*field = std::nullopt; };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (auto s = read_text(v, w, p, name, rules.check, rules.multiline)) o.*field = std::move(*s);
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    if (o.*field) {
      out.entry(name, TomlWriter::quote(*(o.*field)));
    } else {
      out.comment(std::string(name) + " = (not set)");
    }
  };
  return k;
}

// An enumeration spelled as strings.
template <class T, class E>
Key<T> choice(std::string_view name, E T::*field, std::type_identity_t<E> def,
              std::vector<std::pair<std::string_view, E>> values) {
  std::vector<std::string_view> names;
  for (const auto& [n, e] : values) names.push_back(n);
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { o.*field = def; };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (auto i = read_choice(v, w, p, name, names)) o.*field = values[*i].second;
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    for (const auto& [n, e] : values) {
      if (e == o.*field) out.entry(name, TomlWriter::quote(n));
    }
  };
  return k;
}

// A string limited to some spellings; "" (the default) means unset when `def` is empty.
template <class T>
Key<T> text_choice(std::string_view name, std::string T::*field, std::string def, std::vector<std::string_view> names) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { o.*field = def; };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (auto i = read_choice(v, w, p, name, names)) o.*field = std::string(names[*i]);
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    if ((o.*field).empty()) {
      out.comment(std::string(name) + " = (not set)");
    } else {
      out.entry(name, TomlWriter::quote(o.*field));
    }
  };
  return k;
}

// A list of strings (a single string is a list of one), each passed through `rules.check`.
template <class T>
Key<T> texts(std::string_view name, std::vector<std::string> T::*field, std::vector<std::string> def,
             std::size_t max_items, TextRules rules = {}) {
  Key<T> k;
  k.name = name;
  k.secret = rules.secret;
  k.reset = [=](T& o) { o.*field = def; };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    std::vector<const Node*> items;
    if (v.kind == Node::Kind::string) {
      items.push_back(&v);
    } else if (v.kind == Node::Kind::array) {
      for (const Node& item : v.items) items.push_back(&item);
    } else {
      return w.type_error(v, p, name, "a list of strings");
    }
    if (items.size() > max_items) {
      return w.range_error(v, p, name, "a list of at most " + std::to_string(max_items) + " strings",
                           std::to_string(items.size()));
    }
    std::vector<std::string> result;
    bool ok = true;
    for (const Node* item : items) {
      if (item->kind != Node::Kind::string) {
        w.type_error(*item, p, name, "a list of strings");
        ok = false;
        continue;
      }
      if (auto s = read_text(*item, w, p, name, rules.check, rules.multiline)) {
        result.push_back(std::move(*s));
      } else {
        ok = false;
      }
    }
    if (ok) o.*field = std::move(result);
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions& po) {
    std::string list = "[";
    for (const std::string& s : o.*field) {
      if (list.size() > 1) list += ", ";
      list += TomlWriter::quote(rules.secret && po.mask_secrets ? "***" : s);
    }
    out.entry(name, list + "]");
  };
  return k;
}

// A non-empty list of durations (each an integer in seconds or a string like "5m"), printed as strings.
template <class T>
Key<T> duration_list(std::string_view name, std::vector<std::chrono::seconds> T::*field,
                     std::vector<std::chrono::seconds> def, std::chrono::seconds lo, std::chrono::seconds hi,
                     std::size_t max_items) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { o.*field = def; };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (v.kind != Node::Kind::array) return w.type_error(v, p, name, "a list of durations");
    if (v.items.empty() || v.items.size() > max_items) {
      return w.range_error(v, p, name, "a list of 1 to " + std::to_string(max_items) + " durations",
                           v.items.empty() ? std::string("an empty list") : std::to_string(v.items.size()));
    }
    std::vector<std::chrono::seconds> result;
    for (const Node& item : v.items) {
      auto ms = read_duration(item, w, p, name, std::chrono::duration_cast<Millis>(lo),
                              std::chrono::duration_cast<Millis>(hi), true);
      if (!ms) return;
      result.push_back(std::chrono::duration_cast<std::chrono::seconds>(*ms));
    }
    o.*field = std::move(result);
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    std::string list = "[";
    for (auto d : o.*field) {
      if (list.size() > 1) list += ", ";
      list += TomlWriter::quote(format_duration(std::chrono::duration_cast<Millis>(d)));
    }
    out.entry(name, list + "]");
  };
  return k;
}

// A table of string values ({ environment = "production" }), printed inline.
template <class T>
Key<T> string_map(std::string_view name, std::map<std::string, std::string> T::*field, std::size_t max_items) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { (o.*field).clear(); };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (!v.is_table()) return w.type_error(v, p, name, "a table of strings");
    if (v.members.size() > max_items) {
      return w.range_error(v, p, name, "a table of at most " + std::to_string(max_items) + " entries",
                           std::to_string(v.members.size()));
    }
    Place inner = p.child(name);
    for (const Member& m : v.members) {
      if (m.value.kind != Node::Kind::string) {
        w.type_error(m.value, inner, m.key, "a string");
        continue;
      }
      if (auto s = read_text(m.value, w, inner, m.key, {}, false)) (o.*field)[m.key] = std::move(*s);
    }
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    std::string table = "{";
    for (const auto& [key, value] : o.*field) {
      table += (table.size() > 1 ? ", " : " ") + TomlWriter::key(key) + " = " + TomlWriter::quote(value);
    }
    out.entry(name, table + ((o.*field).empty() ? "}" : " }"));
  };
  return k;
}

// A table of any values kept as JSON text ({ environment = "production", retries = 3 }), printed inline.
template <class T>
Key<T> json_map(std::string_view name, std::map<std::string, std::string> T::*field, std::size_t max_items) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { (o.*field).clear(); };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (!v.is_table()) return w.type_error(v, p, name, "a table");
    if (v.members.size() > max_items) {
      return w.range_error(v, p, name, "a table of at most " + std::to_string(max_items) + " entries",
                           std::to_string(v.members.size()));
    }
    for (const Member& m : v.members) (o.*field)[m.key] = to_json(m.value);
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    std::string table = "{";
    for (const auto& [key, json] : o.*field) {
      table += (table.size() > 1 ? ", " : " ") + TomlWriter::key(key) + " = " +
               json_to_toml_inline(json).value_or(TomlWriter::quote(json));
    }
    out.entry(name, table + ((o.*field).empty() ? "}" : " }"));
  };
  return k;
}

// Sub-table `name` read into the member `field` with its own schema.
template <class T, class U>
Key<T> table(std::string_view name, U T::*field, Schema<U> sub) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { reset_table(o.*field, sub); };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (!v.is_table()) return w.type_error(v, p, name, "a table");
    read_table(v, o.*field, sub, w, p.child(name));
  };
  k.print_section = [=](const T& o, TomlWriter& out, const Place& p, const PrintOptions& po) {
    Place inner = p.child(name);
    out.header(inner.header);
    print_table(o.*field, sub, out, inner, po);
  };
  return k;
}

// Sub-table `name` whose keys are fields of the same struct (SendGrid's tracking_settings.click_tracking).
template <class T>
Key<T> group(std::string_view name, Schema<T> sub) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { reset_table(o, sub); };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (!v.is_table()) return w.type_error(v, p, name, "a table");
    read_table(v, o, sub, w, p.child(name));
  };
  k.print_section = [=](const T& o, TomlWriter& out, const Place& p, const PrintOptions& po) {
    Place inner = p.child(name);
    out.header(inner.header);
    print_table(o, sub, out, inner, po);
  };
  return k;
}

// An array of tables ([[name]]), each read with `sub`.
template <class T, class U>
Key<T> table_list(std::string_view name, std::vector<U> T::*field, Schema<U> sub, std::size_t max_items) {
  Key<T> k;
  k.name = name;
  k.reset = [=](T& o) { (o.*field).clear(); };
  k.read = [=](const Node& v, T& o, Walk& w, const Place& p) {
    if (v.kind != Node::Kind::array) return w.type_error(v, p, name, "a list of tables");
    if (v.items.size() > max_items) {
      return w.range_error(v, p, name, "a list of at most " + std::to_string(max_items) + " tables",
                           std::to_string(v.items.size()));
    }
    for (std::size_t i = 0; i < v.items.size(); ++i) {
      const Node& item = v.items[i];
      if (!item.is_table()) {
        w.type_error(item, p, name, "a list of tables");
        continue;
      }
      Place inner = p.item(name, i);
      w.remember(inner.path, item.origin);
      U value{};
      read_table(item, value, sub, w, inner);
      (o.*field).push_back(std::move(value));
    }
  };
  k.print_entry = [=](const T& o, TomlWriter& out, const Place&, const PrintOptions&) {
    if ((o.*field).empty()) out.entry(name, "[]");
  };
  k.print_section = [=](const T& o, TomlWriter& out, const Place& p, const PrintOptions& po) {
    for (std::size_t i = 0; i < (o.*field).size(); ++i) {
      Place inner = p.item(name, i);
      out.header(inner.header, true);
      print_table((o.*field)[i], sub, out, inner, po);
    }
  };
  return k;
}

// A key of an inner struct seen as a key of an outer one (`access` returns the inner struct, const or not).
template <class Outer, class Inner, class Access>
Key<Outer> project(const Key<Inner>& inner, Access access) {
  Key<Outer> k;
  k.name = inner.name;
  k.takes_file = inner.takes_file;
  k.secret = inner.secret;
  k.reset = [=](Outer& o) { inner.reset(access(o)); };
  k.read = [=](const Node& v, Outer& o, Walk& w, const Place& p) { inner.read(v, access(o), w, p); };
  if (inner.print_entry) {
    k.print_entry = [=](const Outer& o, TomlWriter& out, const Place& p, const PrintOptions& po) {
      inner.print_entry(access(o), out, p, po);
    };
  }
  if (inner.print_section) {
    k.print_section = [=](const Outer& o, TomlWriter& out, const Place& p, const PrintOptions& po) {
      inner.print_section(access(o), out, p, po);
    };
  }
  return k;
}

}  // namespace smarthost::conf
