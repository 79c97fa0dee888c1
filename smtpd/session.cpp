// The SMTP server session state machine (see session.h): sequence rules, parameters, AUTH exchanges, error
// counting and the transaction's envelope. No I/O, no logging of credentials; replies come from reply.h helpers.
// Enhanced status codes (RFC 2034) are on every 2xx/4xx/5xx reply except the greeting and the HELO/EHLO answer,
// which RFC 2034 section 3 exempts; 334 and 354 have none by definition.
#include "smtpd/session.h"

#include <string.h>  // explicit_bzero

#include <algorithm>

#include "mail/address.h"
#include "smtpd/command.h"
#include "smtpd/reply.h"

namespace smarthost::smtpd {
namespace {

constexpr size_t kMaxCommandLine = 512;     // RFC 5321 4.5.3.1.4, including CRLF
constexpr uint32_t kRecipientOvershoot = 1000;  // 452s for excess recipients before they count as errors

// Overwrites a buffer that held a credential before it is released.
void wipe(std::string& s) {
  if (!s.empty()) explicit_bzero(s.data(), s.size());
  s.clear();
}

}  // namespace

struct Session::State {
  enum class AuthStep { none, plain, login_user, login_password };
  enum class Body { none, data, bdat };

  SessionSettings settings;
  SessionPolicy& policy;
  ClientInfo client;

  bool closed = false;
  bool greeted = false;  // HELO or EHLO seen (since the last STARTTLS)
  bool esmtp = false;
  std::string helo;
  bool tls_active = false;
  std::string tls_version;
  std::string tls_cipher;
  std::string auth_user;
  AuthStep auth_step = AuthStep::none;
  std::string login_user;
  uint32_t errors = 0;
  uint32_t recipient_overshoot = 0;

  // The transaction.
  bool in_mail = false;
  bool rcpt_attempted = false;
  mail::Envelope envelope;
  Body body = Body::none;
  uint64_t message_size = 0;
  bool bare_line_end = false;
  bool bdat_failed = false;  // a chunk was refused: later chunks are thrown away until LAST or RSET
  uint64_t bdat_size = 0;
  bool bdat_last = false;
  bool bdat_discard = false;
  bool bdat_first = false;
  std::string bdat_error;  // the reply for a discarded chunk, sent by bdat_end()

  State(SessionSettings s, SessionPolicy& p, ClientInfo c)
      : settings(std::move(s)), policy(p), client(std::move(c)), tls_active(client.tls) {}

  std::chrono::system_clock::time_point now() const {
    return settings.clock ? settings.clock() : std::chrono::system_clock::now();
  }

  SessionView view() const { return SessionView{client, helo, auth_user, tls_active}; }

  void reset_transaction() {
    in_mail = false;
    rcpt_attempted = false;
    envelope = mail::Envelope{};
    body = Body::none;
    message_size = 0;
    bare_line_end = false;
    bdat_failed = false;
    bdat_size = 0;
    bdat_last = false;
    bdat_discard = false;
    bdat_first = false;
    bdat_error.clear();
  }

  void end_auth_exchange() {
    auth_step = AuthStep::none;
    wipe(login_user);
  }

  Step ok(std::string_view line) const { return Step{reply_line(line), Next::read_command}; }

  // A 4xx/5xx reply caused by the client. Past max_errors the session ends with 421 4.7.0.
  Step error(std::string_view line) {
    Step step{reply_line(line), Next::read_command};
    ++errors;
    if (settings.max_errors != 0 && errors >= settings.max_errors) {
      step.reply += reply_line("421 4.7.0 " + settings.hostname + " Error: too many errors");
      step.next = Next::close;
      closed = true;
    }
    return step;
  }

  Step deny(const Verdict& verdict) {
    Step step = error(verdict.reply.empty() ? std::string_view("554 5.7.1 Access denied") : verdict.reply);
    if (verdict.disconnect) {
      step.next = Next::close;
      closed = true;
    }
    return step;
  }

  Step close_with(std::string_view line) {
    closed = true;
    return Step{reply_line(line), Next::close};
  }

  bool auth_offered() const {
    return settings.auth_available && (tls_active || settings.allow_plaintext_auth);
  }

  Step on_command(std::string_view line);
  Step helo_command(const CommandLine& cmd, bool extended);
  Step mail_command(const CommandLine& cmd);
  Step rcpt_command(const CommandLine& cmd);
  Step data_command(const CommandLine& cmd);
  Step bdat_command(const CommandLine& cmd);
  Step starttls_command(const CommandLine& cmd);
  Step auth_command(const CommandLine& cmd);
  Step auth_continue(std::string_view line);
  Step plain_credentials(std::string& decoded);
  Step authenticate(std::string_view user, std::string& password);
  Step end_of_message();
  Step refuse_bdat(std::string_view line, bool last);
};

// ---- Commands --------------------------------------------------------------------------------------------------

Step Session::State::on_command(std::string_view line) {
  const CommandLine cmd = parse_command(line);
  switch (cmd.verb) {
    case Verb::ehlo:
      return helo_command(cmd, true);
    case Verb::helo:
      return helo_command(cmd, false);
    case Verb::mail:
      return mail_command(cmd);
    case Verb::rcpt:
      return rcpt_command(cmd);
    case Verb::data:
      return data_command(cmd);
    case Verb::bdat:
      return bdat_command(cmd);
    case Verb::rset:
      if (cmd.has_argument()) return error("501 5.5.4 Syntax: RSET");
      reset_transaction();
      return ok("250 2.0.0 Ok");
    case Verb::noop:
      return ok("250 2.0.0 Ok");
    case Verb::quit:
      return close_with("221 2.0.0 Bye");
    case Verb::vrfy:
      if (!cmd.has_argument()) return error("501 5.5.4 Syntax: VRFY address");
      return ok("252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
    case Verb::expn:
      return error("502 5.5.1 Error: command not implemented");
    case Verb::help:
      return ok("214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
    case Verb::starttls:
      return starttls_command(cmd);
    case Verb::auth:
      return auth_command(cmd);
    case Verb::http:
      // Cross-protocol requests (a browser or proxy pointed at port 25): never worth a second line.
      return close_with("221 2.7.0 Error: I can break rules, too. Goodbye.");
    case Verb::unknown:
      break;
  }
  return error("500 5.5.2 Error: command not recognized");
}

Step Session::State::helo_command(const CommandLine& cmd, bool extended) {
  if (!cmd.has_argument()) return error(extended ? "501 5.5.4 Syntax: EHLO hostname" : "501 5.5.4 Syntax: HELO hostname");
  reset_transaction();
  helo = std::string(cmd.argument);
  greeted = true;
  esmtp = extended;
  if (!extended) return Step{reply_line("250 " + settings.hostname), Next::read_command};
  std::vector<std::string> lines{settings.hostname,
                                 "PIPELINING",
                                 "SIZE " + std::to_string(settings.max_message_size),
                                 "8BITMIME",
                                 "SMTPUTF8",
                                 "ENHANCEDSTATUSCODES",
                                 "CHUNKING"};
  if (settings.tls_available && !tls_active) lines.emplace_back("STARTTLS");
  if (auth_offered()) lines.emplace_back("AUTH PLAIN LOGIN");
  return Step{multiline_reply(250, lines), Next::read_command};
}

Step Session::State::mail_command(const CommandLine& cmd) {
  if (!greeted) return error("503 5.5.1 Error: send HELO/EHLO first");
  if (in_mail) return error("503 5.5.1 Error: nested MAIL command");
  if (settings.require_tls && !tls_active) return error("530 5.7.0 Must issue a STARTTLS command first");
  if (settings.require_auth && auth_user.empty()) return error("530 5.7.0 Authentication required");
  const auto text = after_keyword(cmd.argument, "FROM:");
  if (!text) return error("501 5.5.4 Syntax: MAIL FROM:<address>");

  // The path is parsed leniently about UTF-8 first, to reach the parameters that say whether UTF-8 is allowed.
  mail::PathParse path = mail::parse_path(*text, true, true);
  switch (path.error) {
    case mail::PathError::none:
      break;
    case mail::PathError::syntax:
      return error("501 5.1.7 Bad sender address syntax");
    case mail::PathError::local_too_long:
    case mail::PathError::domain_too_long:
    case mail::PathError::path_too_long:
      return error("553 5.1.7 Sender address too long");
    case mail::PathError::not_ascii:
      return error("553 5.6.7 Non-ASCII address requires SMTPUTF8");
  }
  const MailParameterParse params = parse_mail_parameters(path.rest);
  if (params.error == ParamError::unknown) return error("555 5.5.4 Unsupported option: " + params.keyword);
  if (params.error == ParamError::malformed) return error("501 5.5.4 Bad parameter: " + params.keyword);
  if (!params.params.smtputf8 && mail::parse_path(*text, true, false).error == mail::PathError::not_ascii)
    return error("553 5.6.7 Non-ASCII address requires SMTPUTF8");
  if (!path.path.null && path.path.domain.empty()) return error("553 5.1.7 Sender address must have a domain");
  if (params.params.size && *params.params.size > settings.max_message_size)
    return error("552 5.3.4 Message size exceeds fixed limit");

  const std::string sender = path.path.address();
  const Verdict verdict = policy.on_mail(view(), sender);
  if (!verdict.allowed) return deny(verdict);

  reset_transaction();
  in_mail = true;
  envelope.mail_from = sender;
  envelope.body = params.params.body;
  envelope.smtputf8 = params.params.smtputf8;
  envelope.client_address = client.address;
  envelope.client_helo = helo;
  envelope.auth_user = auth_user;
  envelope.received_at = now();
  return ok("250 2.1.0 Ok");
}

Step Session::State::rcpt_command(const CommandLine& cmd) {
  if (!greeted) return error("503 5.5.1 Error: send HELO/EHLO first");
  if (!in_mail) return error("503 5.5.1 Error: need MAIL command");
  if (body != Body::none) return error("503 5.5.1 Error: RCPT after BDAT in one transaction");
  const auto text = after_keyword(cmd.argument, "TO:");
  if (!text) return error("501 5.5.4 Syntax: RCPT TO:<address>");
  rcpt_attempted = true;
  const mail::PathParse path = mail::parse_path(*text, false, envelope.smtputf8);
  switch (path.error) {
    case mail::PathError::none:
      break;
    case mail::PathError::syntax:
      return error("501 5.1.3 Bad recipient address syntax");
    case mail::PathError::local_too_long:
    case mail::PathError::domain_too_long:
    case mail::PathError::path_too_long:
      return error("553 5.1.3 Recipient address too long");
    case mail::PathError::not_ascii:
      return error("553 5.6.7 Non-ASCII address requires SMTPUTF8");
  }
  const MailParameterParse params = parse_rcpt_parameters(path.rest);
  if (params.error == ParamError::unknown) return error("555 5.5.4 Unsupported option: " + params.keyword);
  if (params.error == ParamError::malformed) return error("501 5.5.4 Bad parameter: " + params.keyword);
  if (envelope.recipients.size() >= settings.max_recipients) {
    if (recipient_overshoot++ >= kRecipientOvershoot) return error("452 4.5.3 Error: too many recipients");
    return ok("452 4.5.3 Error: too many recipients");
  }
  const std::string recipient = path.path.address();
  const Verdict verdict = policy.on_rcpt(view(), envelope.mail_from, recipient);
  if (!verdict.allowed) return deny(verdict);
  const bool duplicate = std::any_of(envelope.recipients.begin(), envelope.recipients.end(),
                                     [&](const mail::Recipient& r) { return r.address == recipient; });
  if (!duplicate) envelope.recipients.push_back(mail::Recipient{recipient, mail::RecipientState::pending, {}});
  return ok("250 2.1.5 Ok");
}

Step Session::State::data_command(const CommandLine& cmd) {
  if (cmd.has_argument()) return error("501 5.5.4 Syntax: DATA");
  if (!greeted) return error("503 5.5.1 Error: send HELO/EHLO first");
  if (!in_mail) return error("503 5.5.1 Error: need MAIL command");
  if (body == Body::bdat) return error("503 5.5.1 Error: DATA after BDAT in one transaction");
  if (envelope.recipients.empty()) {
    return error(rcpt_attempted ? "554 5.5.1 Error: no valid recipients" : "503 5.5.1 Error: need RCPT command");
  }
  body = Body::data;
  envelope.received_at = now();
  return Step{reply_line("354 End data with <CR><LF>.<CR><LF>"), Next::read_data};
}

Step Session::State::refuse_bdat(std::string_view line, bool last) {
  // RFC 3030 4: a refused chunk is still read (its size is known), then answered; later chunks of the same
  // transaction are refused too, until LAST or RSET.
  bdat_discard = true;
  bdat_last = last;
  bdat_error = std::string(line);
  if (in_mail) bdat_failed = true;
  return Step{"", Next::read_bdat};
}

Step Session::State::bdat_command(const CommandLine& cmd) {
  const auto args = parse_bdat(cmd.argument);
  // Without a size the chunk cannot be skipped, so the rest of the input cannot be trusted as commands.
  if (!args) return close_with("501 5.5.4 Syntax: BDAT count [LAST]");
  bdat_size = args->size;
  bdat_last = args->last;
  bdat_discard = false;
  bdat_first = false;
  if (!greeted) return refuse_bdat("503 5.5.1 Error: send HELO/EHLO first", args->last);
  if (!in_mail) return refuse_bdat("503 5.5.1 Error: need MAIL command", args->last);
  if (envelope.recipients.empty()) {
    return refuse_bdat(rcpt_attempted ? "554 5.5.1 Error: no valid recipients" : "503 5.5.1 Error: need RCPT command",
                       args->last);
  }
  if (body == Body::data) return refuse_bdat("503 5.5.1 Error: BDAT after DATA in one transaction", args->last);
  if (bdat_failed) return refuse_bdat("503 5.5.1 Error: an earlier chunk was refused; send RSET", args->last);
  if (args->size > settings.max_message_size || message_size + args->size > settings.max_message_size)
    return refuse_bdat("552 5.3.4 Message size exceeds fixed limit", args->last);
  bdat_first = body == Body::none;
  if (bdat_first) envelope.received_at = now();
  body = Body::bdat;
  return Step{"", Next::read_bdat};
}

Step Session::State::end_of_message() {
  if (bare_line_end) {
    reset_transaction();
    return error("550 5.5.2 Error: bare <CR> or <LF> received; line ends must be <CR><LF>");
  }
  const Verdict verdict = policy.on_end_of_data(view(), envelope);
  if (!verdict.allowed) {
    Step step = deny(verdict);
    reset_transaction();
    return step;
  }
  return Step{"", Next::commit};
}

Step Session::State::starttls_command(const CommandLine& cmd) {
  if (tls_active) return error("503 5.5.1 Error: TLS already active");
  if (!settings.tls_available) return error("502 5.5.1 Error: command not implemented");
  if (cmd.has_argument()) return error("501 5.5.4 Syntax: STARTTLS");
  if (in_mail) return error("503 5.5.1 Error: MAIL transaction in progress");
  return Step{reply_line("220 2.0.0 Ready to start TLS"), Next::start_tls};
}

// ---- AUTH (RFC 4954) -------------------------------------------------------------------------------------------

Step Session::State::auth_command(const CommandLine& cmd) {
  if (!settings.auth_available) return error("503 5.5.1 Error: authentication not enabled");
  if (!tls_active && !settings.allow_plaintext_auth)
    return error("538 5.7.11 Encryption required for requested authentication mechanism");
  if (!greeted || !esmtp) return error("503 5.5.1 Error: send EHLO first");
  if (!auth_user.empty()) return error("503 5.5.1 Error: already authenticated");
  if (in_mail) return error("503 5.5.1 Error: MAIL transaction in progress");
  const auto args = parse_auth(cmd.argument);
  if (!args) return error("501 5.5.4 Syntax: AUTH mechanism [initial-response]");
  const bool plain = iequals(args->mechanism, "PLAIN");
  const bool login = iequals(args->mechanism, "LOGIN");
  if (!plain && !login) return error("504 5.5.4 Unsupported authentication mechanism");

  if (!args->initial_response) {
    auth_step = plain ? AuthStep::plain : AuthStep::login_user;
    return ok(plain ? "334 " : "334 VXNlcm5hbWU6");
  }
  // An initial response is handled as if it came as the first continuation line; "=" means empty.
  auth_step = plain ? AuthStep::plain : AuthStep::login_user;
  return auth_continue(*args->initial_response == "=" ? std::string_view{} : *args->initial_response);
}

Step Session::State::auth_continue(std::string_view line) {
  if (line == "*") {
    end_auth_exchange();
    return error("501 5.0.0 Authentication cancelled");
  }
  std::optional<std::string> decoded = decode_base64(line);
  if (!decoded) {
    end_auth_exchange();
    return error("501 5.5.2 Error: invalid base64 data");
  }
  switch (auth_step) {
    case AuthStep::plain: {
      end_auth_exchange();
      Step step = plain_credentials(*decoded);
      wipe(*decoded);
      return step;
    }
    case AuthStep::login_user:
      login_user = std::move(*decoded);
      auth_step = AuthStep::login_password;
      return ok("334 UGFzc3dvcmQ6");
    case AuthStep::login_password: {
      std::string user = std::move(login_user);
      end_auth_exchange();
      Step step = authenticate(user, *decoded);
      wipe(user);
      return step;
    }
    case AuthStep::none:
      break;
  }
  end_auth_exchange();
  return error("503 5.5.1 Error: no authentication in progress");
}

Step Session::State::plain_credentials(std::string& decoded) {
  // authzid NUL authcid NUL passwd; an authzid other than the authcid (acting for someone else) is refused.
  const size_t first = decoded.find('\0');
  const size_t second = first == std::string::npos ? std::string::npos : decoded.find('\0', first + 1);
  if (second == std::string::npos || decoded.find('\0', second + 1) != std::string::npos) {
    return error("535 5.7.8 Error: authentication failed");
  }
  const std::string_view authzid(decoded.data(), first);
  const std::string_view authcid(decoded.data() + first + 1, second - first - 1);
  if (!authzid.empty() && authzid != authcid) return error("535 5.7.8 Error: authentication failed");
  std::string password = decoded.substr(second + 1);
  Step step = authenticate(authcid, password);
  return step;
}

Step Session::State::authenticate(std::string_view user, std::string& password) {
  const bool good = !user.empty() && user.find('\0') == std::string_view::npos &&
                    password.find('\0') == std::string::npos && policy.authenticate(client, user, password);
  wipe(password);
  if (!good) return error("535 5.7.8 Error: authentication failed");
  auth_user = std::string(user);
  return ok("235 2.7.0 Authentication successful");
}

// ---- Session -----------------------------------------------------------------------------------------------------

Session::Session(SessionSettings settings, SessionPolicy& policy, ClientInfo client)
    : s_(std::make_unique<State>(std::move(settings), policy, std::move(client))) {}

Session::~Session() { wipe(s_->login_user); }

Step Session::greeting() {
  const Verdict verdict = s_->policy.on_connect(s_->client);
  if (!verdict.allowed) {
    return s_->close_with(verdict.reply.empty() ? std::string_view("554 5.7.1 Access denied") : verdict.reply);
  }
  return s_->ok("220 " + s_->settings.hostname + " ESMTP smarthost");
}

Step Session::on_line(std::string_view line) {
  if (s_->closed) return Step{"", Next::close};
  if (line.size() + 2 > kMaxCommandLine) return on_line_too_long();
  if (line.find('\0') != std::string_view::npos) {
    s_->end_auth_exchange();
    return s_->error("500 5.5.2 Error: NUL character in command refused");
  }
  if (line.find_first_of("\r\n") != std::string_view::npos) {
    s_->end_auth_exchange();
    return s_->error("500 5.5.2 Error: bare <CR> or <LF> in command refused");
  }
  if (s_->auth_step != State::AuthStep::none) return s_->auth_continue(line);
  return s_->on_command(line);
}

Step Session::on_line_too_long() {
  if (s_->closed) return Step{"", Next::close};
  s_->end_auth_exchange();
  return s_->error("500 5.5.6 Error: line too long");
}

Step Session::data_end(const DataOutcome& outcome) {
  if (s_->closed) return Step{"", Next::close};
  s_->message_size = outcome.size;
  s_->bare_line_end = s_->bare_line_end || outcome.bare_line_end;
  if (outcome.too_big) {
    s_->reset_transaction();
    return s_->error("552 5.3.4 Message size exceeds fixed limit");
  }
  if (outcome.write_failed) {
    s_->reset_transaction();
    return s_->ok("451 4.3.0 Error: local error in processing");
  }
  return s_->end_of_message();
}

Step Session::bdat_end(const DataOutcome& outcome) {
  if (s_->closed) return Step{"", Next::close};
  State& s = *s_;
  if (s.bdat_discard) {
    const std::string reply = std::move(s.bdat_error);
    s.bdat_discard = false;
    s.bdat_error.clear();
    if (s.bdat_last) s.reset_transaction();
    return s.error(reply);
  }
  s.message_size = outcome.size;
  s.bare_line_end = s.bare_line_end || outcome.bare_line_end;
  if (outcome.too_big || outcome.write_failed) {
    s.bdat_failed = true;
    const bool last = s.bdat_last;
    if (last) s.reset_transaction();
    if (outcome.too_big) return s.error("552 5.3.4 Message size exceeds fixed limit");
    return s.ok("451 4.3.0 Error: local error in processing");
  }
  if (!s.bdat_last) return s.ok("250 2.0.0 " + std::to_string(s.bdat_size) + " octets received");
  return s.end_of_message();
}

Step Session::committed(const CommitOutcome& outcome) {
  if (s_->closed) return Step{"", Next::close};
  s_->reset_transaction();
  if (outcome.ok) return s_->ok(outcome.reply.empty() ? "250 2.0.0 Ok: queued as " + outcome.queue_id : outcome.reply);
  return s_->ok(outcome.reply.empty() ? std::string_view("451 4.3.0 Error: queue file write error") : outcome.reply);
}

void Session::tls_started(std::string version, std::string cipher) {
  State& s = *s_;
  s.reset_transaction();
  s.end_auth_exchange();
  s.greeted = false;
  s.esmtp = false;
  s.helo.clear();
  s.auth_user.clear();
  s.tls_active = true;
  s.tls_version = std::move(version);
  s.tls_cipher = std::move(cipher);
}

Step Session::timeout() { return s_->close_with("421 4.4.2 " + s_->settings.hostname + " Error: timeout exceeded"); }

Step Session::shutting_down() {
  return s_->close_with("421 4.3.2 " + s_->settings.hostname + " Service shutting down");
}

bool Session::in_transaction() const { return s_->in_mail; }
const mail::Envelope& Session::envelope() const { return s_->envelope; }
uint64_t Session::bdat_size() const { return s_->bdat_size; }
bool Session::bdat_last() const { return s_->bdat_last; }
bool Session::bdat_discard() const { return s_->bdat_discard; }
bool Session::bdat_first() const { return s_->bdat_first; }
uint64_t Session::message_size() const { return s_->message_size; }
BareLineEnd Session::bare_lf() const { return s_->settings.bare_lf; }
uint64_t Session::max_message_size() const { return s_->settings.max_message_size; }
bool Session::tls_active() const { return s_->tls_active; }
std::string_view Session::auth_user() const { return s_->auth_user; }

std::string Session::received_header(std::string_view queue_id) const {
  const State& s = *s_;
  ReceivedFields f;
  f.helo = s.helo;
  f.client_address = s.client.address;
  f.hostname = s.settings.hostname;
  f.protocol = received_protocol(s.esmtp, s.envelope.smtputf8, s.tls_active, !s.auth_user.empty());
  f.queue_id = queue_id;
  if (s.envelope.recipients.size() == 1) f.recipient = s.envelope.recipients.front().address;
  if (s.tls_active) {
    f.tls_version = s.tls_version;
    f.tls_cipher = s.tls_cipher;
  }
  f.when = s.now();
  return format_received(f);
}

}  // namespace smarthost::smtpd
