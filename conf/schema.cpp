// The value readers behind every Key (booleans, integers, durations, sizes, strings, choices) and the
// unknown-key and X_file handling of the schema walk. Each reader words its own error, naming the key and the
// allowed range. The keys themselves are declared in params.cpp.
#include "conf/schema.h"

#include <cmath>

#include "conf/spelling.h"
#include "conf/units.h"

namespace smarthost::conf {

namespace {

std::string shown(const Node& v) {
  switch (v.kind) {
    case Node::Kind::string: return TomlWriter::quote(v.text);
    case Node::Kind::integer: return std::to_string(v.integer);
    case Node::Kind::floating: return TomlWriter::number(v.floating);
    case Node::Kind::boolean: return v.boolean ? "true" : "false";
    default: return std::string(describe(v.kind));
  }
}

const char* const kDurationSyntax = "an integer in seconds or a string like \"30s\", \"5m\", \"2h\", \"5d\"";
const char* const kSizeSyntax = "an integer in bytes or a string like \"512KB\", \"25MB\", \"1GB\"";

}  // namespace

std::string one_of(const std::vector<std::string_view>& names) {
  std::string out = "one of ";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i != 0) out += (i + 1 == names.size()) ? " or " : ", ";
    out += "\"" + std::string(names[i]) + "\"";
  }
  return out;
}

std::optional<bool> read_bool(const Node& v, Walk& w, const Place& p, std::string_view name) {
  if (v.kind != Node::Kind::boolean) {
    w.type_error(v, p, name, "true or false");
    return std::nullopt;
  }
  return v.boolean;
}

std::optional<int64_t> read_integer(const Node& v, Walk& w, const Place& p, std::string_view name, int64_t lo,
                                    int64_t hi) {
  const std::string range = "from " + std::to_string(lo) + " to " + std::to_string(hi);
  if (v.kind != Node::Kind::integer) {
    w.type_error(v, p, name, "an integer " + range);
    return std::nullopt;
  }
  if (v.integer < lo || v.integer > hi) {
    w.range_error(v, p, name, range, shown(v));
    return std::nullopt;
  }
  return v.integer;
}

std::optional<double> read_real(const Node& v, Walk& w, const Place& p, std::string_view name, double lo, double hi) {
  const std::string range = "from " + TomlWriter::number(lo) + " to " + TomlWriter::number(hi);
  double d = 0;
  if (v.kind == Node::Kind::floating) {
    d = v.floating;
  } else if (v.kind == Node::Kind::integer) {
    d = static_cast<double>(v.integer);
  } else {
    w.type_error(v, p, name, "a number " + range);
    return std::nullopt;
  }
  if (!std::isfinite(d) || d < lo || d > hi) {
    w.range_error(v, p, name, range, shown(v));
    return std::nullopt;
  }
  return d;
}

std::optional<Millis> read_duration(const Node& v, Walk& w, const Place& p, std::string_view name, Millis lo,
                                    Millis hi, bool whole_seconds) {
  const std::string range = "from " + format_duration(lo) + " to " + format_duration(hi);
  Millis value{};
  if (v.kind == Node::Kind::integer) {
    // Compare in seconds first so that huge integers cannot overflow the millisecond count.
    if (v.integer < 0 || v.integer > hi.count() / 1000 + 1) {
      w.range_error(v, p, name, "a duration " + range, shown(v));
      return std::nullopt;
    }
    value = std::chrono::seconds(v.integer);
  } else if (v.kind == Node::Kind::string) {
    auto parsed = parse_duration(v.text);
    if (!parsed) {
      w.error(v.origin, p.describe_key(name) + " must be a duration (" + kDurationSyntax + "); got " + shown(v));
      return std::nullopt;
    }
    value = *parsed;
  } else {
    w.type_error(v, p, name, std::string("a duration ") + range + " (" + kDurationSyntax + ")");
    return std::nullopt;
  }
  if (whole_seconds && value.count() % 1000 != 0) {
    w.error(v.origin, p.describe_key(name) + " must be whole seconds; got " + shown(v));
    return std::nullopt;
  }
  if (value < lo || value > hi) {
    w.range_error(v, p, name, "a duration " + range, shown(v));
    return std::nullopt;
  }
  return value;
}

std::optional<uint64_t> read_size(const Node& v, Walk& w, const Place& p, std::string_view name, uint64_t lo,
                                  uint64_t hi) {
  const std::string range = "from " + format_size(lo) + " to " + format_size(hi);
  uint64_t value = 0;
  if (v.kind == Node::Kind::integer) {
    if (v.integer < 0) {
      w.range_error(v, p, name, "a size " + range, shown(v));
      return std::nullopt;
    }
    value = static_cast<uint64_t>(v.integer);
  } else if (v.kind == Node::Kind::string) {
    auto parsed = parse_size(v.text);
    if (!parsed) {
      w.error(v.origin, p.describe_key(name) + " must be a size (" + kSizeSyntax + "); got " + shown(v));
      return std::nullopt;
    }
    value = *parsed;
  } else {
    w.type_error(v, p, name, std::string("a size ") + range + " (" + kSizeSyntax + ")");
    return std::nullopt;
  }
  if (value < lo || value > hi) {
    w.range_error(v, p, name, "a size " + range, shown(v));
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> read_text(const Node& v, Walk& w, const Place& p, std::string_view name,
                                     const Check& check, bool multiline) {
  if (v.kind != Node::Kind::string) {
    w.type_error(v, p, name, "a string");
    return std::nullopt;
  }
  for (char c : v.text) {
    unsigned char u = static_cast<unsigned char>(c);
    const bool line_break = c == '\r' || c == '\n';
    if (u == 0 || (line_break && !multiline) || (u < 0x20 && !line_break && c != '\t') || u == 0x7f) {
      w.error(v.origin, p.describe_key(name) + " must not contain control characters or line breaks");
      return std::nullopt;
    }
  }
  if (check && !v.text.empty()) {
    if (auto why = check(v.text)) {
      w.error(v.origin, p.describe_key(name) + ": " + *why);
      return std::nullopt;
    }
  }
  return v.text;
}

std::optional<std::size_t> read_choice(const Node& v, Walk& w, const Place& p, std::string_view name,
                                       const std::vector<std::string_view>& names) {
  if (v.kind != Node::Kind::string) {
    w.type_error(v, p, name, one_of(names));
    return std::nullopt;
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == v.text) return i;
  }
  std::string message = p.describe_key(name) + " must be " + one_of(names) + "; got " + shown(v);
  if (auto near = closest(v.text, names)) message += "; did you mean \"" + *near + "\"?";
  w.error(v.origin, std::move(message));
  return std::nullopt;
}

void report_unknown_key(const Member& m, const Place& place, const std::vector<std::string_view>& known,
                        const std::vector<std::string_view>& file_capable, Walk& w) {
  std::string message = "unknown key '" + m.key + "' " +
                        (place.path.empty() ? std::string("at the top level") : "in " + place.display());
  std::optional<std::string> near;
  std::string_view word = m.key;
  if (word.size() > 5 && word.ends_with("_file")) {
    // `passwrd_file`: suggest on the base name among keys that take a file, then put the suffix back.
    word.remove_suffix(5);
    if (auto base = closest(word, file_capable)) near = *base + "_file";
  }
  if (!near) near = closest(m.key, known);
  if (near) message += "; did you mean '" + *near + "'?";
  w.error(m.key_origin, std::move(message));
}

std::optional<Node> read_file_member(const Member& m, const Place& place, Walk& w) {
  if (m.value.kind != Node::Kind::string) {
    w.type_error(m.value, place, m.key, "a string (the path of a file holding the value)");
    return std::nullopt;
  }
  auto content = w.read_value_file(m.value.text, m.value.origin, place.describe_key(m.key));
  if (!content) return std::nullopt;
  Node value;
  value.kind = Node::Kind::string;
  value.origin = m.value.origin;
  value.text = std::move(*content);
  return value;
}

}  // namespace smarthost::conf
