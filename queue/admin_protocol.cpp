// The admin socket's request lines and JSON answers. Remote-looking text (replies, headers, HELO names) may hold
// any bytes; it is made valid UTF-8 here so every answer parses and `--json` output is clean.
#include "queue/admin_protocol.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <ctime>

#include "queue/queue_id.h"

namespace smarthost::queue::admin {
namespace json = boost::json;
using std::chrono::system_clock;

namespace {

// Invalid UTF-8 sequences become '?'; valid multi-byte characters stay.
std::string utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    auto c = static_cast<unsigned char>(in[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= in.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(in[i + k]) >> 6) == 0x2;
    if (ok && len == 2 && c < 0xC2) ok = false;  // overlong
    if (!ok) {
      out.push_back('?');
      ++i;
      continue;
    }
    out.append(in.substr(i, len));
    i += len;
  }
  return out;
}

std::string_view state_name(mail::RecipientState state) {
  switch (state) {
    case mail::RecipientState::pending: return "pending";
    case mail::RecipientState::delivered: return "delivered";
    case mail::RecipientState::failed: return "failed";
  }
  return "pending";
}

mail::RecipientState state_from(std::string_view name) {
  if (name == "delivered") return mail::RecipientState::delivered;
  if (name == "failed") return mail::RecipientState::failed;
  return mail::RecipientState::pending;
}

Folder folder_from(std::string_view name) {
  if (name == "hold") return Folder::hold;
  if (name == "failed") return Folder::failed;
  return Folder::active;
}

system_clock::time_point parse_time(std::string_view text) {
  std::tm tm{};
  std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec) != 6)
    return {};
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return system_clock::from_time_t(::timegm(&tm));
}

json::array recipients_json(const std::vector<mail::Recipient>& recipients) {
  json::array out;
  for (const auto& r : recipients) {
    json::object o;
    o["address"] = utf8(r.address);
    o["state"] = state_name(r.state);
    o["last_reply"] = utf8(r.last_reply);
    out.push_back(std::move(o));
  }
  return out;
}

// Field readers that tolerate absent or mistyped fields (an answer from another version, say).
std::string text_of(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

int64_t number_of(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return 0;
}

bool flag_of(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}

std::vector<mail::Recipient> recipients_from(const json::object& o) {
  std::vector<mail::Recipient> out;
  auto* v = o.if_contains("recipients");
  if (!v || !v->is_array()) return out;
  for (const auto& item : v->get_array()) {
    if (!item.is_object()) continue;
    const auto& r = item.get_object();
    out.push_back({text_of(r, "address"), state_from(text_of(r, "state")), text_of(r, "last_reply")});
  }
  return out;
}

json::object entry_object(const QueueEntry& e) {
  json::object o;
  o["id"] = e.id;
  o["folder"] = to_string(e.folder);
  o["age"] = e.age.count();
  o["sender"] = utf8(e.sender);
  o["recipients"] = recipients_json(e.recipients);
  o["attempts"] = e.attempts;
  o["next_attempt"] = format_time(e.next_attempt);
  o["last_error"] = utf8(e.last_error);
  o["size"] = e.size;
  return o;
}

QueueEntry entry_from(const json::object& o) {
  QueueEntry e;
  e.id = text_of(o, "id");
  e.folder = folder_from(text_of(o, "folder"));
  e.age = std::chrono::seconds(number_of(o, "age"));
  e.sender = text_of(o, "sender");
  e.recipients = recipients_from(o);
  e.attempts = static_cast<uint32_t>(number_of(o, "attempts"));
  e.next_attempt = parse_time(text_of(o, "next_attempt"));
  e.last_error = text_of(o, "last_error");
  e.size = static_cast<uint64_t>(number_of(o, "size"));
  return e;
}

json::object details_object(const MessageDetails& d) {
  json::object envelope;
  envelope["mail_from"] = utf8(d.envelope.mail_from);
  envelope["recipients"] = recipients_json(d.envelope.recipients);
  envelope["body"] = d.envelope.body == mail::BodyType::eight_bit_mime ? "8BITMIME" : "7BIT";
  envelope["smtputf8"] = d.envelope.smtputf8;
  envelope["client_address"] = utf8(d.envelope.client_address);
  envelope["client_helo"] = utf8(d.envelope.client_helo);
  envelope["auth_user"] = utf8(d.envelope.auth_user);
  envelope["received_at"] = format_time(d.envelope.received_at);
  json::object o;
  o["entry"] = entry_object(d.entry);
  o["envelope"] = std::move(envelope);
  o["headers"] = utf8(d.headers);
  o["content_path"] = utf8(d.content_path);
  return o;
}

MessageDetails details_from(const json::object& o) {
  MessageDetails d;
  if (auto* e = o.if_contains("entry"); e && e->is_object()) d.entry = entry_from(e->get_object());
  if (auto* v = o.if_contains("envelope"); v && v->is_object()) {
    const auto& env = v->get_object();
    d.envelope.mail_from = text_of(env, "mail_from");
    d.envelope.recipients = recipients_from(env);
    d.envelope.body = text_of(env, "body") == "8BITMIME" ? mail::BodyType::eight_bit_mime : mail::BodyType::seven_bit;
    d.envelope.smtputf8 = flag_of(env, "smtputf8");
    d.envelope.client_address = text_of(env, "client_address");
    d.envelope.client_helo = text_of(env, "client_helo");
    d.envelope.auth_user = text_of(env, "auth_user");
    d.envelope.received_at = parse_time(text_of(env, "received_at"));
  }
  d.headers = text_of(o, "headers");
  d.content_path = text_of(o, "content_path");
  return d;
}

struct VerbName {
  Verb verb;
  std::string_view word;
  std::string_view flag;  // the form without an id ("retry --all"), or empty
  bool takes_id;
};

constexpr VerbName kVerbs[] = {
    {Verb::list, "list", "", false},           {Verb::show, "show", "", true},
    {Verb::retry, "retry", "", true},          {Verb::retry_all, "retry", "--all", false},
    {Verb::remove, "delete", "", true},        {Verb::remove_failed, "delete", "--all-failed", false},
    {Verb::flush, "flush", "", false},         {Verb::hold, "hold", "", true},
    {Verb::release, "release", "", true},
};

}  // namespace

std::optional<Request> parse_request(std::string_view line, std::string& error) {
  if (line.size() > kMaxRequest) {
    error = "request too long";
    return std::nullopt;
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  std::string_view word = line.substr(0, line.find(' '));
  std::string_view argument = word.size() < line.size() ? line.substr(word.size() + 1) : std::string_view();
  bool known_word = false;
  for (const auto& v : kVerbs) {
    if (v.word != word) continue;
    known_word = true;
    if (!v.flag.empty()) {
      if (argument == v.flag) return Request{v.verb, {}};
      continue;
    }
    if (!v.takes_id) {
      if (argument.empty()) return Request{v.verb, {}};
      continue;
    }
    if (argument.empty() || argument.front() == '-') continue;
    if (!is_queue_id(argument)) {
      error = "not a queue id: " + utf8(argument.substr(0, 64));
      return std::nullopt;
    }
    return Request{v.verb, std::string(argument)};
  }
  error = known_word ? "wrong arguments for " + std::string(word) : "unknown request: " + utf8(word.substr(0, 64));
  return std::nullopt;
}

std::string format_request(const Request& request) {
  for (const auto& v : kVerbs) {
    if (v.verb != request.verb) continue;
    std::string line(v.word);
    if (!v.flag.empty()) {
      line += ' ';
      line += v.flag;
    }
    if (v.takes_id) {
      line += ' ';
      line += request.id;
    }
    return line;
  }
  return "list";
}

std::string_view to_string(Status status) {
  switch (status) {
    case Status::ok: return "ok";
    case Status::not_found: return "not_found";
    case Status::invalid: return "invalid";
    case Status::busy: return "busy";
    case Status::failed: return "failed";
    case Status::denied: return "denied";
  }
  return "failed";
}

Status status_of(std::error_code error) {
  if (!error) return Status::ok;
  if (error == std::errc::no_such_file_or_directory) return Status::not_found;
  if (error == std::errc::invalid_argument) return Status::invalid;
  if (error == std::errc::resource_unavailable_try_again || error == std::errc::operation_canceled)
    return Status::busy;
  if (error == std::errc::permission_denied || error == std::errc::operation_not_permitted)
    return Status::denied;
  return Status::failed;
}

std::string encode_answer(const Answer& answer) {
  json::object o;
  o["status"] = to_string(answer.status);
  if (!answer.error.empty()) o["error"] = utf8(answer.error);
  if (answer.count) {
    o["count"] = *answer.count;
  } else if (answer.status == Status::ok && !answer.details) {
    json::array entries;
    for (const auto& e : answer.entries) entries.push_back(entry_object(e));
    o["entries"] = std::move(entries);
  }
  if (answer.details) o["details"] = details_object(*answer.details);
  return json::serialize(o);
}

std::optional<Answer> decode_answer(std::string_view text, std::string& error) {
  std::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    error = "the relay's answer is not JSON" + (ec ? ": " + ec.message() : std::string());
    return std::nullopt;
  }
  const auto& o = value.get_object();
  Answer answer;
  std::string status = text_of(o, "status");
  bool known = false;
  for (Status s : {Status::ok, Status::not_found, Status::invalid, Status::busy, Status::failed, Status::denied}) {
    if (status == to_string(s)) {
      answer.status = s;
      known = true;
    }
  }
  if (!known) {
    error = "the relay's answer has no known status";
    return std::nullopt;
  }
  answer.error = text_of(o, "error");
  if (auto* v = o.if_contains("entries"); v && v->is_array())
    for (const auto& item : v->get_array())
      if (item.is_object()) answer.entries.push_back(entry_from(item.get_object()));
  if (auto* v = o.if_contains("details"); v && v->is_object()) answer.details = details_from(v->get_object());
  if (auto* v = o.if_contains("count"); v && (v->is_uint64() || v->is_int64()))
    answer.count = static_cast<uint64_t>(number_of(o, "count"));
  return answer;
}

namespace {
constexpr std::string_view kEntryPrefix = "{\"entry\":";
}

std::string encode_entry_line(const QueueEntry& entry) {
  std::string line(kEntryPrefix);
  line += json::serialize(entry_object(entry));
  line += '}';
  return line;
}

bool is_entry_line(std::string_view line) { return line.starts_with(kEntryPrefix); }

std::optional<QueueEntry> decode_entry_line(std::string_view line, std::string& error) {
  std::error_code ec;
  json::value value = json::parse(line, ec);
  const json::value* entry = !ec && value.is_object() ? value.get_object().if_contains("entry") : nullptr;
  if (!entry || !entry->is_object()) {
    error = "the relay sent a malformed list entry" + (ec ? ": " + ec.message() : std::string());
    return std::nullopt;
  }
  return entry_from(entry->get_object());
}

std::string entry_json(const QueueEntry& entry) { return json::serialize(entry_object(entry)); }

std::string details_json(const MessageDetails& details) { return json::serialize(details_object(details)) + "\n"; }

std::string format_time(system_clock::time_point time) {
  if (time == system_clock::time_point{}) return "";
  std::time_t t = system_clock::to_time_t(time);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace smarthost::queue::admin
