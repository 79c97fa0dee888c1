// Sender identity rewriting of a header section (see the header). Works on whole fields, folded lines included.
#include "upstream/header_rewrite.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

namespace smarthost::upstream {
namespace {

struct Field {
  std::string_view name;  // as written
  std::string_view raw;   // the whole field, continuation lines and final CRLF included
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Splits a header section (without its blank line) into fields. A line that starts with a space or tab belongs
// to the field before it; a stray leading continuation line becomes a field of its own with an empty name.
std::vector<Field> split_fields(std::string_view text) {
  std::vector<Field> fields;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = pos;
    do {
      size_t eol = text.find('\n', pos);
      pos = eol == std::string_view::npos ? text.size() : eol + 1;
    } while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t'));
    std::string_view raw = text.substr(start, pos - start);
    size_t colon = raw.find(':');
    std::string_view name = colon == std::string_view::npos ? std::string_view{} : raw.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    fields.push_back({name, raw});
  }
  return fields;
}

// The field's value unfolded and trimmed.
std::string field_value(const Field& field) {
  size_t colon = field.raw.find(':');
  std::string out;
  for (char c : field.raw.substr(colon + 1)) {
    if (c == '\r' || c == '\n') continue;
    out.push_back(c);
  }
  auto not_space = [](char c) { return c != ' ' && c != '\t'; };
  out.erase(out.begin(), std::find_if(out.begin(), out.end(), not_space));
  out.erase(std::find_if(out.rbegin(), out.rend(), not_space).base(), out.end());
  return out;
}

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool is_atext_phrase(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-/=?^_`{|}~ ").find(c) !=
                                                              std::string_view::npos;
  });
}

}  // namespace

SenderIdentity SenderIdentity::from_config(const conf::CommonProviderConfig& common) {
  return {common.from_email, common.from_name, common.reply_to, common.from_mode};
}

size_t header_section_length(std::string_view message) {
  if (message.starts_with("\r\n")) return 2;
  size_t end = message.find("\r\n\r\n");
  return end == std::string_view::npos ? std::string_view::npos : end + 4;
}

std::string format_mailbox(std::string_view name, std::string_view email) {
  if (name.empty()) return std::string(email);
  std::string out;
  bool ascii = std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f;
  });
  if (!ascii) {
    out = "=?UTF-8?B?" + base64(name) + "?=";
  } else if (is_atext_phrase(name)) {
    out = std::string(name);
  } else {
    out.push_back('"');
    for (char c : name) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.append(" <").append(email).append(">");
  return out;
}

std::string rewrite_headers(std::string_view header_section, const SenderIdentity& identity) {
  std::string_view blank;
  std::string_view body = header_section;
  if (body == "\r\n") {
    blank = body;
    body = {};
  } else if (body.ends_with("\r\n\r\n")) {
    blank = body.substr(body.size() - 2);
    body.remove_suffix(2);
  }
  std::vector<Field> fields = split_fields(body);
  auto has = [&](std::string_view name) {
    return std::any_of(fields.begin(), fields.end(), [&](const Field& f) { return iequals(f.name, name); });
  };
  const bool had_from = has("From");
  const bool had_reply_to = has("Reply-To");
  const bool always = identity.mode == conf::FromMode::always;
  const std::string new_from =
      identity.from_email.empty() ? std::string{} : "From: " + format_mailbox(identity.from_name, identity.from_email) + "\r\n";

  std::optional<std::string> original_from;
  std::string out;
  out.reserve(header_section.size() + 256);
  bool from_written = false;
  bool reply_to_written = false;
  for (const Field& f : fields) {
    if (iequals(f.name, "From") && always && !new_from.empty()) {
      if (!original_from) original_from = field_value(f);
      if (!from_written) out.append(new_from);
      from_written = true;
      continue;
    }
    if (iequals(f.name, "Reply-To") && always && !identity.reply_to.empty()) {
      if (!reply_to_written) out.append("Reply-To: ").append(identity.reply_to).append("\r\n");
      reply_to_written = true;
      continue;
    }
    out.append(f.raw);
  }
  if (!from_written && !had_from && !new_from.empty()) out.append(new_from);
  if (!reply_to_written && !had_reply_to) {
    if (!identity.reply_to.empty()) {
      out.append("Reply-To: ").append(identity.reply_to).append("\r\n");
    } else if (original_from && !original_from->empty()) {
      out.append("Reply-To: ").append(*original_from).append("\r\n");
    }
  }
  out.append(blank);
  return out;
}

}  // namespace smarthost::upstream
