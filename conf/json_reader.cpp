// A small JSON reader that keeps line:column for every key and value and accepts // and /* */ comments and
// trailing commas, so the configuration guide's examples load verbatim. It stops at the first syntax error.
// It builds the generic tree only; the schema gives it meaning.
#include <charconv>
#include <cstdint>
#include <string>
#include <system_error>
#include <unordered_set>

#include "conf/readers.h"

namespace smarthost::conf {

namespace {

constexpr int kMaxDepth = 64;

class JsonReader {
 public:
  JsonReader(std::string_view text, std::shared_ptr<const std::string> file) : text_(text), file_(std::move(file)) {}

  ParsedTree read() {
    ParsedTree result;
    skip_space();
    if (failed_) return fail_result();
    if (peek() != '{') {
      error_here("the top level must be a JSON object ('{')");
      return fail_result();
    }
    Node root = value(0);
    if (failed_) return fail_result();
    skip_space();
    if (!failed_ && pos_ < text_.size()) error_here("unexpected text after the top-level object");
    if (failed_) return fail_result();
    result.tree = std::move(root);
    return result;
  }

 private:
  ParsedTree fail_result() {
    ParsedTree result;
    result.errors.push_back(std::move(error_));
    return result;
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool at_end() const { return pos_ >= text_.size(); }

  Origin here() const {
    int column = 1;
    for (std::size_t i = line_start_; i < pos_ && i < text_.size(); ++i) {
      // Count code points, not bytes: skip UTF-8 continuation bytes.
      if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++column;
    }
    return Origin{file_, line_, column};
  }

  void error_here(std::string message) {
    if (failed_) return;
    failed_ = true;
    Origin o = here();
    error_ = Diagnostic{*file_, o.line, o.column, std::move(message)};
  }

  void advance() {
    if (pos_ >= text_.size()) return;
    if (text_[pos_] == '\n') {
      ++line_;
      line_start_ = pos_ + 1;
    }
    ++pos_;
  }

  void skip_space() {
    while (!at_end() && !failed_) {
      char c = peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        advance();
      } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
        while (!at_end() && peek() != '\n') advance();
      } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
        Origin start = here();
        advance();
        advance();
        bool closed = false;
        while (!at_end()) {
          if (peek() == '*' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
            advance();
            advance();
            closed = true;
            break;
          }
          advance();
        }
        if (!closed) {
          failed_ = true;
          error_ = Diagnostic{*file_, start.line, start.column, "unterminated /* comment"};
        }
      } else if (c == '\xEF' && text_.substr(pos_, 3) == "\xEF\xBB\xBF" && pos_ == 0) {
        pos_ += 3;  // a UTF-8 byte order mark
      } else {
        return;
      }
    }
  }

  Node value(int depth) {
    if (depth > kMaxDepth) {
      error_here("nesting deeper than 64 levels");
      return {};
    }
    skip_space();
    if (failed_) return {};
    Node node;
    node.origin = here();
    char c = peek();
    if (c == '{') {
      node.kind = Node::Kind::table;
      object(node, depth);
    } else if (c == '[') {
      node.kind = Node::Kind::array;
      array(node, depth);
    } else if (c == '"') {
      node.kind = Node::Kind::string;
      node.text = string();
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      number(node);
    } else if (word("true")) {
      node.kind = Node::Kind::boolean;
      node.boolean = true;
    } else if (word("false")) {
      node.kind = Node::Kind::boolean;
      node.boolean = false;
    } else if (text_.substr(pos_, 4) == "null") {
      error_here("null is not a valid value here: leave the key out to get its default");
    } else if (at_end()) {
      error_here("unexpected end of file: expected a value");
    } else {
      error_here(std::string("unexpected character '") + c + "': expected a value");
    }
    return node;
  }

  bool word(std::string_view w) {
    if (text_.substr(pos_, w.size()) != w) return false;
    std::size_t after = pos_ + w.size();
    if (after < text_.size()) {
      char n = text_[after];
      if ((n >= 'a' && n <= 'z') || (n >= 'A' && n <= 'Z') || (n >= '0' && n <= '9') || n == '_') return false;
    }
    for (std::size_t i = 0; i < w.size(); ++i) advance();
    return true;
  }

  void object(Node& node, int depth) {
    advance();  // {
    std::unordered_set<std::string> keys;  // duplicate detection stays linear on large objects
    while (!failed_) {
      skip_space();
      if (failed_) return;
      if (peek() == '}') {
        advance();
        return;
      }
      if (peek() != '"') {
        error_here(at_end() ? "unexpected end of file inside an object: expected '}'"
                            : "expected a key in double quotes or '}'");
        return;
      }
      Member m;
      m.key_origin = here();
      m.key = string();
      if (failed_) return;
      if (!keys.insert(m.key).second) {
        failed_ = true;
        error_ = Diagnostic{*file_, m.key_origin.line, m.key_origin.column, "duplicate key '" + m.key + "'"};
        return;
      }
      skip_space();
      if (peek() != ':') {
        error_here("expected ':' after the key '" + m.key + "'");
        return;
      }
      advance();
      m.value = value(depth + 1);
      if (failed_) return;
      node.members.push_back(std::move(m));
      skip_space();
      if (peek() == ',') {
        advance();
      } else if (peek() != '}') {
        error_here(at_end() ? "unexpected end of file inside an object: expected '}'"
                            : "expected ',' or '}' after a value");
        return;
      }
    }
  }

  void array(Node& node, int depth) {
    advance();  // [
    while (!failed_) {
      skip_space();
      if (failed_) return;
      if (peek() == ']') {
        advance();
        return;
      }
      node.items.push_back(value(depth + 1));
      if (failed_) return;
      skip_space();
      if (peek() == ',') {
        advance();
      } else if (peek() != ']') {
        error_here(at_end() ? "unexpected end of file inside an array: expected ']'"
                            : "expected ',' or ']' after a value");
        return;
      }
    }
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool hex4(uint32_t& out) {
    if (pos_ + 4 > text_.size()) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_ + static_cast<std::size_t>(i)];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else return false;
    }
    pos_ += 4;
    out = v;
    return true;
  }

  std::string string() {
    advance();  // opening quote
    std::string out;
    while (!failed_) {
      if (at_end()) {
        error_here("unterminated string");
        return out;
      }
      char c = peek();
      if (c == '"') {
        advance();
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        error_here(c == '\n' ? "unterminated string (a line break inside a string)"
                             : "a control character inside a string; escape it");
        return out;
      }
      if (c != '\\') {
        out += c;
        advance();
        continue;
      }
      advance();
      char e = peek();
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          advance();
          uint32_t cp = 0;
          if (!hex4(cp)) {
            error_here("\\u must be followed by four hex digits");
            return out;
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low = 0;
            if (text_.substr(pos_, 2) != "\\u" || (pos_ += 2, !hex4(low)) || low < 0xDC00 || low > 0xDFFF) {
              error_here("a UTF-16 high surrogate without its low surrogate");
              return out;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            error_here("a lone UTF-16 low surrogate");
            return out;
          }
          append_utf8(out, cp);
          continue;  // hex4 already moved past the digits
        }
        default:
          error_here(at_end() ? "unterminated string" : std::string("unknown escape '\\") + e + "'");
          return out;
      }
      advance();
    }
    return out;
  }

  void number(Node& node) {
    std::size_t start = pos_;
    bool is_float = false;
    if (peek() == '-') advance();
    if (peek() == '0') {
      advance();
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') advance();
    } else {
      error_here("a number needs digits after '-'");
      return;
    }
    if (peek() == '.') {
      is_float = true;
      advance();
      if (!(peek() >= '0' && peek() <= '9')) {
        error_here("a number needs digits after '.'");
        return;
      }
      while (peek() >= '0' && peek() <= '9') advance();
    }
    if (peek() == 'e' || peek() == 'E') {
      is_float = true;
      advance();
      if (peek() == '+' || peek() == '-') advance();
      if (!(peek() >= '0' && peek() <= '9')) {
        error_here("a number needs digits in its exponent");
        return;
      }
      while (peek() >= '0' && peek() <= '9') advance();
    }
    std::string_view digits = text_.substr(start, pos_ - start);
    if (!is_float) {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
      if (ec == std::errc() && ptr == digits.data() + digits.size()) {
        node.kind = Node::Kind::integer;
        node.integer = v;
        return;
      }
      failed_ = true;
      error_ = Diagnostic{*file_, node.origin.line, node.origin.column, "integer out of range (64-bit)"};
      return;
    }
    double d = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), d);
    if (ec != std::errc() || ptr != digits.data() + digits.size()) {
      failed_ = true;
      error_ = Diagnostic{*file_, node.origin.line, node.origin.column, "number out of range"};
      return;
    }
    node.kind = Node::Kind::floating;
    node.floating = d;
  }

  std::string_view text_;
  std::shared_ptr<const std::string> file_;
  std::size_t pos_ = 0;
  int line_ = 1;
  std::size_t line_start_ = 0;
  bool failed_ = false;
  Diagnostic error_;
};

}  // namespace

ParsedTree parse_json(std::string_view text, std::shared_ptr<const std::string> file) {
  return JsonReader(text, std::move(file)).read();
}

bool is_json_name(std::string_view name) {
  return name.size() >= 5 && name.substr(name.size() - 5) == ".json";
}

}  // namespace smarthost::conf
