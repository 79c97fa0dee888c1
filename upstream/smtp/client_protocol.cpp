// The SMTP client state machine (see the header). Every reply is classified through classify_smtp(); the
// message result is built per recipient.
#include "upstream/smtp/client_protocol.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace smarthost::upstream::smtp {
namespace {

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

Extensions parse_ehlo(const Reply& reply) {
  Extensions ext;
  ext.esmtp = true;
  for (size_t i = 1; i < reply.lines.size(); ++i) {
    std::string_view line = reply.lines[i];
    size_t sep = line.find_first_of(" =");
    std::string keyword = upper(line.substr(0, sep));
    std::string_view params = sep == std::string_view::npos ? std::string_view{} : line.substr(sep + 1);
    if (keyword == "PIPELINING") ext.pipelining = true;
    else if (keyword == "8BITMIME") ext.eight_bit_mime = true;
    else if (keyword == "SMTPUTF8") ext.smtputf8 = true;
    else if (keyword == "ENHANCEDSTATUSCODES") ext.enhanced_status_codes = true;
    else if (keyword == "STARTTLS") ext.starttls = true;
    else if (keyword == "CHUNKING") ext.chunking = true;
    else if (keyword == "SIZE") {
      ext.size_offered = true;
      uint64_t limit = 0;
      auto [p, ec] = std::from_chars(params.data(), params.data() + params.size(), limit);
      if (ec == std::errc{}) ext.size_limit = limit;
    } else if (keyword == "AUTH") {
      size_t pos = 0;
      while (pos < params.size()) {
        size_t end = params.find(' ', pos);
        if (end == std::string_view::npos) end = params.size();
        if (end > pos) ext.auth.insert(upper(params.substr(pos, end - pos)));
        pos = end + 1;
      }
    }
  }
  return ext;
}

// Postfix-style queue ids ("250 2.0.0 Ok: queued as 4Xyz") and SES's "250 Ok <message-id>".
std::string remote_id_of(const Reply& reply) {
  std::string text = reply.text();
  size_t at = text.find("queued as ");
  if (at != std::string::npos) {
    std::string_view rest = std::string_view(text).substr(at + 10);
    return std::string(rest.substr(0, rest.find_first_of(" ;")));
  }
  if (text.starts_with("Ok ") && text.find(' ', 3) == std::string::npos && text.size() > 11) return text.substr(3);
  return {};
}

Outcome combine(const std::vector<RecipientResult>& results) {
  bool any_temporary = false, any_refused = false, any_failed = false;
  for (const auto& r : results) {
    if (r.outcome == Outcome::delivered) continue;
    any_failed = true;
    any_temporary |= r.outcome == Outcome::temporary;
    any_refused |= r.outcome == Outcome::upstream_refused;
  }
  if (!any_failed) return Outcome::delivered;
  if (any_temporary) return Outcome::temporary;
  if (any_refused) return Outcome::upstream_refused;
  return Outcome::permanent;
}

}  // namespace

ClientProtocol::ClientProtocol(ClientSettings settings) : settings_(std::move(settings)) {
  if (settings_.local_hostname.empty()) settings_.local_hostname = "localhost";
}

std::string ClientProtocol::command(std::string_view line, std::string_view shown) {
  if (settings_.trace) trace_.push_back("C: " + std::string(shown.empty() ? line : shown));
  std::string out(line);
  out.append("\r\n");
  return out;
}

void ClientProtocol::trace_reply(const Reply& reply) {
  if (!settings_.trace) return;
  for (size_t i = 0; i < reply.lines.size(); ++i) {
    trace_.push_back("S: " + std::to_string(reply.code) + (i + 1 < reply.lines.size() ? "-" : " ") + reply.lines[i]);
  }
}

std::vector<std::string> ClientProtocol::take_trace() {
  std::vector<std::string> out;
  out.swap(trace_);
  return out;
}

DeliveryResult ClientProtocol::take_result() {
  DeliveryResult r = std::move(*result_);
  result_.reset();
  return r;
}

Step ClientProtocol::start(std::string oauth_token) {
  oauth_token_ = std::move(oauth_token);
  state_ = State::greeting;
  stage_ = SmtpStage::greeting;
  return {{}, Next::read_reply};
}

Step ClientProtocol::send_ehlo() {
  state_ = State::ehlo;
  stage_ = SmtpStage::ehlo;
  return {command("EHLO " + settings_.local_hostname), Next::read_reply};
}

Step ClientProtocol::tls_started() {
  settings_.tls_active = true;
  ext_ = Extensions{};  // RFC 3207: forget everything learnt before TLS
  return send_ehlo();
}

Step ClientProtocol::after_ehlo() {
  if (settings_.require_tls && !settings_.tls_active) {
    if (!ext_.starttls) {
      // Never fall back to plaintext: a missing STARTTLS may be an attacker stripping it.
      return fail_with(SmtpStage::starttls,
                       make_reply(530, "5.7.10", "smarthost: upstream does not offer STARTTLS and use_tls requires it"),
                       {Outcome::upstream_refused, true, false});
    }
    state_ = State::starttls;
    stage_ = SmtpStage::starttls;
    return {command("STARTTLS"), Next::read_reply};
  }
  if (settings_.oauth2 || !settings_.username.empty()) return start_auth();
  state_ = State::ready;
  return {{}, Next::ready};
}

Step ClientProtocol::start_auth() {
  stage_ = SmtpStage::auth;
  if (!settings_.tls_active && !settings_.allow_plaintext_auth) {
    return fail_with(SmtpStage::auth,
                     make_reply(538, "5.7.11",
                                "smarthost: refusing to send credentials over an unencrypted connection "
                                "(set use_tls or use_ssl)"),
                     {Outcome::upstream_refused, true, false});
  }
  if (settings_.oauth2 && ext_.auth.contains("XOAUTH2")) {
    auth_mechanism_ = "XOAUTH2";
    return send_xoauth2();
  }
  if (!settings_.password.empty() && ext_.auth.contains("PLAIN")) {
    auth_mechanism_ = "PLAIN";
    state_ = State::auth;
    std::string payload;
    payload.push_back('\0');
    payload.append(settings_.username).push_back('\0');
    payload.append(settings_.password);
    return {command("AUTH PLAIN " + base64(payload), "AUTH PLAIN ***"), Next::read_reply};
  }
  if (!settings_.password.empty() && ext_.auth.contains("LOGIN")) {
    auth_mechanism_ = "LOGIN";
    state_ = State::auth_login_user;
    return {command("AUTH LOGIN"), Next::read_reply};
  }
  std::string offered;
  for (const auto& m : ext_.auth) offered.append(offered.empty() ? "" : " ").append(m);
  return fail_with(SmtpStage::auth,
                   make_reply(504, "5.7.4",
                              "smarthost: no usable AUTH mechanism offered by the upstream (offered: " +
                                  (offered.empty() ? std::string("none") : offered) + "; we need " +
                                  (settings_.oauth2 ? "XOAUTH2" : "PLAIN or LOGIN") + ")"),
                   {Outcome::upstream_refused, true, false});
}

Step ClientProtocol::send_xoauth2() {
  state_ = State::auth;
  stage_ = SmtpStage::auth;
  std::string payload = "user=" + settings_.username + "\x01" + "auth=Bearer " + oauth_token_ + "\x01\x01";
  return {command("AUTH XOAUTH2 " + base64(payload), "AUTH XOAUTH2 ***"), Next::read_reply};
}

Step ClientProtocol::token_refreshed(std::string oauth_token) {
  oauth_retried_ = true;
  if (oauth_token.empty()) {
    return fail_with(SmtpStage::auth, make_reply(454, "4.7.0", "smarthost: could not refresh the OAuth2 access token"),
                     {Outcome::temporary, true, false});
  }
  oauth_token_ = std::move(oauth_token);
  return send_xoauth2();
}

Step ClientProtocol::fail(SmtpStage stage, const Reply& reply) {
  return fail_with(stage, reply, classify_smtp(stage, reply.code, reply.enhanced, reply.text()));
}

Step ClientProtocol::fail_with(SmtpStage stage, const Reply& reply, Classification c) {
  bool in_message = state_ == State::transaction || state_ == State::data_end;
  failure_ = SessionFailure{stage, reply, c};
  if (in_message) {
    end_unanswered(reply, c);
    finish_message(Next::close);
  }
  bool polite = reply.code != 421 && state_ != State::quit && state_ != State::closed;
  state_ = State::closed;
  if (settings_.trace && reply.text().starts_with("smarthost:")) trace_.push_back("-- " + reply.to_string());
  return {polite ? command("QUIT") : std::string{}, Next::close};
}

Step ClientProtocol::on_malformed_reply(std::string_view line) {
  std::string shown(line.substr(0, 200));
  if (settings_.trace) trace_.push_back("S: " + shown);
  Reply r = make_reply(0, "", "smarthost: malformed reply from upstream: " + shown);
  return fail_with(stage_, r, classify_smtp(stage_, 0, "", r.text()));
}

void ClientProtocol::io_failed(std::string_view what, std::string_view enhanced) {
  if (state_ == State::closed) return;
  Reply r = make_reply(451, enhanced, "smarthost: " + std::string(what));
  Classification c = classify_smtp_io_failure(stage_);
  bool in_message = state_ == State::transaction || state_ == State::data_end;
  failure_ = SessionFailure{stage_, r, c};
  if (in_message) {
    end_unanswered(r, c);
    finish_message(Next::close);
  }
  state_ = State::closed;
}

Step ClientProtocol::on_reply(const Reply& reply) {
  trace_reply(reply);
  switch (state_) {
    case State::greeting:
      if (reply.code == 220) return send_ehlo();
      return fail(SmtpStage::greeting, reply);
    case State::ehlo:
      if (reply.code == 250) {
        ext_ = parse_ehlo(reply);
        return after_ehlo();
      }
      if (reply.code >= 500 && reply.code != 521 && reply.code != 554) {  // no ESMTP: fall back to HELO
        state_ = State::helo;
        return {command("HELO " + settings_.local_hostname), Next::read_reply};
      }
      return fail(SmtpStage::ehlo, reply);
    case State::helo:
      if (reply.code == 250) {
        ext_ = Extensions{};
        return after_ehlo();
      }
      return fail(SmtpStage::ehlo, reply);
    case State::starttls:
      if (reply.code == 220) return {{}, Next::start_tls};
      return fail(SmtpStage::starttls, reply);
    case State::auth_login_user:
      if (reply.code != 334) return fail(SmtpStage::auth, reply);
      state_ = State::auth_login_password;
      return {command(base64(settings_.username), "***"), Next::read_reply};
    case State::auth_login_password:
      if (reply.code != 334) return fail(SmtpStage::auth, reply);
      state_ = State::auth;
      return {command(base64(settings_.password), "***"), Next::read_reply};
    case State::auth:
      if (reply.code == 235) {
        state_ = State::ready;
        return {{}, Next::ready};
      }
      if (auth_mechanism_ == "XOAUTH2" && reply.code == 334) {
        // The server's JSON error challenge: answer with an empty line to get the final 5xx.
        state_ = State::xoauth2_error;
        return {command(""), Next::read_reply};
      }
      if (auth_mechanism_ == "XOAUTH2" && reply.code >= 500 && !oauth_retried_) return {{}, Next::refresh_token};
      return fail(SmtpStage::auth, reply);
    case State::xoauth2_error:
      if (reply.code == 235) {
        state_ = State::ready;
        return {{}, Next::ready};
      }
      if (reply.code >= 500 && !oauth_retried_) return {{}, Next::refresh_token};
      return fail(SmtpStage::auth, reply);
    case State::rset:
      if (reply.code == 250) {
        state_ = State::ready;
        transaction_clear_ = true;
        return {{}, Next::ready};
      }
      return fail(SmtpStage::rset, reply);
    case State::quit:
      state_ = State::closed;
      return {{}, Next::close};
    case State::transaction:
    case State::data_end:
      return on_transaction_reply(reply);
    case State::ready:
    case State::closed:
      break;
  }
  return fail(stage_, reply);  // a reply nobody asked for: the session is out of step
}

Step ClientProtocol::probe() {
  state_ = State::rset;
  stage_ = SmtpStage::rset;
  return {command("RSET"), Next::read_reply};
}

Step ClientProtocol::quit() {
  if (state_ == State::closed) return {{}, Next::close};
  state_ = State::quit;
  stage_ = SmtpStage::quit;
  return {command("QUIT"), Next::read_reply};
}

Step ClientProtocol::begin_message(const MessageParams& message) {
  recipients_ = message.recipients;
  rcpt_results_.assign(recipients_.size(), std::nullopt);
  rcpt_accepted_.assign(recipients_.size(), false);
  awaiting_.clear();
  to_send_.clear();
  mail_ok_ = data_ok_ = empty_data_ = chunked_ = false;
  building_ = DeliveryResult{};
  result_.reset();

  auto refuse = [&](const Reply& reply) {
    if (settings_.trace) trace_.push_back("-- " + reply.to_string());
    for (size_t i = 0; i < recipients_.size(); ++i) {
      rcpt_results_[i] = RecipientResult{recipients_[i], Outcome::permanent, reply.to_string()};
    }
    return finish_message(Next::ready);
  };
  if (state_ != State::ready) {
    Reply r = make_reply(451, "4.3.0", "smarthost: upstream session not ready");
    end_unanswered(r, {Outcome::temporary, false, false});
    return finish_message(Next::close);
  }
  if (ext_.size_limit > 0 && message.size > ext_.size_limit) {
    return refuse(make_reply(552, "5.3.4",
                             "smarthost: message size " + std::to_string(message.size) +
                                 " exceeds the upstream's limit of " + std::to_string(ext_.size_limit)));
  }
  if (message.body == mail::BodyType::eight_bit_mime && !ext_.eight_bit_mime) {
    return refuse(make_reply(554, "5.6.3",
                             "smarthost: the upstream does not offer 8BITMIME, and this 8-bit message "
                             "(BODY=8BITMIME) cannot be relayed without conversion"));
  }
  bool utf8_addresses = !is_ascii(message.mail_from) ||
                        std::any_of(recipients_.begin(), recipients_.end(), [](auto& r) { return !is_ascii(r); });
  if (message.smtputf8 && utf8_addresses && !ext_.smtputf8) {
    return refuse(make_reply(553, "5.6.7",
                             "smarthost: the upstream does not offer SMTPUTF8, needed for this message's "
                             "internationalised addresses"));
  }

  transaction_clear_ = false;
  std::string mail = "MAIL FROM:<" + message.mail_from + ">";
  if (ext_.size_offered && message.size > 0) mail += " SIZE=" + std::to_string(message.size);
  if (message.body == mail::BodyType::eight_bit_mime) mail += " BODY=8BITMIME";
  if (message.smtputf8 && ext_.smtputf8) mail += " SMTPUTF8";
  to_send_.push_back({std::move(mail), {SmtpStage::mail}});
  for (size_t i = 0; i < recipients_.size(); ++i) {
    to_send_.push_back({"RCPT TO:<" + recipients_[i] + ">", {SmtpStage::rcpt, i}});
  }
  // BDAT needs PIPELINING too: without it each command would wait for its reply, and the chunk's with it.
  chunked_ = settings_.chunking && ext_.chunking && ext_.pipelining && message.size <= kMaxChunk;
  if (!chunked_) to_send_.push_back({"DATA", {SmtpStage::data}});
  state_ = State::transaction;
  stage_ = SmtpStage::mail;
  if (!ext_.pipelining) return send_next_command();
  std::string out;  // MAIL, every RCPT and DATA in one write (RFC 2920); with BDAT, the chunk follows in it
  while (!to_send_.empty()) {
    out += command(to_send_.front().line);
    awaiting_.push_back(to_send_.front().pending);
    to_send_.pop_front();
  }
  return {std::move(out), chunked_ ? Next::send_chunk : Next::read_reply};
}

std::string ClientProtocol::chunk_command(uint64_t octets) {
  awaiting_.push_back({SmtpStage::data_end});
  return command("BDAT " + std::to_string(octets) + " LAST");
}

Step ClientProtocol::chunk_sent() {
  if (settings_.trace) trace_.push_back("C: <message body>");
  return {{}, Next::read_reply};
}

Step ClientProtocol::send_next_command() {
  Command next = std::move(to_send_.front());
  to_send_.pop_front();
  awaiting_.push_back(next.pending);
  return {command(next.line), Next::read_reply};
}

bool ClientProtocol::any_recipient_accepted() const {
  return std::find(rcpt_accepted_.begin(), rcpt_accepted_.end(), true) != rcpt_accepted_.end();
}

void ClientProtocol::record_recipient(size_t index, SmtpStage stage, const Reply& reply) {
  Classification c = classify_smtp(stage, reply.code, reply.enhanced, reply.text());
  building_.upstream_unhealthy |= c.upstream_unhealthy;
  building_.throttled |= c.throttled;
  rcpt_results_[index] = RecipientResult{recipients_[index], c.outcome, reply.to_string()};
}

void ClientProtocol::end_unanswered(const Reply& reply, Classification c) {
  building_.upstream_unhealthy |= c.upstream_unhealthy;
  building_.throttled |= c.throttled;
  for (size_t i = 0; i < recipients_.size(); ++i) {
    if (!rcpt_results_[i]) rcpt_results_[i] = RecipientResult{recipients_[i], c.outcome, reply.to_string()};
  }
}

Step ClientProtocol::finish_message(Next next) {
  end_unanswered(make_reply(451, "4.3.0", "smarthost: no answer for this recipient"), {Outcome::temporary, false, false});
  building_.recipients.clear();
  for (auto& r : rcpt_results_) building_.recipients.push_back(std::move(*r));
  building_.outcome = combine(building_.recipients);
  if (building_.reply.empty() || building_.outcome != Outcome::delivered) {
    auto failed = std::find_if(building_.recipients.begin(), building_.recipients.end(),
                               [](const RecipientResult& r) { return r.outcome != Outcome::delivered; });
    if (failed != building_.recipients.end()) building_.reply = failed->reply;
    else if (!building_.recipients.empty()) building_.reply = building_.recipients.front().reply;
  }
  result_ = std::move(building_);
  building_ = DeliveryResult{};
  awaiting_.clear();
  to_send_.clear();
  if (next == Next::ready) state_ = State::ready;
  return {{}, next};
}

// The reply to the final dot, or to BDAT LAST.
Step ClientProtocol::on_final_reply(const Reply& reply) {
  stage_ = SmtpStage::data_end;
  if (reply.code == 421) return fail(SmtpStage::data_end, reply);
  // Whatever the reply to the dot, the transaction is over (RFC 5321 4.1.1.4). A refused BDAT leaves it to RSET.
  transaction_clear_ = !chunked_ || reply.positive();
  if (!empty_data_) {
    for (size_t i = 0; i < recipients_.size(); ++i) {
      if (rcpt_accepted_[i] && !rcpt_results_[i]) record_recipient(i, SmtpStage::data_end, reply);
    }
    // After a refused MAIL or every RCPT refused, the BDAT's "503 no valid recipients" says nothing new.
    if (!chunked_ || any_recipient_accepted()) {
      building_.reply = reply.to_string();
      if (reply.positive()) building_.remote_id = remote_id_of(reply);
    }
  }
  return finish_message(Next::ready);
}

Step ClientProtocol::on_transaction_reply(const Reply& reply) {
  if (state_ == State::data_end) return on_final_reply(reply);
  if (awaiting_.empty()) return fail(stage_, reply);
  Pending pending = awaiting_.front();
  awaiting_.pop_front();
  stage_ = pending.stage;
  if (reply.code == 421) return fail(pending.stage, reply);
  if (pending.stage == SmtpStage::data_end) return on_final_reply(reply);

  switch (pending.stage) {
    case SmtpStage::mail:
      if (reply.positive()) {
        mail_ok_ = true;
        // With BDAT the message left with the commands: once MAIL is accepted, the server may end up with it.
        data_ok_ = data_ok_ || chunked_;
      } else {
        for (size_t i = 0; i < recipients_.size(); ++i) record_recipient(i, SmtpStage::mail, reply);
        if (!ext_.pipelining) return finish_message(Next::ready);
      }
      break;
    case SmtpStage::rcpt:
      if (mail_ok_) {
        if (reply.positive()) rcpt_accepted_[pending.rcpt] = true;
        else record_recipient(pending.rcpt, SmtpStage::rcpt, reply);
      }
      break;
    case SmtpStage::data: {
      if (reply.code == 354) {
        if (mail_ok_ && any_recipient_accepted()) {
          data_ok_ = true;
          return {{}, Next::send_body};
        }
        // DATA accepted with nobody to deliver to (RFC 2920 3.1): end it at once with the dot alone.
        empty_data_ = true;
        state_ = State::data_end;
        return {command("."), Next::read_reply};
      }
      for (size_t i = 0; i < recipients_.size(); ++i) {
        if (rcpt_accepted_[i] && !rcpt_results_[i]) record_recipient(i, SmtpStage::data, reply);
      }
      return finish_message(Next::ready);
    }
    default:
      break;
  }
  if (!awaiting_.empty()) return {{}, Next::read_reply};
  if (!to_send_.empty()) {
    // Without PIPELINING, DATA is sent only when some recipient was accepted; a transaction left open here is
    // cleared by the RSET probe before the next message.
    if (to_send_.front().pending.stage == SmtpStage::data && !any_recipient_accepted()) {
      return finish_message(Next::ready);
    }
    return send_next_command();
  }
  return finish_message(Next::ready);
}

Step ClientProtocol::body_sent() {
  if (settings_.trace) trace_.insert(trace_.end(), {std::string("C: <message body>"), std::string("C: .")});
  state_ = State::data_end;
  stage_ = SmtpStage::data_end;
  return {{}, Next::read_reply};
}

}  // namespace smarthost::upstream::smtp
