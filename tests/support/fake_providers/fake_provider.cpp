// The provider rules of the fakes: one checker per provider (what its public API documentation requires of a
// request) and one answer style per provider (success bodies, error bodies, rate-limit headers).
#include "tests/support/fake_providers/fake_provider.h"

#include <openssl/evp.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>

#include "upstream/http/sigv4.h"

namespace smarthost::test {

namespace json = boost::json;

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool has_crlf_nul(std::string_view text) { return text.find_first_of(std::string_view("\r\n\0", 3)) != text.npos; }

std::optional<std::string> base64_decode(std::string_view text) {
  std::string clean;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
  if (clean.size() % 4 != 0) return std::nullopt;
  if (clean.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != clean.npos)
    return std::nullopt;
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
  if (n < 0) return std::nullopt;
  std::size_t pad = clean.ends_with("==") ? 2 : clean.ends_with("=") ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool plausible_address(std::string_view address) {
  auto at = address.rfind('@');
  return at != std::string_view::npos && at > 0 && at + 1 < address.size() && !has_crlf_nul(address) &&
         address.find_first_of(" ,;<>") == std::string_view::npos;
}

// The header section of a raw message, and whether it has a field with this name (case-insensitive).
bool raw_has_header(std::string_view raw, std::string_view name) {
  auto end = raw.find("\r\n\r\n");
  std::string_view headers = raw.substr(0, end == std::string_view::npos ? raw.size() : end + 2);
  std::string wanted = lower(name) + ":";
  std::size_t pos = 0;
  while (pos < headers.size()) {
    auto eol = headers.find("\r\n", pos);
    auto line = headers.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (lower(line.substr(0, wanted.size())) == wanted) return true;
    if (eol == std::string_view::npos) break;
    pos = eol + 2;
  }
  return false;
}

bool raw_has_control_header(std::string_view raw) {
  auto end = raw.find("\r\n\r\n");
  std::string headers = lower(raw.substr(0, end == std::string_view::npos ? raw.size() : end + 2));
  for (std::string_view prefix : {"x-mailgun-", "x-ses-", "x-pm-"}) {
    if (headers.starts_with(prefix) || headers.find("\r\n" + std::string(prefix)) != std::string::npos) return true;
  }
  return false;
}

// Splits "a@b, Name <c@d>" into the addresses (for Postmark's comma-joined fields).
std::vector<std::string> addresses_in(std::string_view list) {
  std::vector<std::string> out;
  std::string current;
  bool quoted = false;
  auto flush = [&] {
    auto lt = current.rfind('<');
    std::string address = lt == std::string::npos ? current : current.substr(lt + 1);
    if (auto gt = address.find('>'); gt != std::string::npos) address.resize(gt);
    address.erase(0, address.find_first_not_of(' '));
    while (!address.empty() && address.back() == ' ') address.pop_back();
    if (!address.empty()) out.push_back(address);
    current.clear();
  };
  for (char c : list) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) {
      flush();
      continue;
    }
    current += c;
  }
  flush();
  return out;
}

struct Problems {
  std::vector<std::string>& list;
  void add(std::string text) { list.push_back(std::move(text)); }
  void require(bool ok, std::string text) {
    if (!ok) add(std::move(text));
  }
};

const json::object* object_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

const json::array* array_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_array() ? &v->get_array() : nullptr;
}

std::string string_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

void only_keys(const json::object& o, std::initializer_list<std::string_view> allowed, std::string_view where,
               Problems& problems) {
  for (const auto& [key, value] : o) {
    (void)value;
    if (std::find(allowed.begin(), allowed.end(), std::string_view(key)) == allowed.end())
      problems.add(std::string(where) + ": unknown field '" + std::string(key) + "'");
  }
}

// ---- Mailgun ------------------------------------------------------------------------------------------------

struct FormPart {
  std::string name;
  std::string filename;
  std::string content_type;
  std::string body;
};

std::vector<FormPart> parse_form(std::string_view body, std::string_view boundary, Problems& problems) {
  std::vector<FormPart> parts;
  std::string delimiter = "--" + std::string(boundary);
  auto pos = body.find(delimiter);
  if (pos != 0) {
    problems.add("form: the body does not start with the boundary");
    return parts;
  }
  for (;;) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") break;  // closing delimiter
    if (body.substr(pos, 2) != "\r\n") {
      problems.add("form: a boundary is not followed by CRLF");
      return parts;
    }
    pos += 2;
    auto next = body.find("\r\n" + delimiter, pos);
    if (next == std::string_view::npos) {
      problems.add("form: no closing boundary");
      return parts;
    }
    std::string_view part = body.substr(pos, next - pos);
    auto header_end = part.find("\r\n\r\n");
    if (header_end == std::string_view::npos) {
      problems.add("form: a part without headers");
      return parts;
    }
    FormPart fp;
    std::string_view headers = part.substr(0, header_end);
    fp.body = std::string(part.substr(header_end + 4));
    std::size_t line_start = 0;
    while (line_start <= headers.size()) {
      auto eol = headers.find("\r\n", line_start);
      auto line = headers.substr(line_start, eol == std::string_view::npos ? std::string_view::npos : eol - line_start);
      std::string l = lower(line);
      if (l.starts_with("content-disposition:")) {
        auto value_of = [&](std::string_view key) -> std::string {
          auto at = line.find(std::string(key) + "=\"");
          if (at == std::string_view::npos) return {};
          at += key.size() + 2;
          auto end = line.find('"', at);
          return std::string(line.substr(at, end - at));
        };
        if (!l.starts_with("content-disposition: form-data")) problems.add("form: disposition is not form-data");
        fp.name = value_of("name");
        fp.filename = value_of("filename");
      } else if (l.starts_with("content-type:")) {
        fp.content_type = std::string(line.substr(13));
        fp.content_type.erase(0, fp.content_type.find_first_not_of(' '));
      }
      if (eol == std::string_view::npos) break;
      line_start = eol + 2;
    }
    if (fp.name.empty()) problems.add("form: a part without a name");
    parts.push_back(std::move(fp));
    pos = next + 2;
  }
  return parts;
}

void check_mailgun(const HttpExchange& x, const FakeCredentials& creds, FakeRecord& record, Problems& problems) {
  problems.require(x.method == "POST", "method must be POST, got " + x.method);
  problems.require(x.target == "/v3/" + creds.domain + "/messages.mime",
                   "path must be /v3/" + creds.domain + "/messages.mime, got " + x.target);
  problems.require(x.header("Authorization") == "Basic " + base64_encode("api:" + creds.api_key),
                   "Authorization must be Basic api:<key>");
  std::string type = x.header("Content-Type");
  auto b = type.find("boundary=");
  if (!lower(type).starts_with("multipart/form-data") || b == std::string::npos) {
    problems.add("Content-Type must be multipart/form-data with a boundary, got '" + type + "'");
    return;
  }
  std::string boundary = type.substr(b + 9);
  if (boundary.size() > 1 && boundary.front() == '"') boundary = boundary.substr(1, boundary.size() - 2);
  auto parts = parse_form(x.body, boundary, problems);
  std::size_t to_count = 0, options_bytes = 0, messages = 0;
  for (const auto& part : parts) {
    record.form.emplace_back(part.name, part.body);
    if (part.name == "to") {
      ++to_count;
      for (const auto& address : addresses_in(part.body))
        problems.require(plausible_address(address), "to: '" + address + "' is not a valid address");
    } else if (part.name == "message") {
      ++messages;
      problems.require(!part.filename.empty(), "message must be sent as a file part");
      record.raw_message = part.body;
      problems.require(!raw_has_header(part.body, "bcc"), "message still has a Bcc header");
      if (!creds.allow_control_headers)
        problems.require(!raw_has_control_header(part.body), "message carries client control headers");
      problems.require(part.body.size() <= (25u << 20), "message over 25 MB");
    } else if (part.name == "o:tag" || part.name == "o:tracking" || part.name == "o:tracking-clicks" ||
               part.name == "o:tracking-opens" || part.name == "o:tracking-unsubscribes" ||
               part.name == "o:testmode" || part.name.starts_with("v:") || part.name.starts_with("h:") ||
               part.name == "o:deliverytime" || part.name == "o:dkim" || part.name == "o:require-tls") {
      options_bytes += part.name.size() + part.body.size();
      problems.require(!has_crlf_nul(part.body), part.name + " contains CR, LF or NUL");
      if (part.name.starts_with("o:tracking") || part.name == "o:testmode") {
        bool clicks = part.name == "o:tracking-clicks";
        problems.require(part.body == "yes" || part.body == "no" || (clicks && part.body == "htmlonly") ||
                             part.body == "true" || part.body == "false",
                         part.name + " must be yes or no, got '" + part.body + "'");
      }
      if (part.name.starts_with("v:")) {
        boost::system::error_code ec;
        (void)json::parse(part.body, ec);
        problems.require(!ec, part.name + " must hold JSON, got '" + part.body + "'");
      }
    } else {
      problems.add("unknown form field '" + part.name + "'");
    }
  }
  problems.require(to_count >= 1, "no 'to' field");
  problems.require(to_count <= 1000, "more than 1000 recipients");
  problems.require(messages == 1, "exactly one 'message' part is required");
  problems.require(options_bytes < 16 * 1024, "options over 16 KB");
}

// ---- SendGrid -----------------------------------------------------------------------------------------------

void check_sendgrid_address(const json::value& v, std::string_view where, Problems& problems,
                            std::set<std::string>* seen) {
  if (!v.is_object()) {
    problems.add(std::string(where) + ": not an object");
    return;
  }
  const auto& o = v.get_object();
  only_keys(o, {"email", "name"}, where, problems);
  std::string email = string_at(o, "email");
  problems.require(plausible_address(email), std::string(where) + ": '" + email + "' is not a valid email");
  std::string name = string_at(o, "name");
  problems.require(name.find_first_of(";,") == std::string::npos && !has_crlf_nul(name),
                   std::string(where) + ": name may not contain ; , CR LF or NUL");
  if (seen && !seen->insert(lower(email)).second)
    problems.add(std::string(where) + ": '" + email + "' appears more than once");
}

void check_sendgrid(const HttpExchange& x, const FakeCredentials& creds, Problems& problems) {
  problems.require(x.method == "POST", "method must be POST");
  problems.require(x.target == "/v3/mail/send", "path must be /v3/mail/send, got " + x.target);
  problems.require(x.header("Authorization") == "Bearer " + creds.api_key, "Authorization must be Bearer <key>");
  problems.require(lower(x.header("Content-Type")).starts_with("application/json"), "Content-Type must be JSON");
  boost::system::error_code ec;
  auto value = json::parse(x.body, ec);
  if (ec || !value.is_object()) {
    problems.add("body is not a JSON object");
    return;
  }
  const auto& o = value.get_object();
  only_keys(o,
            {"personalizations", "from", "reply_to", "reply_to_list", "subject", "content", "attachments",
             "template_id", "headers", "categories", "custom_args", "send_at", "batch_id", "asm", "ip_pool_name",
             "mail_settings", "tracking_settings"},
            "body", problems);
  const bool templated = o.contains("template_id");
  auto* personalizations = array_at(o, "personalizations");
  if (!personalizations || personalizations->empty() || personalizations->size() > 1000) {
    problems.add("personalizations must hold 1 to 1000 entries");
  } else {
    std::set<std::string> seen;
    std::size_t total = 0;
    for (const auto& p : *personalizations) {
      if (!p.is_object()) {
        problems.add("a personalization is not an object");
        continue;
      }
      const auto& po = p.get_object();
      only_keys(po, {"to", "cc", "bcc", "subject", "headers", "substitutions", "dynamic_template_data", "custom_args",
                     "send_at"},
                "personalization", problems);
      auto* to = array_at(po, "to");
      problems.require(to && !to->empty(), "a personalization has no 'to'");
      for (const char* field : {"to", "cc", "bcc"}) {
        if (auto* list = array_at(po, field)) {
          for (const auto& a : *list) check_sendgrid_address(a, field, problems, &seen);
          total += list->size();
        }
      }
    }
    problems.require(total <= 1000, "more than 1000 recipients");
  }
  if (auto* from = o.if_contains("from")) {
    check_sendgrid_address(*from, "from", problems, nullptr);
  } else {
    problems.add("no 'from'");
  }
  if (auto* reply_to = o.if_contains("reply_to")) check_sendgrid_address(*reply_to, "reply_to", problems, nullptr);
  if (!templated) problems.require(!string_at(o, "subject").empty(), "no subject (and no template_id)");
  problems.require(!has_crlf_nul(string_at(o, "subject")), "subject contains CR, LF or NUL");
  if (auto* content = o.if_contains("content")) {
    if (!content->is_array() || content->get_array().empty()) {
      problems.add("content must be a non-empty array");
    } else {
      const auto& list = content->get_array();
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (!list[i].is_object()) {
          problems.add("a content entry is not an object");
          continue;
        }
        std::string type = string_at(list[i].get_object(), "type");
        problems.require(!string_at(list[i].get_object(), "value").empty(), "a content value is empty");
        if (type == "text/plain") problems.require(i == 0, "text/plain must come first in content");
        problems.require(!type.empty() && !has_crlf_nul(type), "a content entry has no type");
      }
    }
  } else if (!templated) {
    problems.add("no content (and no template_id)");
  }
  if (auto* attachments = array_at(o, "attachments")) {
    for (const auto& a : *attachments) {
      if (!a.is_object()) {
        problems.add("an attachment is not an object");
        continue;
      }
      const auto& ao = a.get_object();
      only_keys(ao, {"content", "type", "filename", "disposition", "content_id"}, "attachment", problems);
      problems.require(base64_decode(string_at(ao, "content")).has_value(), "attachment content is not base64");
      problems.require(!string_at(ao, "filename").empty(), "attachment without filename");
      std::string disposition = string_at(ao, "disposition");
      problems.require(disposition.empty() || disposition == "inline" || disposition == "attachment",
                       "attachment disposition must be inline or attachment");
      if (disposition == "inline") problems.require(!string_at(ao, "content_id").empty(), "inline without content_id");
    }
  }
  if (auto* headers = object_at(o, "headers")) {
    static const std::set<std::string> kForbidden{"to", "from", "subject", "reply-to", "cc", "bcc", "content-type",
                                                  "content-transfer-encoding", "dkim-signature", "received",
                                                  "x-sg-id", "x-sg-eid"};
    for (const auto& [name, value] : *headers) {
      std::string n = lower(name);
      problems.require(!kForbidden.contains(n) && !n.starts_with("x-sg-"), "header '" + std::string(name) + "' is not allowed");
      problems.require(value.is_string(), "header '" + std::string(name) + "' is not a string");
      if (value.is_string()) problems.require(!has_crlf_nul(value.get_string()), "header value with CR, LF or NUL");
      if (!creds.allow_control_headers)
        problems.require(!n.starts_with("x-mailgun-") && !n.starts_with("x-ses-") && !n.starts_with("x-pm-"),
                         "client control header '" + std::string(name) + "' passed through");
    }
  }
  if (auto* categories = array_at(o, "categories")) {
    problems.require(categories->size() <= 10, "more than 10 categories");
    for (const auto& c : *categories)
      problems.require(c.is_string() && c.get_string().size() <= 255, "a category is not a string of <= 255 chars");
  }
  if (auto* args = object_at(o, "custom_args")) {
    problems.require(json::serialize(*args).size() < 10000, "custom_args of 10000 bytes or more");
    for (const auto& [k, v] : *args) problems.require(v.is_string(), "custom_args." + std::string(k) + " is not a string");
  }
  if (auto* tracking = object_at(o, "tracking_settings"))
    only_keys(*tracking, {"click_tracking", "open_tracking", "subscription_tracking", "ganalytics"}, "tracking_settings",
              problems);
  problems.require(x.body.size() < (30u << 20), "request of 30 MB or more");
}

// ---- Postmark -----------------------------------------------------------------------------------------------

void check_postmark_message(const json::value& v, const FakeCredentials& creds, Problems& problems) {
  if (!v.is_object()) {
    problems.add("a message is not a JSON object");
    return;
  }
  const auto& o = v.get_object();
  only_keys(o,
            {"From", "To", "Cc", "Bcc", "Subject", "Tag", "HtmlBody", "TextBody", "ReplyTo", "Headers", "TrackOpens",
             "TrackLinks", "Metadata", "Attachments", "MessageStream"},
            "message", problems);
  problems.require(!string_at(o, "From").empty(), "no From");
  problems.require(!string_at(o, "To").empty(), "no To");
  for (const char* field : {"From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Tag", "MessageStream"})
    problems.require(!has_crlf_nul(string_at(o, field)), std::string(field) + " contains CR, LF or NUL");
  for (const char* field : {"To", "Cc", "Bcc"}) {
    auto list = addresses_in(string_at(o, field));
    problems.require(list.size() <= 50, std::string(field) + " has more than 50 addresses");
    for (const auto& a : list) problems.require(plausible_address(a), std::string(field) + ": '" + a + "' is invalid");
  }
  problems.require(o.contains("TextBody") || o.contains("HtmlBody"), "neither TextBody nor HtmlBody");
  if (auto* track = o.if_contains("TrackOpens")) problems.require(track->is_bool(), "TrackOpens must be a boolean");
  if (auto* links = o.if_contains("TrackLinks")) {
    std::string l = links->is_string() ? std::string(links->get_string()) : "";
    problems.require(l == "None" || l == "HtmlAndText" || l == "HtmlOnly" || l == "TextOnly", "bad TrackLinks");
  }
  if (auto* headers = o.if_contains("Headers")) {
    if (!headers->is_array()) {
      problems.add("Headers must be an array");
    } else {
      for (const auto& h : headers->get_array()) {
        if (!h.is_object()) {
          problems.add("a header is not an object");
          continue;
        }
        only_keys(h.get_object(), {"Name", "Value"}, "header", problems);
        std::string name = string_at(h.get_object(), "Name");
        problems.require(!name.empty() && !has_crlf_nul(name) && !has_crlf_nul(string_at(h.get_object(), "Value")),
                         "a header name or value is empty or has CR, LF or NUL");
        if (!creds.allow_control_headers)
          problems.require(!lower(name).starts_with("x-pm-") && !lower(name).starts_with("x-mailgun-") &&
                               !lower(name).starts_with("x-ses-"),
                           "client control header '" + name + "' passed through");
      }
    }
  }
  if (auto* metadata = o.if_contains("Metadata")) {
    problems.require(metadata->is_object(), "Metadata must be an object");
    if (metadata->is_object())
      for (const auto& [k, val] : metadata->get_object()) problems.require(val.is_string(), "Metadata values are strings");
  }
  if (auto* attachments = o.if_contains("Attachments")) {
    if (!attachments->is_array()) {
      problems.add("Attachments must be an array");
    } else {
      for (const auto& a : attachments->get_array()) {
        if (!a.is_object()) {
          problems.add("an attachment is not an object");
          continue;
        }
        const auto& ao = a.get_object();
        only_keys(ao, {"Name", "Content", "ContentType", "ContentID"}, "attachment", problems);
        problems.require(!string_at(ao, "Name").empty(), "attachment without Name");
        problems.require(!string_at(ao, "ContentType").empty(), "attachment without ContentType");
        problems.require(base64_decode(string_at(ao, "Content")).has_value(), "attachment Content is not base64");
        std::string id = string_at(ao, "ContentID");
        problems.require(id.empty() || id.starts_with("cid:"), "ContentID must start with cid:");
      }
    }
  }
  problems.require(json::serialize(o).size() <= (10u << 20), "message over 10 MB");
}

void check_postmark(const HttpExchange& x, const FakeCredentials& creds, Problems& problems) {
  problems.require(x.method == "POST", "method must be POST");
  problems.require(x.target == "/email" || x.target == "/email/batch", "path must be /email or /email/batch");
  problems.require(x.header("X-Postmark-Server-Token") == creds.api_key, "X-Postmark-Server-Token is wrong");
  problems.require(x.header("Accept") == "application/json", "Accept must be application/json");
  problems.require(lower(x.header("Content-Type")).starts_with("application/json"), "Content-Type must be JSON");
  boost::system::error_code ec;
  auto value = json::parse(x.body, ec);
  if (ec) {
    problems.add("body is not JSON");
    return;
  }
  if (x.target == "/email/batch") {
    if (!value.is_array() || value.get_array().empty() || value.get_array().size() > 500) {
      problems.add("a batch must be an array of 1 to 500 messages");
      return;
    }
    problems.require(x.body.size() <= (50u << 20), "batch over 50 MB");
    for (const auto& m : value.get_array()) check_postmark_message(m, creds, problems);
  } else {
    check_postmark_message(value, creds, problems);
  }
}

// ---- SES ----------------------------------------------------------------------------------------------------

void check_ses_signature(const HttpExchange& x, const FakeCredentials& creds, Problems& problems) {
  std::string authorization = x.header("Authorization");
  const std::string prefix = "AWS4-HMAC-SHA256 Credential=";
  if (!authorization.starts_with(prefix)) {
    problems.add("Authorization is not AWS4-HMAC-SHA256");
    return;
  }
  auto field = [&](std::string_view key) -> std::string {
    auto at = authorization.find(std::string(key) + "=");
    if (at == std::string::npos) return {};
    at += key.size() + 1;
    auto end = authorization.find(',', at);
    return authorization.substr(at, end == std::string::npos ? std::string::npos : end - at);
  };
  std::string credential = field("Credential");
  std::string signed_headers = field("SignedHeaders");
  std::string signature = field("Signature");
  std::string date = x.header("X-Amz-Date");
  std::string expected_scope = creds.aws_access_key_id + "/" + date.substr(0, 8) + "/" + creds.region + "/ses/aws4_request";
  problems.require(date.size() == 16 && date[8] == 'T' && date.back() == 'Z', "X-Amz-Date is not YYYYMMDDTHHMMSSZ");
  problems.require(credential == expected_scope, "Credential scope is '" + credential + "', expected '" + expected_scope + "'");
  problems.require(signed_headers.find("host") != std::string::npos && signed_headers.find("x-amz-date") != std::string::npos,
                   "host and x-amz-date must be signed");
  if (!creds.aws_session_token.empty()) {
    problems.require(x.header("X-Amz-Security-Token") == creds.aws_session_token, "X-Amz-Security-Token is wrong");
    problems.require(signed_headers.find("x-amz-security-token") != std::string::npos, "the session token is not signed");
  }
  // Recompute: the signed headers as received, the body, the secret.
  upstream::http::SigV4Input input;
  input.method = x.method;
  auto q = x.target.find('?');
  input.path = x.target.substr(0, q);
  input.query = q == std::string::npos ? "" : x.target.substr(q + 1);
  std::size_t pos = 0;
  while (pos <= signed_headers.size()) {
    auto end = signed_headers.find(';', pos);
    std::string name = signed_headers.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (name != "x-amz-date" && name != "x-amz-security-token") input.headers.emplace_back(name, x.header(name));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  input.body = x.body;
  input.region = creds.region;
  input.service = "ses";
  input.amz_date = date;
  upstream::http::AwsCredentials aws{creds.aws_access_key_id, creds.aws_secret_access_key,
                                     signed_headers.find("x-amz-security-token") != std::string::npos
                                         ? x.header("X-Amz-Security-Token")
                                         : std::string()};
  auto expected = upstream::http::sign_v4(input, aws);
  problems.require(expected.signature == signature, "SignatureDoesNotMatch");
}

void check_ses(const HttpExchange& x, const FakeCredentials& creds, FakeRecord& record, Problems& problems) {
  problems.require(x.method == "POST", "method must be POST");
  problems.require(x.target == "/v2/email/outbound-emails", "path must be /v2/email/outbound-emails, got " + x.target);
  problems.require(lower(x.header("Content-Type")).starts_with("application/json"), "Content-Type must be JSON");
  check_ses_signature(x, creds, problems);
  boost::system::error_code ec;
  auto value = json::parse(x.body, ec);
  if (ec || !value.is_object()) {
    problems.add("body is not a JSON object");
    return;
  }
  const auto& o = value.get_object();
  only_keys(o,
            {"FromEmailAddress", "FromEmailAddressIdentityArn", "Destination", "ReplyToAddresses",
             "FeedbackForwardingEmailAddress", "FeedbackForwardingEmailAddressIdentityArn", "Content", "EmailTags",
             "ConfigurationSetName", "ListManagementOptions"},
            "body", problems);
  auto* destination = object_at(o, "Destination");
  std::size_t total = 0;
  if (!destination) {
    problems.add("no Destination");
  } else {
    only_keys(*destination, {"ToAddresses", "CcAddresses", "BccAddresses"}, "Destination", problems);
    for (const char* field : {"ToAddresses", "CcAddresses", "BccAddresses"}) {
      if (auto* list = array_at(*destination, field)) {
        for (const auto& a : *list) {
          std::string address = a.is_string() ? std::string(a.get_string()) : "";
          problems.require(plausible_address(address), std::string(field) + ": '" + address + "' is invalid");
          problems.require(std::all_of(address.begin(), address.end(), [](char c) { return (c & 0x80) == 0; }),
                           std::string(field) + ": '" + address + "' is not ASCII");
        }
        total += list->size();
      }
    }
  }
  problems.require(total >= 1 && total <= 50, "Destination must hold 1 to 50 addresses");
  std::string from = string_at(o, "FromEmailAddress");
  problems.require(std::all_of(from.begin(), from.end(), [](char c) { return (c & 0x80) == 0; }), "From is not ASCII");
  auto* content = object_at(o, "Content");
  auto* raw = content ? object_at(*content, "Raw") : nullptr;
  if (!raw) {
    problems.add("no Content.Raw");
  } else {
    auto data = base64_decode(string_at(*raw, "Data"));
    if (!data) {
      problems.add("Content.Raw.Data is not base64");
    } else {
      record.raw_message = *data;
      problems.require(!raw_has_header(*data, "bcc"), "the raw message still has a Bcc header");
      if (!creds.allow_control_headers)
        problems.require(!raw_has_control_header(*data), "the raw message carries client control headers");
      problems.require(data->size() <= (40u << 20), "message over 40 MB");
    }
  }
  if (auto* tags = o.if_contains("EmailTags")) {
    problems.require(tags->is_array(), "EmailTags must be an array");
    if (tags->is_array())
      for (const auto& t : tags->get_array()) {
        problems.require(t.is_object() && !string_at(t.get_object(), "Name").empty(), "a tag without Name");
        if (t.is_object()) only_keys(t.get_object(), {"Name", "Value"}, "EmailTags", problems);
      }
  }
}

constexpr int kUsual = -1;  // FakeProvider::usual()

std::string id_text(std::size_t n) {
  static std::atomic<unsigned> counter{0};
  return std::to_string(1700000000u + n) + "." + std::to_string(counter++);
}

}  // namespace

FakeKind fake_kind_from(std::string_view name) {
  if (name == "mailgun") return FakeKind::mailgun;
  if (name == "sendgrid") return FakeKind::sendgrid;
  if (name == "postmark") return FakeKind::postmark;
  if (name == "ses") return FakeKind::ses;
  throw std::invalid_argument("unknown provider '" + std::string(name) + "'");
}

std::string_view to_string(FakeKind kind) {
  switch (kind) {
    case FakeKind::mailgun: return "mailgun";
    case FakeKind::sendgrid: return "sendgrid";
    case FakeKind::postmark: return "postmark";
    case FakeKind::ses: return "ses";
  }
  return "?";
}

struct FakeProvider::State {
  FakeKind kind;
  FakeCredentials credentials;
  mutable std::mutex mutex;
  std::deque<FakeAnswer> script;
  std::map<std::string, std::pair<int, std::string>> failing_recipients;  // postmark
  std::vector<FakeRecord> records;
  std::string record_path;

  FakeAnswer problem_answer(const std::vector<std::string>& problems) const {
    std::string text;
    for (const auto& p : problems) text += (text.empty() ? "" : "; ") + p;
    FakeAnswer answer;
    switch (kind) {
      case FakeKind::mailgun:
        answer.status = 400;
        answer.body = json::serialize(json::object{{"message", text}});
        break;
      case FakeKind::sendgrid:
        answer.status = 400;
        answer.body = json::serialize(json::object{{"errors", json::array{json::object{{"message", text}, {"field", nullptr}}}}});
        break;
      case FakeKind::postmark:
        answer.status = 422;
        answer.body = json::serialize(json::object{{"ErrorCode", 300}, {"Message", text}});
        break;
      case FakeKind::ses:
        bool signature = text.find("SignatureDoesNotMatch") != std::string::npos ||
                         text.find("Authorization") != std::string::npos || text.find("Credential") != std::string::npos;
        answer.status = signature ? 403 : 400;
        answer.headers = {{"x-amzn-ErrorType", signature ? "SignatureDoesNotMatch:http://internal.amazon.com/coral/com.amazon.coral.service/"
                                                         : "BadRequestException:http://internal.amazon.com/coral/com.amazonaws.sesv2/"}};
        answer.body = json::serialize(json::object{{"message", text}});
        break;
    }
    return answer;
  }

  json::object postmark_success(const json::value& message) const {
    std::string to = message.is_object() ? string_at(message.get_object(), "To") : "";
    for (const auto& address : addresses_in(to)) {
      auto failing = failing_recipients.find(lower(address));
      if (failing != failing_recipients.end())
        return json::object{{"ErrorCode", failing->second.first}, {"Message", failing->second.second}};
    }
    return json::object{{"To", to}, {"SubmittedAt", "2024-01-01T00:00:00Z"},
                        {"MessageID", "pm-" + id_text(records.size())}, {"ErrorCode", 0}, {"Message", "OK"}};
  }

  FakeAnswer success(const HttpExchange& x) const {
    FakeAnswer answer;
    switch (kind) {
      case FakeKind::mailgun:
        answer.body = json::serialize(json::object{{"id", "<" + id_text(records.size()) + "@" + credentials.domain + ">"},
                                                   {"message", "Queued. Thank you."}});
        break;
      case FakeKind::sendgrid: {
        boost::system::error_code ec;
        auto value = json::parse(x.body, ec);
        bool sandbox = !ec && value.is_object() && object_at(value.get_object(), "mail_settings") &&
                       object_at(*object_at(value.get_object(), "mail_settings"), "sandbox_mode");
        answer.status = sandbox ? 200 : 202;
        answer.headers = {{"X-Message-Id", "sg-" + id_text(records.size())}};
        break;
      }
      case FakeKind::postmark: {
        boost::system::error_code ec;
        auto value = json::parse(x.body, ec);
        if (x.target == "/email/batch") {
          json::array out;
          for (const auto& m : value.get_array()) out.push_back(postmark_success(m));
          answer.body = json::serialize(out);
        } else {
          auto element = postmark_success(value);
          if (element.at("ErrorCode").as_int64() != 0) answer.status = 422;
          answer.body = json::serialize(element);
        }
        break;
      }
      case FakeKind::ses:
        answer.body = json::serialize(json::object{{"MessageId", "0100018c-" + id_text(records.size())}});
        break;
    }
    return answer;
  }

  FakeAnswer respond(const HttpExchange& x) {
    FakeRecord record;
    record.exchange = x;
    Problems problems{record.problems};
    switch (kind) {
      case FakeKind::mailgun: check_mailgun(x, credentials, record, problems); break;
      case FakeKind::sendgrid: check_sendgrid(x, credentials, problems); break;
      case FakeKind::postmark: check_postmark(x, credentials, problems); break;
      case FakeKind::ses: check_ses(x, credentials, record, problems); break;
    }
    std::lock_guard lock(mutex);
    FakeAnswer answer;
    bool scripted = false;
    if (!script.empty()) {
      answer = std::move(script.front());
      script.pop_front();
      scripted = answer.status != kUsual;
    }
    if (!scripted) answer = record.problems.empty() ? success(x) : problem_answer(record.problems);
    record.status = answer.drop ? 0 : answer.status;
    if (!record_path.empty()) {
      json::object line{{"provider", to_string(kind)}, {"method", x.method}, {"target", x.target}};
      json::object headers;
      for (const auto& [n, v] : x.headers) headers[lower(n)] = v;
      line["headers"] = std::move(headers);
      line["body"] = x.body;
      json::array p;
      for (const auto& problem : record.problems) p.push_back(json::value(problem));
      line["problems"] = std::move(p);
      line["status"] = record.status;
      if (!record.raw_message.empty()) line["raw_message"] = record.raw_message;
      std::ofstream out(record_path, std::ios::app);
      out << json::serialize(line) << "\n";
    }
    records.push_back(std::move(record));
    return answer;
  }
};

FakeProvider::FakeProvider(FakeKind kind, FakeCredentials credentials, uint16_t port, const FakeTls* tls)
    : state_(std::make_shared<State>()) {
  state_->kind = kind;
  state_->credentials = std::move(credentials);
  server_ = std::make_unique<FakeHttpServer>([state = state_](const HttpExchange& x) { return state->respond(x); },
                                             port, tls);
}

FakeProvider::~FakeProvider() = default;

FakeKind FakeProvider::kind() const { return state_->kind; }
uint16_t FakeProvider::port() const { return server_->port(); }
std::string FakeProvider::base_url() const { return server_->base_url(); }
const FakeCredentials& FakeProvider::credentials() const { return state_->credentials; }

void FakeProvider::push_answer(FakeAnswer answer) {
  std::lock_guard lock(state_->mutex);
  state_->script.push_back(std::move(answer));
}

void FakeProvider::fail_recipient(std::string address, int error_code, std::string message) {
  std::lock_guard lock(state_->mutex);
  state_->failing_recipients[lower(address)] = {error_code, std::move(message)};
}

std::vector<FakeRecord> FakeProvider::records() const {
  std::lock_guard lock(state_->mutex);
  return state_->records;
}

std::size_t FakeProvider::request_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->records.size();
}

bool FakeProvider::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  return server_->wait_for_requests(n, timeout);
}

void FakeProvider::record_to(std::string path) {
  std::lock_guard lock(state_->mutex);
  state_->record_path = std::move(path);
}

FakeAnswer FakeProvider::throttled(int retry_after_seconds) const {
  FakeAnswer answer;
  answer.status = 429;
  switch (state_->kind) {
    case FakeKind::mailgun:
      answer.headers = {{"Retry-After", std::to_string(retry_after_seconds)}};
      answer.body = R"({"message":"Too many requests"})";
      break;
    case FakeKind::sendgrid: {
      auto reset = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count() + retry_after_seconds;
      answer.headers = {{"X-RateLimit-Limit", "600"}, {"X-RateLimit-Remaining", "0"},
                        {"X-RateLimit-Reset", std::to_string(reset)}};
      answer.body = R"({"errors":[{"field":null,"message":"too many requests"}]})";
      break;
    }
    case FakeKind::postmark:
      answer.headers = {{"Retry-After", std::to_string(retry_after_seconds)}};
      answer.body = R"({"ErrorCode":429,"Message":"Rate limit exceeded"})";
      break;
    case FakeKind::ses:
      answer.headers = {{"x-amzn-ErrorType", "TooManyRequestsException:http://internal.amazon.com/"},
                        {"Retry-After", std::to_string(retry_after_seconds)}};
      answer.body = R"({"message":"Maximum sending rate exceeded."})";
      break;
  }
  return answer;
}

FakeAnswer FakeProvider::server_error() const {
  FakeAnswer answer;
  answer.status = state_->kind == FakeKind::postmark ? 500 : 503;
  answer.body = state_->kind == FakeKind::ses ? R"({"message":"Service Unavailable"})" : R"({"message":"internal error"})";
  if (state_->kind == FakeKind::ses) answer.headers = {{"x-amzn-ErrorType", "ServiceUnavailable"}};
  return answer;
}

FakeAnswer FakeProvider::bad_credentials() const {
  FakeAnswer answer;
  switch (state_->kind) {
    case FakeKind::mailgun:
      answer.status = 401;
      answer.body = "Forbidden";
      answer.headers = {{"Content-Type", "text/plain"}};
      break;
    case FakeKind::sendgrid:
      answer.status = 401;
      answer.body = R"({"errors":[{"field":null,"message":"The provided authorization grant is invalid, expired, or revoked"}]})";
      break;
    case FakeKind::postmark:
      answer.status = 401;
      answer.body = R"({"ErrorCode":10,"Message":"The Server Token you provided in the X-Postmark-Server-Token request header was invalid."})";
      break;
    case FakeKind::ses:
      answer.status = 403;
      answer.headers = {{"x-amzn-ErrorType", "UnrecognizedClientException:http://internal.amazon.com/"}};
      answer.body = R"({"message":"The security token included in the request is invalid."})";
      break;
  }
  return answer;
}

FakeAnswer FakeProvider::rejected(std::string reason) const {
  FakeAnswer answer;
  switch (state_->kind) {
    case FakeKind::mailgun:
      answer.status = 400;
      answer.body = json::serialize(json::object{{"message", reason}});
      break;
    case FakeKind::sendgrid:
      answer.status = 400;
      answer.body = json::serialize(json::object{{"errors", json::array{json::object{{"message", reason}, {"field", "content"}}}}});
      break;
    case FakeKind::postmark:
      answer.status = 422;
      answer.body = json::serialize(json::object{{"ErrorCode", 300}, {"Message", reason}});
      break;
    case FakeKind::ses:
      answer.status = 400;
      answer.headers = {{"x-amzn-ErrorType", "MessageRejected:http://internal.amazon.com/"}};
      answer.body = json::serialize(json::object{{"message", reason}});
      break;
  }
  return answer;
}

FakeAnswer FakeProvider::slow(std::chrono::milliseconds delay) {
  FakeAnswer answer;
  answer.delay = delay;
  answer.body = "{}";
  return answer;
}

FakeAnswer FakeProvider::usual() {
  FakeAnswer answer;
  answer.status = kUsual;
  return answer;
}

FakeAnswer FakeProvider::dropped() {
  FakeAnswer answer;
  answer.drop = true;
  return answer;
}

}  // namespace smarthost::test
