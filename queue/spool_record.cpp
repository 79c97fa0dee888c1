// Encoding and parsing of the spool's envelope record and state sidecar (format in spool_record.h).
#include "queue/spool_record.h"

#include <charconv>
#include <cstdio>
#include <vector>

namespace smarthost::queue {
namespace {

using std::chrono::microseconds;
using std::chrono::system_clock;

constexpr std::string_view kRecordMagic = "smarthost-spool 1 ";
constexpr std::string_view kStateMagic = "smarthost-state 1\n";

std::string escape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == '%' || byte == 0x7f) {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 15]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool unescape(std::string_view value, std::string& out) {
  out.clear();
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      out.push_back(value[i]);
      continue;
    }
    if (i + 2 >= value.size()) return false;
    int high = hex_value(value[i + 1]), low = hex_value(value[i + 2]);
    if (high < 0 || low < 0) return false;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return true;
}

int64_t to_micros(system_clock::time_point when) {
  return std::chrono::duration_cast<microseconds>(when.time_since_epoch()).count();
}

template <typename Number>
bool parse_number(std::string_view text, Number& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_time(std::string_view text, system_clock::time_point& out) {
  int64_t micros = 0;
  if (!parse_number(text, micros)) return false;
  out = system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(microseconds(micros)));
  return true;
}

std::string_view state_name(mail::RecipientState state) {
  switch (state) {
    case mail::RecipientState::pending: return "pending";
    case mail::RecipientState::delivered: return "delivered";
    case mail::RecipientState::failed: return "failed";
  }
  return "pending";
}

bool parse_state_name(std::string_view text, mail::RecipientState& out) {
  if (text == "pending") out = mail::RecipientState::pending;
  else if (text == "delivered") out = mail::RecipientState::delivered;
  else if (text == "failed") out = mail::RecipientState::failed;
  else return false;
  return true;
}

// Splits on single spaces, keeping empty fields (an empty value is an empty field).
std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t space = line.find(' ', start);
    out.push_back(line.substr(start, space == line.npos ? line.npos : space - start));
    if (space == line.npos) break;
    start = space + 1;
  }
  return out;
}

void append_retry_state(std::string& out, const StoredMessage& message) {
  // Appended piece by piece: no temporaries (and no GCC 12 -O3 -Wstringop-overflow false positive on them).
  out += "attempts ";
  out += std::to_string(message.attempts);
  out += "\nnext ";
  out += std::to_string(to_micros(message.next_attempt));
  out += "\nerror ";
  out += escape(message.last_error);
  out += '\n';
  for (const auto& recipient : message.envelope.recipients) {
    out += "rcpt ";
    out += state_name(recipient.state);
    out += ' ';
    out += escape(recipient.address);
    out += ' ';
    out += escape(recipient.last_reply);
    out += '\n';
  }
}

// Handles the lines both formats share; returns false (and sets error) on a malformed known line.
// `recipient_index` counts rcpt lines; `append_recipients` adds them (record) or updates in order (state).
bool parse_common(const std::vector<std::string_view>& parts, StoredMessage& message, size_t& recipient_index,
                  bool append_recipients, std::string& error) {
  std::string_view key = parts[0];
  std::string value;
  if (key == "attempts") {
    if (parts.size() != 2 || !parse_number(parts[1], message.attempts)) return error = "bad attempts", false;
  } else if (key == "next") {
    if (parts.size() != 2 || !parse_time(parts[1], message.next_attempt)) return error = "bad next", false;
  } else if (key == "error") {
    if (parts.size() != 2 || !unescape(parts[1], message.last_error)) return error = "bad error", false;
  } else if (key == "rcpt") {
    mail::Recipient recipient;
    if (parts.size() != 4 || !parse_state_name(parts[1], recipient.state) ||
        !unescape(parts[2], recipient.address) || !unescape(parts[3], recipient.last_reply)) {
      return error = "bad rcpt", false;
    }
    auto& recipients = message.envelope.recipients;
    if (append_recipients) {
      recipients.push_back(std::move(recipient));
    } else {
      if (recipient_index >= recipients.size() || recipients[recipient_index].address != recipient.address) {
        return error = "state names other recipients than the record", false;
      }
      recipients[recipient_index] = std::move(recipient);
    }
    ++recipient_index;
  }
  return true;
}

}  // namespace

std::string_view to_string(Folder folder) {
  switch (folder) {
    case Folder::active: return "active";
    case Folder::hold: return "hold";
    case Folder::failed: return "failed";
  }
  return "active";
}

bool StoredMessage::has_pending() const {
  for (const auto& recipient : envelope.recipients)
    if (recipient.state == mail::RecipientState::pending) return true;
  return false;
}

bool StoredMessage::has_failed() const {
  for (const auto& recipient : envelope.recipients)
    if (recipient.state == mail::RecipientState::failed) return true;
  return false;
}

std::string encode_record(const StoredMessage& message) {
  const auto& envelope = message.envelope;
  std::string body;
  body += "id " + escape(message.id) + "\n";
  body += "from " + escape(envelope.mail_from) + "\n";
  body += envelope.body == mail::BodyType::eight_bit_mime ? "body 8bitmime\n" : "body 7bit\n";
  body += envelope.smtputf8 ? "smtputf8 1\n" : "smtputf8 0\n";
  body += "client " + escape(envelope.client_address) + "\n";
  body += "helo " + escape(envelope.client_helo) + "\n";
  body += "auth " + escape(envelope.auth_user) + "\n";
  body += "received " + std::to_string(to_micros(envelope.received_at)) + "\n";
  if (message.check) {
    char crc[9];
    std::snprintf(crc, sizeof crc, "%08x", message.check->crc);
    body += "check ";
    body += std::to_string(message.check->octets);
    body += ' ';
    body += crc;
    body += '\n';
  }
  append_retry_state(body, message);
  body += "end\n";

  uint64_t offset = kRecordBlock;
  std::string first;
  while (true) {
    first = std::string(kRecordMagic) + std::to_string(offset) + "\n";
    if (first.size() + body.size() <= offset) break;
    offset += kRecordBlock;
  }
  std::string out = first + body;
  out.resize(offset, '\0');
  return out;
}

std::string encode_state(const StoredMessage& message) {
  std::string out(kStateMagic);
  append_retry_state(out, message);
  out += "end\n";
  return out;
}

uint64_t record_content_offset(std::string_view first_bytes) {
  if (!first_bytes.starts_with(kRecordMagic)) return 0;
  std::string_view rest = first_bytes.substr(kRecordMagic.size());
  size_t end = rest.find('\n');
  if (end == rest.npos) return 0;
  uint64_t offset = 0;
  if (!parse_number(rest.substr(0, end), offset)) return 0;
  if (offset == 0 || offset % kRecordBlock != 0 || offset > kMaxRecordSize) return 0;
  return offset;
}

bool parse_record(std::string_view record, StoredMessage& message, std::string& error) {
  uint64_t offset = record_content_offset(record);
  if (offset == 0) return error = "not a spool record", false;
  message.content_offset = offset;
  message.check.reset();
  message.envelope.recipients.clear();
  size_t recipient_index = 0;
  size_t start = record.find('\n') + 1;
  bool ended = false;
  while (start < record.size()) {
    size_t end = record.find('\n', start);
    if (end == record.npos) break;
    std::string_view line = record.substr(start, end - start);
    start = end + 1;
    if (line == "end") {
      ended = true;
      break;
    }
    auto parts = fields(line);
    std::string_view key = parts[0];
    auto& envelope = message.envelope;
    if (key == "id") {
      if (parts.size() != 2 || !unescape(parts[1], message.id)) return error = "bad id", false;
    } else if (key == "from") {
      if (parts.size() != 2 || !unescape(parts[1], envelope.mail_from)) return error = "bad from", false;
    } else if (key == "body") {
      if (parts.size() != 2) return error = "bad body", false;
      envelope.body = parts[1] == "8bitmime" ? mail::BodyType::eight_bit_mime : mail::BodyType::seven_bit;
    } else if (key == "smtputf8") {
      if (parts.size() != 2) return error = "bad smtputf8", false;
      envelope.smtputf8 = parts[1] == "1";
    } else if (key == "client") {
      if (parts.size() != 2 || !unescape(parts[1], envelope.client_address)) return error = "bad client", false;
    } else if (key == "helo") {
      if (parts.size() != 2 || !unescape(parts[1], envelope.client_helo)) return error = "bad helo", false;
    } else if (key == "auth") {
      if (parts.size() != 2 || !unescape(parts[1], envelope.auth_user)) return error = "bad auth", false;
    } else if (key == "received") {
      if (parts.size() != 2 || !parse_time(parts[1], envelope.received_at)) return error = "bad received", false;
    } else if (key == "check") {
      ContentCheck check;
      if (parts.size() != 3 || !parse_number(parts[1], check.octets) || parts[2].size() != 8 ||
          std::from_chars(parts[2].data(), parts[2].data() + 8, check.crc, 16).ptr != parts[2].data() + 8) {
        return error = "bad check", false;
      }
      message.check = check;
    } else if (!parse_common(parts, message, recipient_index, true, error)) {
      return false;
    }
  }
  if (!ended) return error = "record has no end line", false;
  return true;
}

bool parse_state(std::string_view state, StoredMessage& message, std::string& error) {
  if (!state.starts_with(kStateMagic)) return error = "not a state file", false;
  StoredMessage updated = message;
  size_t recipient_index = 0;
  size_t start = kStateMagic.size();
  bool ended = false;
  while (start < state.size()) {
    size_t end = state.find('\n', start);
    if (end == state.npos) break;
    std::string_view line = state.substr(start, end - start);
    start = end + 1;
    if (line == "end") {
      ended = true;
      break;
    }
    if (!parse_common(fields(line), updated, recipient_index, false, error)) return false;
  }
  if (!ended) return error = "state file has no end line", false;
  if (recipient_index != updated.envelope.recipients.size()) return error = "state misses recipients", false;
  message = std::move(updated);
  return true;
}

}  // namespace smarthost::queue
