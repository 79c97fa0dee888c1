// The SMTP client side as a state machine with no I/O (RFC 5321, 2920, 3030, 1870, 6152, 6531, 2034, 3207, 4954,
// XOAUTH2).
// It takes reply lines and returns the bytes to write plus what the connection must do next. The connection
// coroutine (smtp_connection.cpp) does the reading, writing, TLS, token fetching and body streaming.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mail/envelope.h"
#include "upstream/outcome_classifier.h"
#include "upstream/smtp/reply.h"
#include "upstream/transport.h"

namespace smarthost::upstream::smtp {

// What the connection must do after writing Step::output.
enum class Next {
  read_reply,     // read one complete reply and pass it to on_reply()
  start_tls,      // throw away anything already read, run the TLS handshake, then call tls_started()
  refresh_token,  // XOAUTH2 was refused: fetch a fresh access token, then call token_refreshed()
  send_body,      // 354 came: stream the message through a DotStuffer (it ends with ".\r\n"), then body_sent()
  send_chunk,     // CHUNKING: write Step::output (MAIL and RCPT, not yet written), then chunk_command(n), then the
                  // message as n octets (DotStuffer, Framing::bdat), all in one write; then chunk_sent()
  ready,          // the session is idle: begin_message(), probe() or quit() may follow
  close,          // the session is over (failed, or QUIT answered): close the connection
};

struct Step {
  std::string output;  // bytes to write first (commands, CRLF-terminated); may be empty
  Next next = Next::read_reply;
};

struct ClientSettings {
  std::string local_hostname = "localhost";
  bool require_tls = false;           // use_tls: STARTTLS must succeed, never fall back to plaintext
  bool tls_active = false;            // implicit TLS (use_ssl): the connection is already encrypted
  bool allow_plaintext_auth = false;  // send credentials over an unencrypted connection (loopback peers only)
  std::string username;
  std::string password;
  bool oauth2 = false;      // authenticate with XOAUTH2 and the access token given to start()
  bool trace = false;       // record the protocol trace (AUTH data masked) for take_trace()
  bool chunking = true;     // send with BDAT when the server offers CHUNKING and PIPELINING (below)
};

// The server's EHLO answer, as understood.
struct Extensions {
  bool esmtp = false;  // EHLO worked (false after a fallback to HELO)
  bool pipelining = false;
  bool eight_bit_mime = false;
  bool smtputf8 = false;
  bool enhanced_status_codes = false;
  bool starttls = false;
  bool chunking = false;
  bool size_offered = false;
  uint64_t size_limit = 0;  // 0 = no limit announced
  std::set<std::string> auth;  // mechanisms, upper-case
};

// One message to send on an established session.
struct MessageParams {
  std::string mail_from;                // the reverse-path without brackets; empty for <>
  std::vector<std::string> recipients;  // forward-paths without brackets
  mail::BodyType body = mail::BodyType::seven_bit;
  bool smtputf8 = false;
  uint64_t size = 0;  // octets, for SIZE=
};

// Why a session could not be set up (or ended), classified.
struct SessionFailure {
  SmtpStage stage = SmtpStage::connect;
  Reply reply;
  Classification classification;
};

class ClientProtocol {
 public:
  // A message up to this size goes as one BDAT chunk (RFC 3030) when the server offers CHUNKING and PIPELINING:
  // MAIL, RCPT, "BDAT <n> LAST" and the message in one write and one round trip, where DATA takes two (its 354
  // first). The chunk's length must be known before it is sent, so the connection holds the whole encoded
  // message; larger messages stream after DATA.
  static constexpr uint64_t kMaxChunk = 256 * 1024;

  explicit ClientProtocol(ClientSettings settings);

  // The connection is open (and, with implicit TLS, encrypted): wait for the greeting. `oauth_token` is the
  // access token for XOAUTH2 (ignored otherwise).
  Step start(std::string oauth_token = {});
  // A complete reply arrived.
  Step on_reply(const Reply& reply);
  // A reply line was not SMTP: the peer is broken or not an SMTP server.
  Step on_malformed_reply(std::string_view line);
  // The TLS handshake after STARTTLS succeeded: send EHLO again.
  Step tls_started();
  // After Next::refresh_token: retry XOAUTH2 once with this token (empty: the fetch failed).
  Step token_refreshed(std::string oauth_token);
  // Starts a message (only when ready). May end at once, without I/O, when the upstream cannot take it
  // (SIZE, 8BITMIME, SMTPUTF8): then Next::ready and a result are returned.
  Step begin_message(const MessageParams& message);
  // The body and its terminating dot were written after Next::send_body.
  Step body_sent();
  // After Next::send_chunk: the BDAT command for a chunk of `octets`, the whole message (CRLF included).
  std::string chunk_command(uint64_t octets);
  // The commands, the BDAT command and the chunk were written.
  Step chunk_sent();
  // Checks an idle session before reuse: RSET, which must answer 250.
  Step probe();
  // Ready, and no transaction is open on the server: the last one ended with the reply to its final dot (or
  // none was begun, or RSET answered since), so the next MAIL needs no RSET before it (RFC 5321 4.1.1.4).
  bool transaction_clear() const { return state_ == State::ready && transaction_clear_; }
  // The message begun last got its 354 (with BDAT: its MAIL was accepted): from then on its data may have
  // reached the server.
  bool data_started() const { return data_ok_; }
  // Ends the session politely.
  Step quit();
  // A read, write, TLS handshake or timeout failed: the session is over. Any message in progress ends with a
  // temporary failure for its recipients not yet answered for good.
  // `what` says what happened ("connection lost: end of file", "certificate verification failed: ...").
  void io_failed(std::string_view what, std::string_view enhanced = "4.4.2");

  // The stage of the exchange the session is at (for classify_smtp_io_failure and logs).
  SmtpStage stage() const { return stage_; }
  bool is_ready() const { return state_ == State::ready; }
  bool tls_active() const { return settings_.tls_active; }
  const Extensions& extensions() const { return ext_; }
  // Set when the session failed before or between messages.
  const std::optional<SessionFailure>& failure() const { return failure_; }
  // The result of the message begun last, once it has ended (Next::ready or Next::close after begin_message).
  bool has_result() const { return result_.has_value(); }
  DeliveryResult take_result();
  // Protocol lines recorded since the last call ("C: ..." / "S: ..."), AUTH data masked.
  std::vector<std::string> take_trace();

 private:
  enum class State {
    greeting, ehlo, helo, starttls, auth, auth_login_user, auth_login_password, xoauth2_error, ready,
    transaction, data_end, rset, quit, closed
  };
  struct Pending {
    SmtpStage stage;
    size_t rcpt = 0;  // index into recipients_ for stage rcpt
  };
  struct Command {
    std::string line;  // without CRLF
    Pending pending;
  };

  Step send_ehlo();
  Step after_ehlo();
  Step start_auth();
  Step send_xoauth2();
  Step fail(SmtpStage stage, const Reply& reply);
  Step fail_with(SmtpStage stage, const Reply& reply, Classification c);
  Step on_transaction_reply(const Reply& reply);
  Step on_final_reply(const Reply& reply);
  Step finish_message(Next next);
  Step send_next_command();
  void record_recipient(size_t index, SmtpStage stage, const Reply& reply);
  bool any_recipient_accepted() const;  // some RCPT got a 250 in the message in progress
  void end_unanswered(const Reply& reply, Classification c);
  std::string command(std::string_view line, std::string_view shown = {});
  void trace_reply(const Reply& reply);

  ClientSettings settings_;
  State state_ = State::greeting;
  SmtpStage stage_ = SmtpStage::connect;
  Extensions ext_;
  std::string oauth_token_;
  bool oauth_retried_ = false;
  std::string auth_mechanism_;
  std::optional<SessionFailure> failure_;

  // The message in progress.
  std::vector<std::string> recipients_;
  std::vector<std::optional<RecipientResult>> rcpt_results_;  // final answer per recipient, once known
  std::vector<bool> rcpt_accepted_;                            // 250 to RCPT, awaiting the end of data
  std::deque<Pending> awaiting_;                               // commands sent, replies not yet read
  std::deque<Command> to_send_;                                // commands not yet sent (no PIPELINING)
  bool mail_ok_ = false;
  bool data_ok_ = false;
  bool transaction_clear_ = true;  // see transaction_clear()
  bool empty_data_ = false;  // DATA was accepted with no recipient: the dot alone was sent
  bool chunked_ = false;     // the message goes in one BDAT chunk instead of after DATA
  std::optional<DeliveryResult> result_;
  DeliveryResult building_;

  std::vector<std::string> trace_;
};

}  // namespace smarthost::upstream::smtp
