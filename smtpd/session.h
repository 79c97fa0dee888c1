// The SMTP server session as a state machine with no I/O (RFC 5321, 2920, 1870, 6152, 6531, 2034, 3030, 3207, 4954).
// It takes command lines and data outcomes and returns reply bytes plus what the connection must do next.
// The connection coroutine (connection.cpp) does all reading, writing, TLS and spooling.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mail/envelope.h"

namespace smarthost::smtpd {

// What the connection must do after sending Step::reply.
enum class Next {
  read_command,  // read the next line and pass it to on_line()
  read_data,     // 354 was sent: stream the body through a DataReader (dot mode) into the spool, then data_end()
  read_bdat,     // read exactly bdat_size() octets (a DataReader in chunk mode), then bdat_end()
  start_tls,     // send the 220, throw away any buffered plaintext, run the handshake, then call tls_started()
  commit,        // end of message accepted so far: make it durable (or deliver it in passthrough), then committed()
  close,         // send the reply (if any) and close the connection
};

struct Step {
  std::string reply;  // complete reply bytes, possibly multi-line, each line ending in CRLF; may be empty
  Next next = Next::read_command;
};

// An allow/deny answer from the policy hooks; `reply` is the full reply line (without CRLF) on denial.
struct Verdict {
  bool allowed = true;
  std::string reply;  // e.g. "554 5.7.1 Relay access denied"
  bool disconnect = false;  // close the connection after the reply
  static Verdict allow() { return {}; }
  static Verdict deny(std::string reply, bool disconnect = false) { return {false, std::move(reply), disconnect}; }
};

struct ClientInfo {
  std::string address;  // "192.0.2.7", "2001:db8::1" or "unix"
  uint16_t port = 0;
  bool loopback = false;  // 127.0.0.0/8, ::1, ::ffff:127.x, or a unix socket
  bool tls = false;       // implicit TLS listener
  uint64_t session_id = 0;  // unique per connection while the server runs
};

// What the session knows at a hook, read-only.
struct SessionView {
  const ClientInfo& client;
  std::string_view helo;
  std::string_view auth_user;  // empty when not authenticated
  bool tls_active;
};

// The access policy hooks (policy/ implements them). Each is cheap and synchronous: no I/O, no awaits.
class SessionPolicy {
 public:
  virtual ~SessionPolicy() = default;
  virtual Verdict on_connect(const ClientInfo& client) = 0;
  virtual Verdict on_mail(const SessionView& session, std::string_view reverse_path) = 0;
  virtual Verdict on_rcpt(const SessionView& session, std::string_view reverse_path, std::string_view forward_path) = 0;
  virtual Verdict on_end_of_data(const SessionView& session, const mail::Envelope& envelope) = 0;
  // Checks a user name and password (AUTH PLAIN/LOGIN). Failures are rate-limited per IP by the implementation.
  virtual bool authenticate(const ClientInfo& client, std::string_view user, std::string_view password) = 0;
  // The connection is gone (called once per connection, after its last hook).
  virtual void on_disconnect(const ClientInfo& client) { (void)client; }
};

enum class BareLineEnd { reject, normalize };

struct SessionSettings {
  std::string hostname = "localhost";
  uint64_t max_message_size = 25ull * 1024 * 1024;
  uint32_t max_recipients = 100;
  uint32_t max_errors = 20;     // after this many error replies: 421 4.7.0 and close
  bool tls_available = false;   // a server certificate is configured (offer STARTTLS)
  bool auth_available = false;  // a users file is configured (offer AUTH PLAIN LOGIN)
  bool allow_plaintext_auth = false;
  bool require_tls = false;
  bool require_auth = false;
  BareLineEnd bare_lf = BareLineEnd::reject;
  // The wall clock for the Received: date and Envelope::received_at; empty = system_clock::now (tests inject one).
  std::function<std::chrono::system_clock::time_point()> clock;
};

// The outcome of reading a DATA body or a BDAT chunk (see data_reader.h).
struct DataOutcome {
  uint64_t size = 0;        // message octets so far (after unstuffing)
  bool too_big = false;     // exceeded max_message_size: the rest was read and thrown away
  bool bare_line_end = false;  // a bare CR or LF was seen (with BareLineEnd::reject)
  bool write_failed = false;   // the spool could not take the bytes
};

// The outcome of making the message durable (or of a passthrough delivery).
struct CommitOutcome {
  bool ok = false;
  std::string queue_id;  // on success
  std::string reply;     // overrides the default reply when set, e.g. "452 4.3.1 Insufficient system storage"
};

class Session {
 public:
  Session(SessionSettings settings, SessionPolicy& policy, ClientInfo client);

  // The greeting (220, or 421/554 when the connect hook refuses), with next = close when refused.
  Step greeting();
  // One command line or AUTH continuation line, without its CRLF. Lines over 512 octets get 500 5.5.6.
  Step on_line(std::string_view line);
  // The connection could not read a line within 512 octets; it discarded up to the next CRLF.
  Step on_line_too_long();
  // End of a DATA body: checks size and line ends, runs the end-of-data hook; next is commit or read_command.
  Step data_end(const DataOutcome& outcome);
  // End of a BDAT chunk: "250 2.0.0 n octets received", or for LAST the same checks as data_end().
  Step bdat_end(const DataOutcome& outcome);
  // The commit finished: "250 2.0.0 Ok: queued as <id>" or the failure reply. Resets the transaction.
  Step committed(const CommitOutcome& outcome);
  // The TLS handshake succeeded: forget EHLO, AUTH and the transaction; STARTTLS is no longer offered.
  // For an implicit-TLS listener, call it after the handshake and before greeting() to record version and cipher.
  void tls_started(std::string version, std::string cipher);
  // A read deadline passed: "421 4.4.2 <host> Error: timeout exceeded", next = close.
  Step timeout();
  // The server is shutting down: "421 4.3.2 <host> Service shutting down", next = close.
  Step shutting_down();

  // MAIL was accepted and the transaction has not ended (commit, RSET, a new EHLO): a shutdown lets it finish.
  bool in_transaction() const;
  // For the connection: the current transaction's envelope (valid from MAIL to commit).
  const mail::Envelope& envelope() const;
  // Octets announced by the pending BDAT command.
  uint64_t bdat_size() const;
  bool bdat_last() const;
  // The pending BDAT chunk is refused (bad sequence, too big, an earlier chunk failed): read its bdat_size()
  // octets and throw them away, then call bdat_end() (its outcome is ignored), which sends the error reply.
  bool bdat_discard() const;
  // The pending (accepted) BDAT chunk is the first of its message: start a new chunk-mode DataReader for it and
  // keep that reader for the later chunks, so a CRLF split across chunks stays a CRLF.
  bool bdat_first() const;
  // Message octets received so far in this transaction (earlier BDAT chunks), for DataReader's `already`.
  uint64_t message_size() const;
  // The Received: header (RFC 5321 4.4) for the message being received, ending in CRLF.
  std::string received_header(std::string_view queue_id) const;
  BareLineEnd bare_lf() const;
  uint64_t max_message_size() const;
  bool tls_active() const;
  std::string_view auth_user() const;

  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace smarthost::smtpd
