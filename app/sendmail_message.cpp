// sendmail-compatible message preparation: line ends, -t recipient extraction, Bcc removal, added headers.
#include "app/sendmail_message.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <optional>
#include <random>

namespace smarthost::app {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

struct Header {
  std::string name;
  std::string raw;  // the whole header, folded lines included, each ending in CRLF
  std::string value;  // unfolded value
};

std::string rfc5322_date() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S %z", &tm);
  return buf;
}

std::string message_id(const std::string& hostname) {
  std::random_device rd;
  auto now = std::chrono::system_clock::now().time_since_epoch().count();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%llx.%08x", static_cast<unsigned long long>(now), rd());
  return std::string("<") + buf + "@" + hostname + ">";
}

}  // namespace

std::string parse_sendmail_args(const std::vector<std::string>& args, SendmailOptions& o) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](size_t prefix) -> std::optional<std::string> {
      if (a.size() > prefix) return a.substr(prefix);
      if (i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    if (a == "--") {
      o.recipients.insert(o.recipients.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.empty() || a[0] != '-') {
      o.recipients.push_back(a);
      continue;
    }
    if (a == "-t") {
      o.extract_recipients = true;
    } else if (a == "-i" || a == "-oi") {
      o.ignore_dots = true;
    } else if (a.rfind("-f", 0) == 0 || a.rfind("-r", 0) == 0) {
      auto v = value(2);
      if (!v) return a.substr(0, 2) + " needs an address";
      std::string s = *v;
      if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
      o.sender = s;
    } else if (a.rfind("-F", 0) == 0) {
      auto v = value(2);
      if (!v) return "-F needs a name";
      o.full_name = *v;
    } else if (a == "-bs") {
      o.smtp_on_stdio = true;
    } else if (a == "-bm") {
      // deliver mail in the usual way: the default
    } else if (a.rfind("-o", 0) == 0 || a.rfind("-od", 0) == 0 || a == "-v" || a == "-m" || a == "-n" ||
               a == "-U" || a == "-Am" || a == "-Ac" || a == "-G") {
      // Accepted for compatibility; no effect (-odi, -odb, -oem, -oep, -oee, -om, -oQ..., -v).
      if ((a == "-oA" || a == "-oQ" || a == "-oL") && i + 1 < args.size()) ++i;
    } else if (a.rfind("-N", 0) == 0 || a.rfind("-R", 0) == 0 || a.rfind("-V", 0) == 0 || a.rfind("-X", 0) == 0 ||
               a.rfind("-B", 0) == 0 || a.rfind("-C", 0) == 0 || a.rfind("-L", 0) == 0 || a.rfind("-h", 0) == 0) {
      // DSN notify, return, envelope id, log file, body type, config, label, hop count: accepted, ignored.
      if (a.size() == 2 && i + 1 < args.size()) ++i;
    } else {
      return "unsupported option " + a;
    }
  }
  return "";
}

std::vector<std::string> parse_address_list(std::string_view value) {
  std::vector<std::string> out;
  std::string current, angle;
  bool in_quote = false, in_angle = false, saw_angle = false;
  int comment = 0;
  auto flush = [&] {
    std::string addr = saw_angle ? angle : current;
    // Trim spaces.
    auto b = addr.find_first_not_of(" \t");
    auto e = addr.find_last_not_of(" \t");
    if (b != std::string::npos) {
      addr = addr.substr(b, e - b + 1);
      if (addr.find('@') != std::string::npos || !addr.empty()) out.push_back(addr);
    }
    current.clear();
    angle.clear();
    saw_angle = false;
  };
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (comment > 0) {
      if (c == '(') ++comment;
      if (c == ')') --comment;
      continue;
    }
    if (in_quote) {
      if (c == '\\' && i + 1 < value.size()) {
        ++i;
      } else if (c == '"') {
        in_quote = false;
      }
      if (in_angle) angle += c;
      continue;
    }
    switch (c) {
      case '"':
        in_quote = true;
        if (in_angle) angle += c;
        break;
      case '(': ++comment; break;
      case '<':
        in_angle = true;
        saw_angle = true;
        angle.clear();
        break;
      case '>': in_angle = false; break;
      case ':':  // group name: "undisclosed-recipients:" ends the display part
        if (!in_angle) {
          current.clear();
        } else {
          angle += c;
        }
        break;
      case ',':
      case ';':
        if (in_angle) {
          angle += c;
        } else {
          flush();
        }
        break;
      default:
        if (in_angle) {
          angle += c;
        } else {
          current += c;
        }
    }
  }
  flush();
  std::erase_if(out, [](const std::string& a) { return a.empty(); });
  return out;
}

PreparedMessage prepare_message(std::string_view input, const SendmailOptions& o, const std::string& default_sender,
                                const std::string& hostname) {
  PreparedMessage m;
  m.sender = o.sender.empty() ? default_sender : o.sender;
  // Split into lines, ending at EOF or (without -i) at a line holding a single '.'.
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < input.size()) {
    size_t nl = input.find('\n', pos);
    std::string_view line = input.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? input.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!o.ignore_dots && line == ".") break;
    lines.push_back(line);
  }
  // Headers up to the first empty line (a first line that is not a header starts the body).
  std::vector<Header> headers;
  size_t body_start = 0;
  for (; body_start < lines.size(); ++body_start) {
    std::string_view line = lines[body_start];
    if (line.empty()) break;
    if ((line[0] == ' ' || line[0] == '\t') && !headers.empty()) {
      headers.back().raw += std::string(line) + "\r\n";
      headers.back().value += " " + std::string(line.substr(line.find_first_not_of(" \t")));
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || line.substr(0, colon).find(' ') != std::string_view::npos) break;
    Header h;
    h.name = std::string(line.substr(0, colon));
    h.raw = std::string(line) + "\r\n";
    auto v = line.substr(colon + 1);
    auto b = v.find_first_not_of(" \t");
    h.value = b == std::string_view::npos ? "" : std::string(v.substr(b));
    headers.push_back(std::move(h));
  }
  m.recipients = o.recipients;
  bool has_from = false, has_date = false, has_id = false;
  std::string out;
  for (const auto& h : headers) {
    if (o.extract_recipients && (iequals(h.name, "To") || iequals(h.name, "Cc") || iequals(h.name, "Bcc"))) {
      for (auto& a : parse_address_list(h.value)) m.recipients.push_back(a);
    }
    if (iequals(h.name, "Bcc")) continue;  // never passed on
    if (iequals(h.name, "From")) has_from = true;
    if (iequals(h.name, "Date")) has_date = true;
    if (iequals(h.name, "Message-ID")) has_id = true;
    out += h.raw;
  }
  std::string added;
  if (!has_from) {
    if (o.full_name.empty()) {
      added += "From: " + m.sender + "\r\n";
    } else {
      added += "From: \"" + o.full_name + "\" <" + m.sender + ">\r\n";
    }
  }
  if (!has_date) added += "Date: " + rfc5322_date() + "\r\n";
  if (!has_id) added += "Message-ID: " + message_id(hostname) + "\r\n";
  m.content = added + out + "\r\n";
  size_t first_body = body_start < lines.size() && lines[body_start].empty() ? body_start + 1 : body_start;
  for (size_t i = first_body; i < lines.size(); ++i) {
    m.content.append(lines[i]);
    m.content += "\r\n";
  }
  // Deduplicate recipients, keeping order.
  std::vector<std::string> unique;
  for (auto& r : m.recipients) {
    if (std::find(unique.begin(), unique.end(), r) == unique.end()) unique.push_back(r);
  }
  m.recipients = std::move(unique);
  return m;
}

}  // namespace smarthost::app
