// The on-disk text format of a spool message's envelope record and of its state sidecar. Pure encoding, no I/O.
//
// Message file <folder>/<id>: an envelope record, zero-padded to `content_offset` (a multiple of 4096), then
// the message bytes (CRLF line ends, not dot-stuffed) up to the end of the file. The record is line-based:
//   smarthost-spool 1 <content_offset>
//   id <id>
//   from <sender>                  (empty for the null sender)
//   rcpt <state> <address> <last reply>   (one per recipient; state: pending | delivered | failed)
//   body 7bit | 8bitmime
//   smtputf8 0 | 1
//   client <address>
//   helo <name>
//   auth <user>
//   received <microseconds since 1970>
//   check <content octets> <CRC-32C of the content, 8 lowercase hex digits>   (records of new messages)
//   attempts <n>
//   next <microseconds since 1970>
//   error <last temporary failure>
//   end
// Values are percent-encoded (every byte <= 0x20, '%' and 0x7f), so a value never holds a space or line end;
// an empty value is an empty field. Readers ignore unknown keys, so fields can be added.
// State sidecar <folder>/<id>.state, replaced atomically after each attempt: "smarthost-state 1", then the
// attempts, next, error and rcpt lines, then "end". When present it overrides those fields of the record.
#pragma once

#include <string>
#include <string_view>

#include "queue/stored_message.h"

namespace smarthost::queue {

inline constexpr uint64_t kRecordBlock = 4096;
inline constexpr uint64_t kMaxRecordSize = 4 * 1024 * 1024;  // ~20k recipients; larger records are refused

// The record for `message`, padded with zero bytes to its content offset (4096 unless it needs more).
std::string encode_record(const StoredMessage& message);
std::string encode_state(const StoredMessage& message);

// The content offset announced by a record's first line, or 0 when `first_bytes` does not start a record.
uint64_t record_content_offset(std::string_view first_bytes);

// Parses a record (the bytes up to its content offset) into `message`; false with `error` set when malformed.
// content_path and size are left for the caller, who knows the file.
bool parse_record(std::string_view record, StoredMessage& message, std::string& error);
// Applies a state sidecar to `message` (same recipients, same order); false with `error` set when malformed.
bool parse_state(std::string_view state, StoredMessage& message, std::string& error);

}  // namespace smarthost::queue
