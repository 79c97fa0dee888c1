// DataReader: the DATA/BDAT body decoder (see data_reader.h for the rules on line ends, dots, folding, size).
// Runs of ordinary bytes are found with memchr and appended at once; only line ends and dots are handled per byte.
// It keeps no buffer of its own: the pending "\r", "." or ".\r" of a split sequence lives in the state.
#include "smtpd/data_reader.h"

#include <cstring>

namespace smarthost::smtpd {
namespace {

constexpr uint32_t kMaxLine = 998;  // RFC 5322 2.1.1: 998 octets plus CRLF

// Decoder states. Only a real CRLF (or the start of data) leads to line_start.
enum State : int {
  line_start = 0,  // at the start of a line (dot mode: a '.' here is a stuffed dot or the terminator)
  mid_line,        // inside a line, or after a bare line end
  dot,             // dot mode: line_start, then '.'
  dot_cr,          // dot mode: line_start, then ".\r"
  cr,              // a '\r' inside a line, waiting to see if '\n' follows
  finished,        // dot mode: the terminator was consumed
};

}  // namespace

DataReader::DataReader(Mode mode, BareLineEnd bare_lf, uint64_t max_size, uint64_t already)
    : mode_(mode), bare_lf_(bare_lf), max_size_(max_size), size_(already), too_big_(already > max_size) {}

void DataReader::emit(std::string& out, std::string_view bytes) {
  size_ += bytes.size();
  if (too_big_) return;
  if (size_ > max_size_) {
    too_big_ = true;
    return;
  }
  out.append(bytes);
}

void DataReader::emit_text(std::string& out, std::string_view text) {
  while (!text.empty()) {
    const uint32_t room = kMaxLine - line_length_;
    if (text.size() <= room) {
      emit(out, text);
      line_length_ += static_cast<uint32_t>(text.size());
      return;
    }
    emit(out, text.substr(0, room));
    text.remove_prefix(room);
    // Within the header section the break must continue the field: a line starting with a space is a fold.
    if (in_headers_) {
      emit(out, "\r\n ");
      line_length_ = 1;
    } else {
      emit(out, "\r\n");
      line_length_ = 0;
    }
  }
}

void DataReader::end_line(std::string& out, bool bare) {
  if (bare && bare_lf_ == BareLineEnd::reject) bare_ = true;
  if (line_length_ == 0) in_headers_ = false;  // the empty line that ends the header section
  emit(out, "\r\n");
  line_length_ = 0;
}

size_t DataReader::feed(std::string_view in, std::string& out) {
  if (done_) return 0;
  const char* const begin = in.data();
  const char* const end = begin + in.size();
  const char* p = begin;
  // The next '\n' at or after p (or end): cached so that runs of bare CRs do not rescan the buffer.
  const char* lf = nullptr;

  while (p < end) {
    switch (state_) {
      case line_start:
        if (mode_ == Mode::dot && *p == '.') {
          state_ = dot;
          ++p;
        } else {
          state_ = mid_line;
        }
        break;

      case dot:
        if (*p == '\r') {
          state_ = dot_cr;
          ++p;
        } else if (*p == '\n') {
          // ".\n": a lone dot on a line with a bare LF is data, never the terminator.
          emit_text(out, ".");
          end_line(out, true);
          state_ = mid_line;
          ++p;
        } else {
          state_ = mid_line;  // dot-unstuffing: the leading dot goes, the rest of the line stays
        }
        break;

      case dot_cr:
        if (*p == '\n') {
          done_ = true;
          state_ = finished;
          return static_cast<size_t>(p + 1 - begin);
        }
        // ".\r" then not LF: a dot and a bare CR; *p is looked at again in mid_line.
        emit_text(out, ".");
        end_line(out, true);
        state_ = mid_line;
        break;

      case cr:
        if (*p == '\n') {
          end_line(out, false);
          state_ = line_start;
          ++p;
        } else {
          end_line(out, true);  // a bare CR; *p is looked at again
          state_ = mid_line;
        }
        break;

      case mid_line: {
        if (lf == nullptr || lf < p) {
          const void* found = std::memchr(p, '\n', static_cast<size_t>(end - p));
          lf = found ? static_cast<const char*>(found) : end;
        }
        const void* found_cr = std::memchr(p, '\r', static_cast<size_t>(lf - p));
        if (found_cr != nullptr) {
          const char* c = static_cast<const char*>(found_cr);
          const size_t length = static_cast<size_t>(c - p);
          if (c + 1 < end && c[1] == '\n' && line_length_ + length <= kMaxLine && !too_big_ &&
              size_ + length + 2 <= max_size_) {
            // The common case: a whole line with its CRLF, no folding, under the cap: one append.
            if (line_length_ + length == 0) in_headers_ = false;
            out.append(p, length + 2);
            size_ += length + 2;
            line_length_ = 0;
            state_ = line_start;
            p = c + 2;
            break;
          }
          emit_text(out, std::string_view(p, length));
          if (c + 1 < end && c[1] == '\n') {
            end_line(out, false);
            state_ = line_start;
            p = c + 2;
          } else {
            state_ = cr;
            p = c + 1;
          }
        } else {
          emit_text(out, std::string_view(p, static_cast<size_t>(lf - p)));
          p = lf;
          if (p < end) {
            end_line(out, true);  // an LF with no CR before it
            ++p;
          }
        }
        break;
      }

      default:
        return static_cast<size_t>(p - begin);
    }
  }
  return in.size();
}

void DataReader::finish_chunk(std::string& out) {
  if (state_ == cr) {
    end_line(out, true);
    state_ = mid_line;
  }
}

DataOutcome DataReader::outcome() const {
  DataOutcome o;
  o.size = size_;
  o.too_big = too_big_;
  o.bare_line_end = bare_;
  return o;
}

}  // namespace smarthost::smtpd
