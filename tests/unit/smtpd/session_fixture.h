// Test doubles for the smtpd protocol tests: a scriptable SessionPolicy, and a Driver that plays the role of the
// connection coroutine over an in-memory byte stream (line splitting, DATA/BDAT via DataReader, STARTTLS, commit).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtpd/data_reader.h"
#include "smtpd/session.h"

namespace smarthost::smtpd::test {

class FakePolicy : public SessionPolicy {
 public:
  Verdict connect = Verdict::allow();
  Verdict mail = Verdict::allow();
  Verdict end_of_data = Verdict::allow();
  // Recipients refused by on_rcpt (exact forward-path) and the verdict for them.
  std::map<std::string, Verdict> refused_rcpts;
  std::map<std::string, std::string> passwords;  // user -> password
  std::vector<std::string> calls;                // "connect", "mail <from>", "rcpt <to>", "eod <n>", "auth <user>"
  std::vector<std::string> seen_passwords;       // what authenticate() was given, to check decoding

  Verdict on_connect(const ClientInfo& client) override;
  Verdict on_mail(const SessionView& session, std::string_view reverse_path) override;
  Verdict on_rcpt(const SessionView& session, std::string_view reverse_path, std::string_view forward_path) override;
  Verdict on_end_of_data(const SessionView& session, const mail::Envelope& envelope) override;
  bool authenticate(const ClientInfo& client, std::string_view user, std::string_view password) override;
};

// A fixed wall clock: 2023-01-03 10:00:00 UTC (a Tuesday).
std::chrono::system_clock::time_point fixed_time();

SessionSettings test_settings();
ClientInfo loopback_client();

// The three-digit code of the first line of a reply ("" when empty).
std::string code_of(std::string_view reply);
// The enhanced status code of the first line ("" when there is none).
std::string status_of(std::string_view reply);

// Plays the connection: feeds bytes, splits command lines at CRLF (512-octet cap), runs DATA and BDAT through a
// DataReader, commits with queue ids Q1, Q2, ... and drops buffered input at STARTTLS like the real connection.
class Driver {
 public:
  explicit Driver(Session& session, size_t split = 0);  // split > 0: feed DataReader in pieces of this size

  void greet();
  // Appends input and processes as much as it allows. Returns the replies produced by this call, concatenated.
  std::string input(std::string_view bytes);

  std::vector<std::string> replies;   // every non-empty reply, in order
  std::vector<std::string> messages;  // bodies committed
  std::vector<std::string> headers;   // the Received: header of each committed message
  Next next = Next::read_command;
  bool closed = false;
  int tls_handshakes = 0;
  std::optional<CommitOutcome> commit_result;  // when set, used instead of success

 private:
  void apply(const Step& step, std::string& out);
  Session& session_;
  size_t split_;
  std::string buffer_;
  std::string body_;
  std::optional<DataReader> reader_;
  int queue_ids_ = 0;
};

}  // namespace smarthost::smtpd::test
