// parse_mime on GMime 3: parses with liberal options (fallback charsets UTF-8 then ISO-8859-1, loose RFC 2047 and
// address rules), then walks the MIME tree choosing the text and HTML bodies and collecting attachments.
// GMime objects stay inside this file and are released on every path (GObject references held by small guards).
#include "upstream/http/mime_view.h"

#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <strings.h>

namespace smarthost::upstream::http {

namespace {

void gmime_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

struct GObjectUnref {
  void operator()(void* object) const {
    if (object) g_object_unref(object);
  }
};
template <typename T>
using GRef = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(void* p) const { g_free(p); }
};
using GString_ = std::unique_ptr<char, GFree>;

std::string to_utf8(std::string_view text) {
  return is_valid_utf8(text) ? std::string(text) : latin1_to_utf8(text);
}

std::string safe(const char* text) { return text ? to_utf8(text) : std::string(); }

void add_addresses(InternetAddressList* list, std::vector<MailboxAddress>& out) {
  if (!list) return;
  int count = internet_address_list_length(list);
  for (int i = 0; i < count; ++i) {
    InternetAddress* address = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_MAILBOX(address)) {
      MailboxAddress mailbox;
      mailbox.name = safe(internet_address_get_name(address));
      mailbox.email = safe(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address)));
      if (!mailbox.email.empty()) out.push_back(std::move(mailbox));
    } else if (INTERNET_ADDRESS_IS_GROUP(address)) {
      add_addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(address)), out);
    }
  }
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string extension_for(std::string_view type) {
  static const std::pair<std::string_view, std::string_view> kKnown[] = {
      {"image/png", ".png"},        {"image/jpeg", ".jpg"},      {"image/gif", ".gif"},
      {"image/webp", ".webp"},      {"image/svg+xml", ".svg"},   {"application/pdf", ".pdf"},
      {"text/plain", ".txt"},       {"text/html", ".html"},      {"text/calendar", ".ics"},
      {"text/csv", ".csv"},         {"message/rfc822", ".eml"},  {"application/zip", ".zip"},
      {"application/json", ".json"}, {"application/pgp-signature", ".asc"}};
  for (const auto& [known, ext] : kKnown)
    if (type == known) return std::string(ext);
  return ".bin";
}

// The decoded bytes of a leaf part (transfer encoding undone, charset untouched), decoded in steps straight into
// the result: a large attachment is held once, not also in a growing GMime buffer.
std::string part_bytes(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  GMimeStream* source = content ? g_mime_data_wrapper_get_stream(content) : nullptr;
  if (!source || g_mime_stream_reset(source) == -1) return {};
  const GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding(content);
  if (encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
    // GMime's filter finds the "begin" line; rare enough to take the buffered way.
    GRef<GMimeStream> stream(g_mime_stream_mem_new());
    g_mime_data_wrapper_write_to_stream(content, stream.get());
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream.get()));
    return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
  }
  const bool decode = encoding == GMIME_CONTENT_ENCODING_BASE64 ||
                      encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
  GMimeEncoding state;
  if (decode) g_mime_encoding_init_decode(&state, encoding);
  std::string out;
  if (gint64 length = g_mime_stream_length(source); length > 0)
    out.reserve(static_cast<std::size_t>(encoding == GMIME_CONTENT_ENCODING_BASE64 ? length / 4 * 3 + 3 : length));
  std::string in(64 * 1024, '\0');
  std::string step(decode ? g_mime_encoding_outlen(&state, in.size()) : 0, '\0');
  for (;;) {
    ssize_t n = g_mime_stream_read(source, in.data(), in.size());
    if (n <= 0) break;
    if (!decode) {
      out.append(in.data(), static_cast<std::size_t>(n));
      continue;
    }
    std::size_t made = g_mime_encoding_step(&state, in.data(), static_cast<std::size_t>(n), step.data());
    out.append(step.data(), made);
  }
  if (decode) out.append(step.data(), g_mime_encoding_flush(&state, nullptr, 0, step.data()));
  return out;
}

// A text part in UTF-8: GMime converts from the declared charset; an unknown or missing one falls back to UTF-8
// when the bytes are valid UTF-8, else ISO-8859-1.
std::string text_of(GMimeObject* object, std::vector<std::string>& notes) {
  if (GMIME_IS_TEXT_PART(object)) {
    const char* charset = g_mime_text_part_get_charset(GMIME_TEXT_PART(object));
    if (charset && *charset) {
      if (GString_ text{g_mime_text_part_get_text(GMIME_TEXT_PART(object))}; text) {
        std::string converted(text.get());
        if (is_valid_utf8(converted)) return converted;
      }
      notes.push_back(std::string("text in charset '") + charset + "' could not be converted; read as ISO-8859-1");
    }
  }
  return to_utf8(part_bytes(GMIME_PART(object)));
}

struct Walker {
  MimeView& view;
  int index = 0;

  void attach(GMimeObject* object, bool inline_part, std::string data) {
    MimeAttachment attachment;
    GMimeContentType* type = g_mime_object_get_content_type(object);
    GString_ mime_type{type ? g_mime_content_type_get_mime_type(type) : nullptr};
    attachment.content_type = mime_type ? lower(mime_type.get()) : "application/octet-stream";
    if (GMIME_IS_PART(object)) attachment.filename = safe(g_mime_part_get_filename(GMIME_PART(object)));
    if (attachment.filename.empty()) {
      if (GMimeContentDisposition* d = g_mime_object_get_content_disposition(object))
        attachment.filename = safe(g_mime_content_disposition_get_parameter(d, "filename"));
    }
    if (attachment.filename.empty())
      attachment.filename = "part-" + std::to_string(index) + extension_for(attachment.content_type);
    attachment.content_id = safe(g_mime_object_get_content_id(object));
    attachment.inline_part = inline_part;
    attachment.data = std::move(data);
    view.attachments.push_back(std::move(attachment));
  }

  void walk(GMimeObject* object, bool in_related, int depth) {
    ++index;
    if (depth > 32) {
      view.notes.push_back("MIME nesting deeper than 32 levels: the rest was ignored");
      return;
    }
    if (GMIME_IS_MESSAGE_PART(object)) {
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
      GString_ text{inner ? g_mime_object_to_string(GMIME_OBJECT(inner), nullptr) : nullptr};
      attach(object, false, text ? std::string(text.get()) : std::string());
      if (view.attachments.back().filename.starts_with("part-")) view.attachments.back().filename = "message.eml";
      return;
    }
    if (GMIME_IS_MULTIPART(object)) {
      GMimeMultipart* multipart = GMIME_MULTIPART(object);
      GMimeContentType* type = g_mime_object_get_content_type(object);
      const char* subtype = type ? g_mime_content_type_get_media_subtype(type) : nullptr;
      bool related = subtype && strcasecmp(subtype, "related") == 0;
      int count = g_mime_multipart_get_count(multipart);
      for (int i = 0; i < count; ++i) {
        GMimeObject* child = g_mime_multipart_get_part(multipart, i);
        // In multipart/related the first part is the body; the others are the resources it refers to.
        walk(child, related && i > 0, depth + 1);
      }
      return;
    }
    if (!GMIME_IS_PART(object)) return;

    GMimeContentDisposition* disposition = g_mime_object_get_content_disposition(object);
    bool is_attachment = disposition && g_mime_content_disposition_is_attachment(disposition);
    bool declared_inline = disposition && !is_attachment;
    GMimeContentType* type = g_mime_object_get_content_type(object);
    bool is_plain = type && g_mime_content_type_is_type(type, "text", "plain");
    bool is_html = type && g_mime_content_type_is_type(type, "text", "html");
    bool named = g_mime_part_get_filename(GMIME_PART(object)) != nullptr;

    if (!is_attachment && !in_related && (is_plain || is_html) && !(named && declared_inline)) {
      auto& body = is_plain ? view.text : view.html;
      std::string text = text_of(object, view.notes);
      if (!body) {
        body = std::move(text);
      } else if (is_plain) {
        // Several inline text parts (a text, an attachment, more text): shown one after the other.
        *body += "\n" + text;
      } else {
        attach(object, false, part_bytes(GMIME_PART(object)));
      }
      return;
    }
    bool has_id = g_mime_object_get_content_id(object) != nullptr;
    bool inline_part = !is_attachment && (declared_inline || in_related) && has_id;
    attach(object, inline_part, part_bytes(GMIME_PART(object)));
  }
};

void on_warning(gint64, GMimeParserWarning code, const gchar* item, gpointer user) {
  auto* notes = static_cast<std::vector<std::string>*>(user);
  std::string what;
  switch (code) {
    case GMIME_WARN_MALFORMED_MULTIPART: what = "a multipart without parts"; break;
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY: what = "a multipart without a boundary"; break;
    case GMIME_WARN_TRUNCATED_MESSAGE: what = "the message is truncated"; break;
    case GMIME_WARN_MALFORMED_MESSAGE: what = "the message is malformed"; break;
    case GMIME_CRIT_INVALID_HEADER_NAME: what = "an invalid header name"; break;
    case GMIME_CRIT_NESTING_OVERFLOW: what = "MIME nesting too deep"; break;
    case GMIME_WARN_INVALID_CONTENT_TYPE: what = "an invalid content type (read as application/octet-stream)"; break;
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT: what = "a part without headers or content"; break;
    default: return;  // duplicated headers, 8-bit headers and the like change nothing for us
  }
  if (item && *item) what += std::string(" (") + std::string(item).substr(0, 60) + ")";
  if (notes->size() < 20) notes->push_back(what);
}

std::string unfold(const char* raw) {
  if (!raw) return {};
  std::string out;
  for (const char* p = raw; *p; ++p)
    if (*p != '\r' && *p != '\n') out += *p;
  auto begin = out.find_first_not_of(" \t");
  if (begin == std::string::npos) return {};
  out.erase(0, begin);
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
  return to_utf8(out);
}

// The body after the header section, for the plain-text fallback.
std::string_view body_of(std::string_view message) {
  for (std::string_view end : {"\r\n\r\n", "\n\n"}) {
    auto at = message.find(end);
    if (at != std::string_view::npos) return message.substr(at + end.size());
  }
  return {};
}

}  // namespace

std::optional<std::string> MimeView::header(std::string_view name) const {
  for (const auto& h : headers)
    if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0) return h.value;
  return std::nullopt;
}

std::vector<MailboxAddress> parse_address_list(std::string_view text) {
  gmime_init_once();
  std::vector<MailboxAddress> out;
  std::string copy(text);
  GRef<InternetAddressList> list(internet_address_list_parse(nullptr, copy.c_str()));
  add_addresses(list.get(), out);
  return out;
}

bool is_valid_utf8(std::string_view text) { return g_utf8_validate(text.data(), static_cast<gssize>(text.size()), nullptr); }

std::string latin1_to_utf8(std::string_view text) {
  // Windows-1252 differs from ISO-8859-1 in 0x80-0x9F, where real-world "Latin-1" mail has curly quotes etc.
  static const char16_t kCp1252[32] = {0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                       0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
                                       0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                       0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (unsigned char c : text) {
    char32_t code = c;
    if (c >= 0x80 && c < 0xA0) code = kCp1252[c - 0x80];
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }
  return out;
}

MimeParse parse_mime(std::string_view message) {
  gmime_init_once();
  MimeParse result;
  MimeView view;

  std::unique_ptr<GMimeParserOptions, void (*)(GMimeParserOptions*)> options(g_mime_parser_options_new(),
                                                                            g_mime_parser_options_free);
  static const char* kFallback[] = {"UTF-8", "ISO-8859-1", nullptr};
  g_mime_parser_options_set_fallback_charsets(options.get(), kFallback);
  g_mime_parser_options_set_rfc2047_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_address_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_parameter_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_warning_callback(options.get(), &on_warning, &view.notes);

  // The stream reads the caller's buffer where it is: a large message is not copied into GMime as well. The byte
  // array borrows the buffer (the stream does not own the array, and freeing the array leaves the bytes alone);
  // the parser only reads, so GLib never grows or frees it. Declared before the stream, so it outlives it.
  struct BorrowedBytes {
    GByteArray* array;
    ~BorrowedBytes() { g_byte_array_free(array, FALSE); }
  } borrowed{g_byte_array_new_take(reinterpret_cast<guint8*>(const_cast<char*>(message.data())), message.size())};
  GRef<GMimeStream> stream(g_mime_stream_mem_new_with_byte_array(borrowed.array));
  g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream.get()), FALSE);
  GRef<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GRef<GMimeMessage> parsed(g_mime_parser_construct_message(parser.get(), options.get()));
  if (!parsed) {
    result.error = "the message could not be parsed (no header section)";
    return result;
  }
  GMimeMessage* msg = parsed.get();

  add_addresses(g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_FROM), view.from);
  add_addresses(g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_TO), view.to);
  add_addresses(g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_CC), view.cc);
  add_addresses(g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_BCC), view.bcc);
  add_addresses(g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_REPLY_TO), view.reply_to);
  view.subject = safe(g_mime_message_get_subject(msg));
  view.message_id = safe(g_mime_message_get_message_id(msg));

  GMimeHeaderList* headers = g_mime_object_get_header_list(GMIME_OBJECT(msg));
  int count = headers ? g_mime_header_list_get_count(headers) : 0;
  for (int i = 0; i < count; ++i) {
    GMimeHeader* header = g_mime_header_list_get_header_at(headers, i);
    view.headers.push_back({safe(g_mime_header_get_name(header)), safe(g_mime_header_get_value(header)),
                            unfold(g_mime_header_get_raw_value(header))});
  }

  if (GMimeObject* root = g_mime_message_get_mime_part(msg)) {
    Walker walker{view};
    walker.walk(root, false, 0);
  }
  if (!view.text && !view.html && view.attachments.empty()) {
    std::string_view body = body_of(message);
    view.text = to_utf8(body);
    if (!body.empty() && g_mime_message_get_mime_part(msg) && GMIME_IS_MULTIPART(g_mime_message_get_mime_part(msg)))
      view.notes.push_back("no readable MIME part: the body was sent as plain text");
  }
  result.view = std::move(view);
  return result;
}

}  // namespace smarthost::upstream::http
