// Spool read, raw header editing, recipient routing and custom-header selection for the HTTP transports.
#include "upstream/http/outbound_content.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

#include "mail/content_reader.h"
#include "upstream/http/http_client.h"

namespace smarthost::upstream::http {

namespace {

// A header section split into whole fields (continuation lines included).
std::vector<std::string_view> split_fields(std::string_view text) {
  std::vector<std::string_view> fields;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t start = pos;
    do {
      std::size_t eol = text.find('\n', pos);
      pos = eol == std::string_view::npos ? text.size() : eol + 1;
    } while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t'));
    fields.push_back(text.substr(start, pos - start));
  }
  return fields;
}

std::string_view field_name(std::string_view field) {
  auto colon = field.find(':');
  if (colon == std::string_view::npos) return {};
  auto name = field.substr(0, colon);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  return name;
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

void base64_append(std::string& out, std::string_view data) {
  std::size_t at = out.size();
  // Exactly the encoded length: EVP_EncodeBlock's closing NUL lands on the next slice or on the string's own
  // terminator, so a body reserved to its final size is never reallocated here.
  out.resize(at + 4 * ((data.size() + 2) / 3));
  // In slices, so that an int never overflows and the input is read once, straight into the output.
  constexpr std::size_t kSlice = 3 * (1 << 20);
  while (!data.empty()) {
    std::size_t take = std::min(kSlice, data.size());
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + at),
                            reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(take));
    at += static_cast<std::size_t>(n);
    data.remove_prefix(take);
  }
  out.resize(at);
}

std::string base64_encode(std::string_view data) {
  std::string out;
  base64_append(out, data);
  return out;
}

std::string lf_line_ends(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out += text[i];
  }
  return out;
}

LoadedContent load_content(const OutboundMessage& message, uint64_t max_bytes) {
  LoadedContent loaded;
  if (message.size > max_bytes) {
    loaded.error = "message of " + std::to_string(message.size) + " bytes is over the limit of " +
                   std::to_string(max_bytes);
    return loaded;
  }
  mail::ContentReader file(message.content_file, message.content_path);
  if (!file.is_open()) {
    loaded.error = "cannot open the spooled message " + message.content_path;
    return loaded;
  }
  // Room for the header edits and a request's framing around the message, so that neither reallocates it.
  loaded.content.reserve(message.size + kContentSlack);
  loaded.content.resize(message.size);
  if (file.read(message.content_offset, loaded.content.data(), loaded.content.size()) !=
      static_cast<ssize_t>(message.size)) {
    loaded.error = "the spooled message " + message.content_path + " is shorter than recorded";
    loaded.content = std::string();
  }
  return loaded;
}

bool is_control_header(std::string_view name) {
  return starts_with_nocase(name, "x-mailgun-") || starts_with_nocase(name, "x-ses-") ||
         starts_with_nocase(name, "x-pm-") || iequals(name, "x-smtpapi");
}

std::string remove_header_fields(std::string_view header_section, const std::vector<std::string_view>& names,
                                 const std::vector<std::string_view>& prefixes) {
  std::string out;
  out.reserve(header_section.size());
  for (auto field : split_fields(header_section)) {
    auto name = field_name(field);
    bool drop = !name.empty() &&
                (std::any_of(names.begin(), names.end(), [&](std::string_view n) { return iequals(name, n); }) ||
                 std::any_of(prefixes.begin(), prefixes.end(),
                             [&](std::string_view p) { return starts_with_nocase(name, p); }));
    if (!drop) out.append(field);
  }
  return out;
}

void prepare_raw_message_in_place(std::string& message, const SenderIdentity& identity, bool allow_control_headers) {
  std::size_t header_length = header_section_length(message);
  if (header_length == std::string::npos) header_length = message.size();
  std::string_view headers = std::string_view(message).substr(0, header_length);
  bool no_body = header_length == message.size();
  std::vector<std::string_view> prefixes;
  if (!allow_control_headers) prefixes = {"x-mailgun-", "x-ses-", "x-pm-"};
  std::vector<std::string_view> names{"bcc", "resent-bcc"};
  if (!allow_control_headers) names.push_back("x-smtpapi");
  std::string edited = remove_header_fields(headers, names, prefixes);
  if (identity.active()) edited = rewrite_headers(edited, identity);
  // A message without a blank line after its headers gets one, so that the provider sees a body separator.
  if (!edited.ends_with("\r\n\r\n") && edited != "\r\n" && no_body) {
    if (!edited.ends_with("\r\n")) edited += "\r\n";
    edited += "\r\n";
  }
  // Only the header section moves; the body stays where it is (no second copy of a large message).
  message.replace(0, header_length, edited);
}

std::string prepare_raw_message(std::string_view message, const SenderIdentity& identity, bool allow_control_headers) {
  std::string raw(message);
  prepare_raw_message_in_place(raw, identity, allow_control_headers);
  return raw;
}

std::vector<RoutedRecipient> route_recipients(const MimeView& view, const std::vector<std::string>& envelope) {
  std::vector<RoutedRecipient> routed;
  auto find_in = [](const std::vector<MailboxAddress>& list, std::string_view email) -> const MailboxAddress* {
    for (const auto& m : list)
      if (iequals(m.email, email)) return &m;
    return nullptr;
  };
  for (std::size_t i = 0; i < envelope.size(); ++i) {
    const auto& email = envelope[i];
    auto same = std::find_if(routed.begin(), routed.end(), [&](const auto& r) { return iequals(r.email, email); });
    if (same != routed.end()) {
      same->indices.push_back(i);
      continue;
    }
    RoutedRecipient recipient;
    recipient.email = email;
    recipient.indices = {i};
    if (const auto* m = find_in(view.to, email)) {
      recipient.role = Role::to;
      recipient.name = m->name;
    } else if (const auto* c = find_in(view.cc, email)) {
      recipient.role = Role::cc;
      recipient.name = c->name;
    }
    routed.push_back(std::move(recipient));
  }
  return routed;
}

std::vector<std::vector<RoutedRecipient>> chunk(const std::vector<RoutedRecipient>& recipients,
                                                std::size_t max_per_group) {
  std::vector<std::vector<RoutedRecipient>> groups;
  if (max_per_group == 0) max_per_group = 1;
  for (std::size_t i = 0; i < recipients.size(); i += max_per_group) {
    auto end = std::min(recipients.size(), i + max_per_group);
    groups.emplace_back(recipients.begin() + static_cast<std::ptrdiff_t>(i),
                        recipients.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return groups;
}

std::string header_injection(const MimeView& view, const ResolvedSender& sender) {
  std::vector<std::pair<std::string_view, std::string_view>> checked{
      {"From", sender.from.email}, {"From name", sender.from.name}, {"Subject", view.subject}};
  for (const auto& r : sender.reply_to) checked.insert(checked.end(), {{"Reply-To", r.email}, {"Reply-To name", r.name}});
  for (const auto& m : view.to) checked.emplace_back("To name", m.name);
  for (const auto& m : view.cc) checked.emplace_back("Cc name", m.name);
  for (const auto& a : view.attachments) {
    checked.emplace_back("an attachment's file name", a.filename);
    checked.emplace_back("an attachment's content type", a.content_type);
    checked.emplace_back("an attachment's Content-ID", a.content_id);
  }
  for (const auto& [what, value] : checked) {
    if (!is_header_safe(value)) return std::string(what) + " contains CR, LF or NUL: refused (header injection)";
  }
  return {};
}

ResolvedSender resolve_sender(const MimeView& view, const SenderIdentity& identity) {
  ResolvedSender sender;
  const bool always = identity.mode == conf::FromMode::always && !identity.from_email.empty();
  const bool has_from = !view.from.empty();
  if (always || (!has_from && !identity.from_email.empty())) {
    sender.from = {identity.from_name, identity.from_email};
  } else if (has_from) {
    sender.from = view.from.front();
  } else {
    sender.error = "the message has no From header and no from_email is configured";
    return sender;
  }
  std::vector<MailboxAddress> configured_reply_to;
  if (!identity.reply_to.empty()) configured_reply_to = parse_address_list(identity.reply_to);
  if (!view.reply_to.empty() && !(always && !configured_reply_to.empty())) {
    sender.reply_to = view.reply_to;
  } else if (!configured_reply_to.empty()) {
    sender.reply_to = configured_reply_to;
  } else if (always && has_from) {
    // The original author still gets the answers when From was rewritten.
    sender.reply_to = {view.from.front()};
  }
  return sender;
}

std::vector<MimeHeader> custom_headers(const MimeView& view, bool allow_control_headers,
                                       const std::vector<std::string_view>& extra_forbidden_prefixes) {
  static const std::string_view kStructural[] = {
      "from", "to", "cc", "bcc", "subject", "reply-to", "sender", "date", "message-id", "mime-version",
      "content-type", "content-transfer-encoding", "content-disposition", "content-id", "content-description",
      "dkim-signature", "received", "return-path", "delivered-to", "resent-from", "resent-to", "resent-cc",
      "resent-bcc", "resent-date", "resent-message-id", "resent-sender", "arc-seal", "arc-message-signature",
      "arc-authentication-results", "authentication-results", "received-spf", "x-original-to"};
  std::vector<MimeHeader> out;
  for (const auto& header : view.headers) {
    const auto& name = header.name;
    if (name.empty() || !is_header_safe(name) || !is_header_safe(header.raw)) continue;
    if (std::any_of(std::begin(kStructural), std::end(kStructural), [&](auto s) { return iequals(name, s); })) continue;
    if (!allow_control_headers && is_control_header(name)) continue;
    if (std::any_of(extra_forbidden_prefixes.begin(), extra_forbidden_prefixes.end(),
                    [&](std::string_view p) { return starts_with_nocase(name, p); }))
      continue;
    out.push_back(header);
  }
  return out;
}

}  // namespace smarthost::upstream::http
